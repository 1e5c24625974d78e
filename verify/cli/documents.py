"""`verify documents`, `document`, `remove` and `speakers`: what is in the corpus and who said it."""
from __future__ import annotations

import json
import os
from typing import Annotated, Optional

import typer

from verify.cli.common import DbOption, Kind, _corpus, _note, app
from verify.errors import InputError


@app.command()
def documents(
    kind: Annotated[Optional[Kind], typer.Option("--kind", help="only documents of this kind")] = None,
    publisher: Annotated[Optional[str], typer.Option("--publisher", help="publisher contains this")] = None,
    speaker: Annotated[Optional[str], typer.Option("--speaker", help="document speaker contains this")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="published on or after YYYY-MM-DD")] = None,
    search: Annotated[Optional[str], typer.Option("--search", help="title or source file contains this")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None,
):
    """List the documents in the corpus, newest first.

    Example: verify documents --kind official --publisher state
    """
    from verify.pipeline.ingest import normalise_date

    rows = _corpus(db).documents(kind=kind, publisher=publisher, speaker=speaker,
                                 since=normalise_date(since, where="--since"), search=search)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        who = " · ".join(x for x in (r["publisher"], r["speaker"]) if x)
        typer.echo(f"{r['id']:>5}  {r['kind']:<8} {r['published'] or 'undated':<10} {r['sentences']:>5} sentences  "
                   f"{(r['title'] or r['source'] or '')[:60]}" + (f"  ({who})" if who else ""))
    if not rows:
        _note("no documents match")


@app.command()
def document(
    doc_id: Annotated[int, typer.Argument(help="document id (see `verify documents`)")],
    speaker: Annotated[Optional[str], typer.Option("--speaker", help="set who speaks where the text does not say")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="set the publication date, YYYY-MM-DD")] = None,
    publisher: Annotated[Optional[str], typer.Option("--publisher", help="set the publisher")] = None,
    url: Annotated[Optional[str], typer.Option("--url", help="set the source URL")] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="set the title")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="who made the correction [default: $USER]")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None,
):
    """Show a document, or correct its metadata (each change is recorded).

    Example: verify document 3 --speaker "Jen Psaki" --date 2022-01-12
    """
    from verify.pipeline.ingest import check_url, normalise_date

    corpus = _corpus(db)
    changes = {k: v.strip() if isinstance(v, str) else v for k, v in
               {"speaker": speaker, "publisher": publisher, "title": title}.items() if v is not None}
    if date is not None:
        changes["published"] = normalise_date(date, where="--date")
    if url is not None:
        changes["url"] = check_url(url, where="--url")
    if changes:
        from verify.pipeline.attribute import edit_document

        result = edit_document(corpus, doc_id, {k: (v or None) for k, v in changes.items()},
                               by or os.environ.get("USER") or "the desk")
        for field_name, (old, new) in result["changed"].items():
            typer.echo(f"document {doc_id}: {field_name} {old!r} -> {new!r}")
        if not result["changed"]:
            typer.echo(f"document {doc_id}: nothing to change")
        if result["stale"]:
            _note(f"{len(result['stale'])} claim(s) rely on it and are marked stale; "
                  "`verify recheck --all` re-scores them")
        return
    doc = corpus.document(doc_id)
    info = {k: doc[k] for k in ("id", "kind", "title", "url", "publisher", "speaker", "published", "source",
                                "format", "ingested_at", "sha256")}
    info["sentences"] = corpus.sentence_count(doc_id)
    info["relied_on_by_claims"] = corpus.dependent_claims(doc_id)
    info["edits"] = corpus.document_history(doc_id)
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    for k in ("id", "kind", "title", "publisher", "speaker", "published", "url", "source", "ingested_at", "sentences"):
        typer.echo(f"{k:<12} {info[k] if info[k] is not None else '-'}")
    typer.echo(f"{'claims':<12} {len(info['relied_on_by_claims'])} rely on it")
    for e in info["edits"]:
        typer.echo(f"  edited {e['at']} by {e['by']}: {e['field']} {e['old']!r} -> {e['new']!r}")


@app.command()
def remove(
    doc_id: Annotated[int, typer.Argument(help="document id (see `verify documents`)")],
    force: Annotated[bool, typer.Option("--force", help="remove it even though verdicts rely on it")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="who removed it [default: $USER]")] = None,
    db: DbOption = None,
):
    """Take a document out of the corpus (kept for the audit trail; never searched again).

    Example: verify remove 7 --force
    """
    corpus = _corpus(db)
    stale = corpus.remove_document(doc_id, by or os.environ.get("USER") or "the desk", force=force)
    typer.echo(f"document {doc_id} removed")
    if stale:
        _note(f"{len(stale)} claim(s) relied on it and are marked stale; `verify recheck --all` re-scores them")


speakers_app = typer.Typer(help="Who said what: speakers, the side each speaks for, and which side is official.",
                           no_args_is_help=False, invoke_without_command=True)


