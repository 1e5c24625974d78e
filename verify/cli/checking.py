"""`verify ingest`, `index`, `check`, `claim`, `explain`, `runs` and `demo`: getting statements in and checking reports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from verify.cli.common import (
    AsOfOption,
    ByOption,
    DbOption,
    FailOnOption,
    Format,
    FormatOption,
    JsonOption,
    KOption,
    NliOption,
    QuietOption,
    Retrieval,
    RetrievalOption,
    SideOption,
    SpeakerOption,
    _checker,
    _corpus,
    _emit,
    _err,
    _note,
    _Progress,
    app,
)
from verify.errors import InputError


@app.command()
def ingest(
    kind: Annotated[str, typer.Argument(help="official (statements to check against) or report (leak reports)")],
    paths: Annotated[list[Path], typer.Argument(help="files (.txt .md .html .jsonl .pdf, scanned images) or directories")],
    speaker: Annotated[Optional[str],
                       typer.Option(help="who made the statements not attributed to anyone in the text")] = None,
    affiliation: Annotated[Optional[str], typer.Option(help="the side --speaker speaks for (e.g. US, NATO)")] = None,
    date: Annotated[Optional[str], typer.Option(help="publication date, YYYY-MM-DD")] = None,
    url: Annotated[Optional[str], typer.Option(help="source URL")] = None,
    title: Annotated[Optional[str], typer.Option(help="document title")] = None,
    publisher: Annotated[Optional[str], typer.Option(help="publishing organisation")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="text encoding if not UTF-8 (e.g. latin-1)")] = None,
    any_language: Annotated[bool, typer.Option("--any-language",
                                               help="ingest text that does not look like English")] = False,
    db: DbOption = None, quiet: QuietOption = False,
):
    """Add documents to the corpus. Identical content is never stored twice.

    Example: verify ingest official briefings/ --publisher "U.S. Department of State"
    """
    from verify.pipeline.ingest import expand_paths, ingest_paths

    corpus = _corpus(db)
    files = list(expand_paths(paths))
    with _Progress("ingest", len(files), quiet) as advance:
        results = ingest_paths(corpus, kind, files, {"speaker": speaker, "date": date, "url": url, "title": title,
                                                     "publisher": publisher, "affiliation": affiliation},
                               encoding=encoding, allow_any_language=any_language, progress=advance)
    if not results:
        raise InputError("no supported files found (.txt .md .html .jsonl .pdf .png .jpg .tif)")
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            _err(r.error)
        else:
            _note(f"{r.status}: {r.source} -> document {r.document_id}, {r.sentences} sentences", quiet)
            if r.note:
                _note(f"  note: {r.note}")
    added = sum(r.created for r in results)
    _note(f"{added} added, {sum(not r.created and not r.error for r in results)} unchanged, {failed} failed", quiet)
    if failed:
        raise typer.Exit(2)


@app.command()
def index(db: DbOption = None, quiet: QuietOption = False):
    """Build or update the vector index of official sentences (FAISS files in embeddings/ beside
    corpus.db; a pgvector table in a PostgreSQL corpus)."""
    from verify.loading import embedder
    from verify.pipeline.index import open_index

    corpus = _corpus(db)
    idx = open_index(corpus, embedder())
    total = corpus.official_sentence_count()
    with _Progress("index", total, quiet) as advance:
        status = idx.ensure(progress=advance)
    typer.echo(f"index {status.action}: {status.count} official sentences, {status.added} added"
               + (f" ({status.reason})" if status.reason else "") + f" -> {idx.location}")


@app.command()
def check(
    report: Annotated[str, typer.Argument(help="a report file to ingest and check, or the id of an ingested report")],
    date: Annotated[Optional[str], typer.Option(help="the report's publication date, YYYY-MM-DD (for a file)")] = None,
    url: Annotated[Optional[str], typer.Option(help="the report's URL (for a file)")] = None,
    title: Annotated[Optional[str], typer.Option(help="the report's title (for a file)")] = None,
    publisher: Annotated[Optional[str], typer.Option(help="the report's publisher (for a file)")] = None,
    fmt: FormatOption = Format.table, fail_on: FailOnOption = None, k: KOption = 5, nli_model: NliOption = None,
    retrieval: RetrievalOption = Retrieval.hybrid, speaker: SpeakerOption = None, as_of: AsOfOption = None,
    side: SideOption = None,
    any_language: Annotated[bool, typer.Option("--any-language",
                                               help="ingest a report that does not look like English")] = False,
    as_json: JsonOption = False, db: DbOption = None, quiet: QuietOption = False, by: ByOption = None,
):
    """Check every claim in a leak report against the official corpus.

    Example: verify check leak.md --date 2022-02-02 --fail-on contradictory
    """
    fmt = "json" if as_json else fmt
    corpus = _corpus(db, by)
    doc_ids = _report_ids(corpus, report, {"date": date, "url": url, "title": title, "publisher": publisher}, quiet,
                          any_language)
    checker = _checker(corpus, nli_model, k, quiet, retrieval, speaker, as_of, side)
    total = sum(checker.count_claims(d) for d in doc_ids)
    with _Progress("check", total, quiet) as advance:
        run = checker.check_documents(doc_ids, progress=advance)
    _emit(run, fmt, fail_on)


def _report_ids(corpus, report: str, meta: dict, quiet: bool, any_language: bool = False) -> list[int]:
    from verify.pipeline.ingest import ingest_paths

    if report.isdigit() and not Path(report).exists():
        doc = corpus.document(int(report))
        if doc["kind"] != "report":
            raise InputError(f"document {report} is an official statement, not a report")
        return [doc["id"]]
    results = ingest_paths(corpus, "report", [report], meta, allow_any_language=any_language)
    if not results:
        raise InputError(f"{report}: no supported files found")
    for r in results:
        if r.error:
            raise InputError(r.error)
    for r in results:
        _note(f"report {r.status}: document {r.document_id}, {r.sentences} sentences", quiet)
    return list(dict.fromkeys(r.document_id for r in results))


@app.command()
def claim(
    text: Annotated[str, typer.Argument(help="the claim to check, in quotes")],
    fmt: FormatOption = Format.table, fail_on: FailOnOption = None, k: KOption = 5, nli_model: NliOption = None,
    retrieval: RetrievalOption = Retrieval.hybrid, speaker: SpeakerOption = None, as_of: AsOfOption = None,
    side: SideOption = None,
    save: Annotated[bool, typer.Option("--save",
                                       help="keep the claim and its verdict (for explain, export, recheck)")] = False,
    as_json: JsonOption = False, db: DbOption = None, quiet: QuietOption = False, by: ByOption = None,
):
    """Check a single claim typed on the command line (scratch work unless --save).

    Example: verify claim "NATO offered to reopen its office in Moscow" --speaker Stoltenberg
    """
    fmt = "json" if as_json else fmt
    from verify.pipeline.claims import validate_claim_text

    validate_claim_text(text)  # before loading any model
    corpus = _corpus(db, by)
    run = _checker(corpus, nli_model, k, quiet, retrieval, speaker, as_of, side).check_text(text, save=save)
    if not save:
        _note("not saved: exports, rechecks and diffs will not see it (--save keeps it)", quiet)
    _emit(run, fmt, fail_on)


@app.command()
def explain(
    claim_id: Annotated[int, typer.Argument(help="claim id, as shown by check")],
    run: Annotated[Optional[int], typer.Option(help="a specific run [default: the latest]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    db: DbOption = None,
):
    """Show the full evidence trail behind one claim's verdict.

    Example: verify explain 12 --json
    """
    from verify.outputs.render import render_explain
    from verify.pipeline.check import evidence_trail

    trail = evidence_trail(_corpus(db), claim_id, run)
    typer.echo(render_explain(trail, "json" if as_json else "text"))


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="where to build the demo corpus")] = Path("demo/corpus.db"),
    fmt: FormatOption = Format.table, nli_model: NliOption = None, quiet: QuietOption = False,
):
    """Build a small corpus from the bundled demo statements and check the bundled leak report."""
    from verify.cli.demo import DEMO_DIR

    corpus = _corpus(db)
    from verify.pipeline.ingest import ingest_paths

    for r in ingest_paths(corpus, "official", [DEMO_DIR / "official.jsonl"]):
        if r.error:
            raise InputError(r.error)
    # The leaked replies are the US's and NATO's: their statements are the official side.
    corpus.set_official_side(["US", "NATO"])
    _note(f"demo corpus: {corpus.document_count('official')} official statements in {db}", quiet)
    doc_ids = _report_ids(corpus, str(DEMO_DIR / "leak_report.md"), {"date": "2022-02-02"}, quiet)
    checker = _checker(corpus, nli_model, 5, quiet)
    run = checker.check_documents(doc_ids)
    _emit(run, fmt, None)
    _note(f"next: verify explain {run.results[0].claim_id} --db {db}", quiet)


@app.command()
def runs(db: DbOption = None, limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
         as_json: Annotated[bool, typer.Option("--json")] = False):
    """List check runs, newest first."""
    corpus = _corpus(db)
    summaries = corpus.run_summaries(limit)
    if as_json:
        typer.echo(json.dumps(summaries, indent=2))
        return
    for d in summaries:
        typer.echo(f"{d['id']:>5}  {d['started_at']}  {d['status']:<7} {d['claims']:>4} claims: "
                   f"{d['consistent'] or 0} consistent, {d['novel'] or 0} novel, {d['contradictory'] or 0} "
                   f"contradictory  nli={d['nli_model'] or 'none'}" + (f"  by {d['by']}" if d["by"] else ""))