app.add_typer(speakers_app, name="speakers")


@speakers_app.callback()
def speakers_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None):
    """List speakers with their affiliation, role, how it was found and how many sentences they said.

    Example: verify speakers
    """
    if ctx.invoked_subcommand is not None:
        return
    corpus = _corpus(db)
    rows = corpus.speakers()
    side = corpus.official_side()
    if as_json:
        typer.echo(json.dumps({"official_side": side, "speakers": rows}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"official side: {', '.join(side) if side else 'not set (every speaker counts)'}")
    for r in rows:
        mark = "*" if side and r["affiliation"] in side else " "
        typer.echo(f"{mark} {r['name'][:40]:<40} {r['affiliation'] or '-':<8} {r['sentences']:>5} sentences  "
                   f"{(r['role'] or '')[:40]:<40}  ({r['source']})")


@speakers_app.command("set")
def speakers_set(
    name: Annotated[str, typer.Argument(help="the speaker's name as listed by `verify speakers`")],
    affiliation: Annotated[Optional[str], typer.Option("--affiliation",
                                                       help="the side they speak for, e.g. US; '' to clear")] = None,
    role: Annotated[Optional[str], typer.Option("--role", help="their title, e.g. 'US ambassador to NATO'")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="who made the correction [default: $USER]")] = None,
    db: DbOption = None,
):
    """Correct a speaker's affiliation or role (later ingests never overwrite it).

    Example: verify speakers set "Alexander Grushko" --affiliation Russia
    """
    if affiliation is None and role is None:
        raise InputError("give --affiliation and/or --role")
    corpus = _corpus(db)
    row = corpus.set_speaker(name, affiliation=affiliation.strip() if affiliation else affiliation,
                             role=role, by=by or os.environ.get("USER") or "the desk")
    typer.echo(f"{row['name']}: {row['affiliation'] or 'no affiliation'}"
               + (f" ({row['role']})" if row["role"] else "") + f" \u2014 {row['source']}")


@speakers_app.command("side")
def speakers_side(
    sides: Annotated[Optional[list[str]], typer.Argument(help="affiliations whose statements count, e.g. US NATO")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="no official side: every speaker counts")] = False,
    db: DbOption = None,
):
    """Show or set the official side of this corpus: only its statements decide verdicts.

    Example: verify speakers side US NATO
    """
    corpus = _corpus(db)
    if clear:
        corpus.set_official_side(None)
    elif sides:
        known = {r["affiliation"] for r in corpus.speakers() if r["affiliation"]}
        unknown = [x for x in sides if x not in known]
        if unknown and known:
            _note(f"note: no speaker is affiliated with {', '.join(unknown)} yet (known: {', '.join(sorted(known))})")
        corpus.set_official_side(sides)
    side = corpus.official_side()
    typer.echo(f"official side: {', '.join(side) if side else 'not set (every speaker counts)'}")


@speakers_app.command("reattribute")
def speakers_reattribute(db: DbOption = None):
    """Attribute every stored sentence again (after upgrading verify); nothing is re-embedded.

    Example: verify speakers reattribute && verify recheck --all
    """
    from verify.pipeline.attribute import reattribute

    corpus = _corpus(db)
    n = reattribute(corpus)
    typer.echo(f"{n} sentences changed speaker or attribution")


@app.command("copy")
def copy_cmd(
    source: Annotated[str, typer.Argument(help="the corpus to copy: a corpus.db file or a postgresql:// URL")],
    target: Annotated[str, typer.Argument(help="an empty database to copy it into (a postgresql:// URL, or a new file)")],
    as_json: Annotated[bool, typer.Option("--json")] = False, quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
):
    """Copy a whole corpus into an empty store, and verify it: row counts and digests of every
    table, and the official corpus's fingerprint. Exit 1 if anything differs.

    Example: verify copy corpus.db postgresql://desk@db.internal/verify
    """
    from pathlib import Path

    from verify.cli.common import _Progress
    from verify.store import is_postgres, open_corpus
    from verify.store.copy import TABLES, copy_corpus

    if not is_postgres(source) and not Path(source).is_file():
        raise InputError(f"{source}: no such corpus file")
    src = open_corpus(source)
    dst = open_corpus(target)
    total = sum(src.count(t) for t in TABLES)
    with _Progress("copy", total, quiet) as advance:
        report = copy_corpus(src, dst, progress=advance)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for t in report.tables:
            typer.echo(f"{t.table:<15} {t.source_rows:>9} rows  {t.target_rows:>9} copied  "
                       f"{'ok' if t.ok else 'DIFFERS'}")
        typer.echo(f"official corpus fingerprint {report.source_fingerprint} -> {report.target_fingerprint}: "
                   + ("verified" if report.ok else "COPY DIFFERS"))
    if not report.ok:
        raise typer.Exit(1)
