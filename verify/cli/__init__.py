"""The `verify` command line: a thin shell over the library.

It parses arguments, shows progress on a terminal, formats results, and turns named
errors into one line on stderr with a non-zero exit (never a traceback).
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Optional

import typer

from verify.errors import InputError, VerifyError

app = typer.Typer(
    help="Check leak reports, claim by claim, against official public statements.\n\n"
         "Example:\n\n  verify ingest official statements/\n\n  verify check leak.md --date 2022-02-02",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich's markdown renderer costs ~0.2 s per call
    context_settings={"help_option_names": ["-h", "--help"]},
)

DB = typer.Option(None, "--db", envvar="VERIFY_DB", help="corpus database [default: ./corpus.db]")
NLI = typer.Option(None, "--nli-model", envvar="VERIFY_NLI_MODEL",
                   help="local NLI model directory, or 'none' for similarity only [default: the shipped model]")
QUIET = typer.Option(False, "--quiet", "-q", help="no progress output")
FORMAT = typer.Option("table", "--format", "-f", help="table, json, jsonl, csv or markdown")
JSON = typer.Option(False, "--json", help="same as --format json")
FAIL_ON = typer.Option(None, "--fail-on", help="exit 1 if any claim gets this label (contradictory, novel, consistent)")
K = typer.Option(5, "--k", "-k", min=1, max=100, help="official sentences retrieved per claim")
RETRIEVAL = typer.Option("hybrid", "--retrieval", help="hybrid (dense + lexical), dense or lexical")
SPEAKER = typer.Option(None, "--speaker", help="only statements by this speaker (case-insensitive substring)")
AS_OF = typer.Option(None, "--as-of", help="only statements dated on or before YYYY-MM-DD")
SIDE = typer.Option(None, "--side", help="affiliations whose statements count as official evidence, comma-separated "
                    "(e.g. US,NATO), or 'any' [default: the corpus setting, see `verify speakers side`]")


def _corpus(db: Optional[Path]):
    from verify.store.corpus import Corpus, default_db_path

    said = set()

    def waiting(seconds: float) -> None:
        if int(seconds) not in said:  # once a second at most
            said.add(int(seconds))
            typer.echo(f"waiting for another verify process ({seconds:.0f} s)\u2026", err=True)

    return Corpus(db or default_db_path(), on_wait=waiting)


def _err(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)


def _note(msg: str, quiet: bool = False) -> None:
    if not quiet:
        typer.echo(msg, err=True)


def _use_color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class _Progress:
    """Progress on stderr unless --quiet: a rich bar on a terminal; elsewhere (a log, a
    pipe) a line every ``LOG_EVERY`` seconds with the count and the time left."""

    LOG_EVERY = 10.0

    def __init__(self, label: str, total: int, quiet: bool):
        import time

        self.bar = None
        self.label, self.total, self.done = label, total, 0
        self.start = self.last = time.monotonic()
        self.log = not quiet and not sys.stderr.isatty() and total > 0
        if quiet or not sys.stderr.isatty() or total <= 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR"))), transient=True)
        self.task = self.bar.add_task(label, total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self.advance

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.advance(self.task, n)
        elif self.log:
            import time

            self.done += n
            now = time.monotonic()
            if now - self.last >= self.LOG_EVERY and self.done < self.total:
                self.last = now
                left = (now - self.start) / self.done * (self.total - self.done)
                typer.echo(f"{self.label}: {self.done:,.0f}/{self.total:,} ({100 * self.done / self.total:.0f}%), "
                           f"about {_duration(left)} left", err=True)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _check_fmt(fmt: str) -> None:
    from verify.outputs.render import FORMATS

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _check_fail_on(label: Optional[str]) -> None:
    from verify.pipeline.verdict import LABELS

    if label and label not in LABELS:
        raise InputError(f"--fail-on takes one of {', '.join(LABELS)}, not {label!r}")


def _side(value: Optional[str]):
    """--side: None (the corpus setting), [] for any, or the named affiliations."""
    if value is None:
        return "auto"
    sides = [x.strip() for x in value.split(",") if x.strip()]
    return None if not sides or [x.lower() for x in sides] == ["any"] else sides


def _checker(corpus, nli_model, k, quiet, retrieval="hybrid", speaker=None, as_of=None, side=None):
    from verify.pipeline.check import Checker
    from verify.pipeline.ingest import normalise_date
    from verify.pipeline.retrieve import Scope

    scope = Scope(speaker=speaker, as_of=normalise_date(as_of, where="--as-of"))
    checker = Checker(corpus, nli="auto" if nli_model is None else _nli(nli_model), k=k,
                      retrieval=retrieval, scope=scope, side=_side(side))
    if checker.nli is None:
        _note("note: no NLI model; checking by similarity only (never says contradictory)", quiet)
    if checker.scope.side:
        _note(f"official side: {', '.join(checker.scope.side)} (others are shown, never decisive)", quiet)
    elif side is None:
        _note("note: no official side set, so statements of every speaker count; "
              "set one with `verify speakers side US NATO`", quiet)
    pending = corpus.official_sentence_count()
    with _Progress("index", pending, quiet) as advance:
        status = checker.ensure_index(progress=advance)
    if status.action != "loaded":
        _note(f"index {status.action}: {status.count} official sentences"
              + (f" ({status.reason})" if status.reason else ""), quiet)
    return checker


def _nli(spec: str):
    from verify.loading import nli

    return nli(spec)


def _emit(run, fmt: str, fail_on: Optional[str]) -> None:
    from verify.outputs.render import render_run

    typer.echo(render_run(run, fmt, color=_use_color()))
    if fail_on and any(r.verdict.label == fail_on for r in run.results):
        n = sum(r.verdict.label == fail_on for r in run.results)
        _note(f"{n} claim(s) labelled {fail_on}: failing as asked by --fail-on")
        raise typer.Exit(1)


@app.command()
def ingest(
    kind: str = typer.Argument(..., help="official (statements to check against) or report (leak reports)"),
    paths: list[Path] = typer.Argument(..., help="files (.txt .md .html .jsonl .pdf, scanned images) or directories"),
    speaker: Optional[str] = typer.Option(None, help="who made the statements not attributed to anyone in the text"),
    affiliation: Optional[str] = typer.Option(None, help="the side --speaker speaks for (e.g. US, NATO)"),
    date: Optional[str] = typer.Option(None, help="publication date, YYYY-MM-DD"),
    url: Optional[str] = typer.Option(None, help="source URL"),
    title: Optional[str] = typer.Option(None, help="document title"),
    publisher: Optional[str] = typer.Option(None, help="publishing organisation"),
    encoding: Optional[str] = typer.Option(None, help="text encoding if not UTF-8 (e.g. latin-1)"),
    any_language: bool = typer.Option(False, "--any-language", help="ingest text that does not look like English"),
    db: Optional[Path] = DB, quiet: bool = QUIET,
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
def index(db: Optional[Path] = DB, quiet: bool = QUIET):
    """Build or update the FAISS index of official sentences in embeddings/."""
    from verify.loading import embedder
    from verify.pipeline.index import VectorIndex

    corpus = _corpus(db)
    idx = VectorIndex(corpus, embedder())
    total = corpus.official_sentence_count()
    with _Progress("index", total, quiet) as advance:
        status = idx.ensure(progress=advance)
    typer.echo(f"index {status.action}: {status.count} official sentences, {status.added} added"
               + (f" ({status.reason})" if status.reason else "") + f" -> {idx.path}")


@app.command()
def check(
    report: str = typer.Argument(..., help="a report file to ingest and check, or the id of an ingested report"),
    date: Optional[str] = typer.Option(None, help="the report's publication date, YYYY-MM-DD (for a file)"),
    url: Optional[str] = typer.Option(None, help="the report's URL (for a file)"),
    title: Optional[str] = typer.Option(None, help="the report's title (for a file)"),
    publisher: Optional[str] = typer.Option(None, help="the report's publisher (for a file)"),
    fmt: str = FORMAT, fail_on: Optional[str] = FAIL_ON, k: int = K, nli_model: Optional[str] = NLI,
    retrieval: str = RETRIEVAL, speaker: Optional[str] = SPEAKER, as_of: Optional[str] = AS_OF,
    side: Optional[str] = SIDE,
    any_language: bool = typer.Option(False, "--any-language", help="ingest a report that does not look like English"),
    as_json: bool = JSON, db: Optional[Path] = DB, quiet: bool = QUIET,
):
    """Check every claim in a leak report against the official corpus.

    Example: verify check leak.md --date 2022-02-02 --fail-on contradictory
    """
    fmt = "json" if as_json else fmt
    _check_fmt(fmt)
    _check_fail_on(fail_on)
    corpus = _corpus(db)
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
    text: str = typer.Argument(..., help="the claim to check, in quotes"),
    fmt: str = FORMAT, fail_on: Optional[str] = FAIL_ON, k: int = K, nli_model: Optional[str] = NLI,
    retrieval: str = RETRIEVAL, speaker: Optional[str] = SPEAKER, as_of: Optional[str] = AS_OF,
    side: Optional[str] = SIDE,
    save: bool = typer.Option(False, "--save", help="keep the claim and its verdict (for explain, export, recheck)"),
    as_json: bool = JSON, db: Optional[Path] = DB, quiet: bool = QUIET,
):
    """Check a single claim typed on the command line (scratch work unless --save).

    Example: verify claim "NATO offered to reopen its office in Moscow" --speaker Stoltenberg
    """
    fmt = "json" if as_json else fmt
    _check_fmt(fmt)
    _check_fail_on(fail_on)
    from verify.pipeline.claims import validate_claim_text

    validate_claim_text(text)  # before loading any model
    corpus = _corpus(db)
    run = _checker(corpus, nli_model, k, quiet, retrieval, speaker, as_of, side).check_text(text, save=save)
    if not save:
        _note("not saved: exports, rechecks and diffs will not see it (--save keeps it)", quiet)
    _emit(run, fmt, fail_on)


@app.command()
def explain(
    claim_id: int = typer.Argument(..., help="claim id, as shown by check"),
    run: Optional[int] = typer.Option(None, help="a specific run [default: the latest]"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    db: Optional[Path] = DB,
):
    """Show the full evidence trail behind one claim's verdict.

    Example: verify explain 12 --json
    """
    from verify.outputs.render import render_explain
    from verify.pipeline.check import evidence_trail

    trail = evidence_trail(_corpus(db), claim_id, run)
    typer.echo(render_explain(trail, "json" if as_json else "text"))


@app.command("eval")
def eval_cmd(
    claims: Path = typer.Argument(..., help="labelled claims JSONL (see README: evaluation format)"),
    pool: Optional[Path] = typer.Option(None, help="pool JSONL of official sentences [default: the claims' evidence]"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    limit: Optional[int] = typer.Option(None, help="only the first N claims"),
    per_claim: bool = typer.Option(False, "--per-claim", help="also each claim's gold and predicted label and evidence"),
    k: int = K, nli_model: Optional[str] = NLI, retrieval: str = RETRIEVAL, quiet: bool = QUIET,
):
    """Measure verdict quality on labelled claims: accuracy, macro-F1, confusion, recall@5.

    Example: verify eval ../shared/eval/vitaminc_dev.jsonl --json
    """
    from verify.quality.evaluate import evaluate, read_jsonl

    n = len(read_jsonl(claims, ("claim", "label")))
    nli = "auto" if nli_model is None else _nli(nli_model)
    with _Progress("eval", min(n, limit or n), quiet) as advance:
        result = evaluate(str(claims), str(pool) if pool else None, nli=nli, k=k, limit=limit, progress=advance,
                          retrieval=retrieval, per_claim=per_claim)
    for w in result["warnings"]:
        _note(f"warning: {w}")
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"{result['file']}: n={result['n']} skipped={result['skipped']} pool={result['pool']} "
               f"mode={result['mode']} nli={result['nli_model']}")
    typer.echo(f"accuracy {result['accuracy']:.3f}  macro-F1 {result['macro_f1']:.3f}  "
               f"evidence recall@5 {result['recall_at_5']}  (dense {result['recall_at_5_by_retrieval']['dense']}, "
               f"lexical {result['recall_at_5_by_retrieval']['lexical']}, "
               f"hybrid {result['recall_at_5_by_retrieval']['hybrid']})")
    for lab, m in result["per_label"].items():
        typer.echo(f"  {lab:<14} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  n {m['support']}")
    typer.echo("confusion (rows gold, columns predicted: consistent novel contradictory)")
    for lab, row in result["confusion"].items():
        typer.echo(f"  {lab:<14} " + " ".join(f"{v:>5}" for v in row.values()))
    flagged, unflagged = result["accuracy_needs_review"], result["accuracy_unflagged"]
    typer.echo(f"contradiction precision {result['contradiction_precision']:.3f}; "
               f"{result['needs_review']} of {result['n']} verdicts flagged needs review"
               + (f" (accuracy {flagged:.3f} flagged, {unflagged:.3f} unflagged)"
                  if flagged is not None and unflagged is not None else ""))
    for c in result.get("claims", []):
        mark = "ok " if c["right"] else "BAD"
        typer.echo(f"{mark} {c['id']}: gold {c['gold']}, predicted {c['predicted']} {c['score']:.2f}"
                   + (f" (needs review: {c['needs_review']})" if c["needs_review"] else "") + f"  {c['claim'][:100]}")
        if c["evidence"]:
            e = c["evidence"]
            typer.echo(f"      evidence (similarity {e['similarity']:.2f}): {e['text'][:140]}")


@app.command()
def calibrate(
    claims: list[Path] = typer.Argument(..., help="labelled claims JSONL files (eval format)"),
    limit: Optional[int] = typer.Option(None, help="only the first N claims of each file"),
    save_default: bool = typer.Option(False, "--save-default",
                                      help="also write verify/calibration.json (the shipped default)"),
    as_json: bool = typer.Option(False, "--json", help="print the whole record"),
    k: int = K, nli_model: Optional[str] = NLI, db: Optional[Path] = DB, quiet: bool = QUIET,
):
    """Fit decision thresholds and score calibration on labelled claims; store them in the corpus.

    Later checks on this corpus use the newest calibration for their NLI model.

    Example: verify calibrate ../shared/eval/vitaminc_dev.jsonl ../shared/eval/climate_fever_dev.jsonl
    """
    from verify.pipeline.thresholds import SHIPPED
    from verify.quality.calibrate import calibrate as fit
    from verify.quality.evaluate import read_jsonl

    n = sum(min(len(read_jsonl(c, ("claim", "label"))), limit or 10**9) for c in claims)
    nli = "auto" if nli_model is None else _nli(nli_model)
    with _Progress("calibrate", n, quiet) as advance:
        record = fit([str(c) for c in claims], nli=nli, k=k, limit=limit, progress=advance)
    cid = _corpus(db).store_calibration(record)
    if save_default:
        SHIPPED.write_text(json.dumps(record, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    b, a = record["metrics"]["before"], record["metrics"]["after"]
    typer.echo(f"calibration {cid} on {record['n']} claims (NLI {record['provenance']['nli_model'] or 'none'})")
    typer.echo(f"thresholds: {json.dumps(record['thresholds'])}")
    typer.echo(f"macro-F1 {b['macro_f1']:.3f} -> {a['macro_f1']:.3f}; accuracy {b['accuracy']:.3f} -> "
               f"{a['accuracy']:.3f}; ECE {a['ece_raw']} raw -> {a['ece']} calibrated")


@app.command()
def demo(
    db: Path = typer.Option(Path("demo/corpus.db"), "--db", help="where to build the demo corpus"),
    fmt: str = FORMAT, nli_model: Optional[str] = NLI, quiet: bool = QUIET,
):
    """Build a small corpus from the bundled demo statements and check the bundled leak report."""
    from verify.cli.demo import DEMO_DIR

    _check_fmt(fmt)
    corpus = _corpus(db)
    from verify.pipeline.ingest import ingest_paths

    for r in ingest_paths(corpus, "official", [DEMO_DIR / "official.jsonl"]):
        if r.error:
            raise InputError(r.error)
    # The leaked replies are the US's and NATO's: their statements are the official side.
    corpus.set_official_side(["US", "NATO"])
    _note(f"demo corpus: {corpus.count('documents', 'kind = ?', ['official'])} official statements in {db}", quiet)
    doc_ids = _report_ids(corpus, str(DEMO_DIR / "leak_report.md"), {"date": "2022-02-02"}, quiet)
    checker = _checker(corpus, nli_model, 5, quiet)
    run = checker.check_documents(doc_ids)
    _emit(run, fmt, None)
    _note(f"next: verify explain {run.results[0].claim_id} --db {db}", quiet)


@app.command()
def runs(db: Optional[Path] = DB, limit: int = typer.Option(20, help="how many, newest first"),
         as_json: bool = typer.Option(False, "--json")):
    """List check runs, newest first."""
    corpus = _corpus(db)
    summaries = corpus.run_summaries(limit)
    if as_json:
        typer.echo(json.dumps(summaries, indent=2))
        return
    for d in summaries:
        typer.echo(f"{d['id']:>5}  {d['started_at']}  {d['status']:<7} {d['claims']:>4} claims: "
                   f"{d['consistent'] or 0} consistent, {d['novel'] or 0} novel, {d['contradictory'] or 0} "
                   f"contradictory  nli={d['nli_model'] or 'none'}")


@app.command()
def report(
    report_id: str = typer.Argument(..., help="id of a checked report"),
    html: Path = typer.Option(..., "--html", help="output file (one self-contained page)"),
    db: Optional[Path] = DB,
):
    """Write an HTML report for editors: highlighted claims, verdicts, evidence side by side.

    Example: verify report 5 --html leak-check.html
    """
    from verify.outputs.export import html_report

    if not report_id.isdigit():
        raise InputError(f"{report_id!r} is not a report id (see `verify runs` or the check output)")
    page = html_report(_corpus(db), int(report_id))
    _write(html, page)
    typer.echo(f"wrote {html}")


def _write(path: Path, text: str) -> None:
    from verify.util import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror or e})") from None


@app.command("export")
def export_cmd(
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl, csv, markdown or claimreview (schema.org JSON-LD)"),
    report_id: Optional[int] = typer.Option(None, "--report", help="only this report's claims"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="file to write [default: stdout]"),
    desk: Optional[str] = typer.Option(None, "--desk", envvar="VERIFY_DESK",
                                       help="claimreview: the organisation publishing the reviews (their author)"),
    desk_url: Optional[str] = typer.Option(None, "--desk-url", envvar="VERIFY_DESK_URL",
                                           help="claimreview: the page the reviews appear on"),
    include_unreviewed: bool = typer.Option(False, "--include-unreviewed",
                                            help="claimreview: also machine verdicts no one reviewed, marked as such"),
    db: Optional[Path] = DB,
):
    """Export the latest verdict of every claim.

    claimreview is for publication: the desk's reviews only, unless --include-unreviewed.

    Example: verify export --format claimreview --report 5 --desk "The Desk" --desk-url https://desk.example/leak
    """
    from verify.outputs.export import Desk, claimreview_summary, export
    from verify.pipeline.ingest import check_url

    corpus = _corpus(db)
    if report_id is not None:
        corpus.document(report_id)
    desk_info = Desk(desk.strip(), check_url(desk_url, where="--desk-url")) if desk and desk.strip() else None
    text = export(corpus, fmt, report_id, desk=desk_info, include_unreviewed=include_unreviewed)
    if fmt == "claimreview":
        _note(claimreview_summary(corpus, report_id, include_unreviewed))
    if output:
        _write(output, text + "\n")
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text)


@app.command()
def recheck(
    reports: Optional[list[str]] = typer.Argument(None, help="report ids to recheck [default: with --all, every claim]"),
    all_claims: bool = typer.Option(False, "--all", help="recheck every stored claim"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown"),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="exit 1 only if a claim drifts to this label"),
    wait: float = typer.Option(0, "--wait", help="seconds to wait if another recheck holds the corpus"),
    exhaustive: bool = typer.Option(False, "--exhaustive", help="retrieve every claim again, not only those "
                                    "a new statement can reach (slower; equals a fresh check)"),
    k: int = K, nli_model: Optional[str] = NLI, retrieval: str = RETRIEVAL,
    db: Optional[Path] = DB, quiet: bool = QUIET,
):
    """Recheck stored claims as the official corpus grows; report what changed and why.

    Only claims a new statement enters the evidence of are re-scored. Exit codes: 0 nothing changed,
    1 verdicts changed (or, with --fail-on, a claim drifted to that label), 2 the run failed.

    Example: verify recheck --all --format markdown > drift-$(date +%F).md
    """
    from verify.pipeline.nli import nli_model_id
    from verify.pipeline.recheck import corpus_lock, current_setup
    from verify.pipeline.recheck import recheck as run_recheck

    if fmt not in ("table", "json", "markdown"):
        raise InputError(f"unknown format {fmt!r}; use table, json or markdown")
    _check_fail_on(fail_on)
    if not reports and not all_claims:
        raise InputError("name report ids to recheck, or pass --all")
    corpus = _corpus(db)
    claim_ids = None
    if reports:
        claim_ids = []
        for r in reports:
            if not r.isdigit():
                raise InputError(f"{r!r} is not a report id")
            corpus.document(int(r))
            claim_ids += corpus.claim_ids(int(r))
    setup = current_setup(corpus, nli_model_id(nli_model), k, retrieval)
    total = len(claim_ids) if claim_ids is not None else len(corpus.live_claim_ids())
    with corpus_lock(corpus.path, wait), _Progress("recheck", total, quiet) as advance:
        result = run_recheck(corpus, lambda: _checker(corpus, nli_model, k, quiet, retrieval), claim_ids,
                             setup=setup, progress=advance, exhaustive=exhaustive)
    typer.echo(_render_drift(result, fmt))
    if fail_on:
        hit = any(d.new_label == fail_on for d in result.drift)
    else:
        hit = bool(result.drift)
    raise typer.Exit(1 if hit else 0)


def _render_drift(result, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
    head = (f"recheck run {result.run_id}: {result.claims} claims, {result.rescored} re-scored, "
            f"{result.carried} carried forward, {result.new_sentences} new official sentences, "
            f"{len(result.drift)} changed" + ("" if result.model_loaded else " (no model work needed)"))
    lines = [f"## {head}" if fmt == "markdown" else head]
    if fmt == "markdown" and result.drift:
        lines += ["", "| claim | was | now | caused by | review |", "|---|---|---|---|---|"]
    for d in result.drift:
        cause = "; ".join(f"\u201c{c['text']}\u201d ({c.get('speaker') or c.get('title') or 'doc ' + str(c['document_id'])}"
                          f"{', ' + c['date'] if c.get('date') else ''})" for c in d.causes) \
            or d.stale or "re-scored (new models, thresholds or official side)"
        was = f"{d.old_label} {d.old_score:.2f}" if d.old_label else "unchecked"
        review = ""
        if d.review:
            review = f"human: {d.review['label']}" + (
                " \u2014 DISAGREES with the new machine verdict" if d.against_review else "")
        if fmt == "markdown":
            lines.append(f"| {d.claim_id}: {d.text} | {was} | {d.new_label} {d.new_score:.2f} | {cause} | {review} |")
        else:
            lines.append(f"  claim {d.claim_id}: {was} -> {d.new_label} {d.new_score:.2f}  {d.text}")
            lines.append(f"      caused by: {cause}")
            if review:
                lines.append(f"      {review}")
    return "\n".join(lines)


@app.command()
def diff(run_a: int = typer.Argument(..., help="earlier run id"), run_b: int = typer.Argument(..., help="later run id"),
         as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DB):
    """Compare the verdicts of two runs, claim by claim.

    Example: verify diff 3 7
    """
    corpus = _corpus(db)
    corpus.run(run_a), corpus.run(run_b)
    rows = corpus.run_diff(run_a, run_b)
    from verify.pipeline.recheck import SCORE_LINE

    changed = [r for r in rows if r[2] != r[4] or (r[3] is not None and r[5] is not None
                                                  and (r[3] >= SCORE_LINE) != (r[5] >= SCORE_LINE))]
    if as_json:
        keys = ["claim_id", "text", "label_a", "score_a", "label_b", "score_b"]
        typer.echo(json.dumps({"run_a": run_a, "run_b": run_b, "claims": len(rows),
                               "changed": [dict(zip(keys, r)) for r in changed]}, indent=2))
        return
    typer.echo(f"runs {run_a} -> {run_b}: {len(rows)} claims, {len(changed)} changed")
    for cid, text, la, sa, lb, sb in changed:
        fa = f"{la} {sa:.2f}" if la else "absent"
        fb = f"{lb} {sb:.2f}" if lb else "absent"
        typer.echo(f"  claim {cid}: {fa} -> {fb}  {text[:90]}")


@app.command()
def history(claim_id: int = typer.Argument(..., help="claim id"), as_json: bool = typer.Option(False, "--json"),
            db: Optional[Path] = DB):
    """A claim's verdicts over time, with human reviews.

    Example: verify history 12
    """
    corpus = _corpus(db)
    claim = corpus.claim(claim_id)
    verdicts = corpus.verdict_history(claim_id)
    reviews = corpus.reviews(claim_id)
    if as_json:
        typer.echo(json.dumps({"claim": claim, "verdicts": verdicts, "reviews": reviews}, indent=2))
        return
    typer.echo(f"claim {claim_id}: {claim['text']}")
    for v in verdicts:
        typer.echo(f"  run {v['run_id']:>4} {v['at']}  {v['label']:<13} {v['score']:.2f}  {v['reason']}")
    for r in reviews:
        typer.echo(f"  review {r['at']} by {r['by']}: {r['label']} (machine said {r['machine_label']}) \u2014 {r['note']}")


@app.command()
def review(
    claim_id: int = typer.Argument(..., help="claim id"),
    label: str = typer.Option(..., "--label", help="consistent, novel, contradictory or unsure"),
    note: str = typer.Option(..., "--note", help="why: the desk's reasoning, sources"),
    by: Optional[str] = typer.Option(None, "--by", help="who reviewed [default: $USER]"),
    db: Optional[Path] = DB,
):
    """Record a desk's judgement of a claim (append-only: the audit trail).

    Example: verify review 12 --label consistent --note "confirmed by spokesman, 3 Feb" --by ana
    """
    if label not in ("consistent", "novel", "contradictory", "unsure"):
        raise InputError(f"--label must be consistent, novel, contradictory or unsure, not {label!r}")
    if not note.strip():
        raise InputError("--note must say why")
    corpus = _corpus(db)
    rid = corpus.add_review(claim_id, label, note.strip(), by or os.environ.get("USER") or "unknown")
    r = corpus.latest_review(claim_id)
    typer.echo(f"review {rid} recorded for claim {claim_id}: {label} (machine: {r['machine_label'] or 'not checked'})")


@app.command()
def documents(
    kind: Optional[str] = typer.Option(None, "--kind", help="official, report or removed"),
    publisher: Optional[str] = typer.Option(None, "--publisher", help="publisher contains this"),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="document speaker contains this"),
    since: Optional[str] = typer.Option(None, "--since", help="published on or after YYYY-MM-DD"),
    search: Optional[str] = typer.Option(None, "--search", help="title or source file contains this"),
    as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DB,
):
    """List the documents in the corpus, newest first.

    Example: verify documents --kind official --publisher state
    """
    from verify.pipeline.ingest import normalise_date

    if kind and kind not in ("official", "report", "removed"):
        raise InputError(f"--kind takes official, report or removed, not {kind!r}")
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
    doc_id: int = typer.Argument(..., help="document id (see `verify documents`)"),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="set who speaks where the text does not say"),
    date: Optional[str] = typer.Option(None, "--date", help="set the publication date, YYYY-MM-DD"),
    publisher: Optional[str] = typer.Option(None, "--publisher", help="set the publisher"),
    url: Optional[str] = typer.Option(None, "--url", help="set the source URL"),
    title: Optional[str] = typer.Option(None, "--title", help="set the title"),
    by: Optional[str] = typer.Option(None, "--by", help="who made the correction [default: $USER]"),
    as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DB,
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
    info["sentences"] = corpus.count("sentences", "document_id = ?", [doc_id])
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
    doc_id: int = typer.Argument(..., help="document id (see `verify documents`)"),
    force: bool = typer.Option(False, "--force", help="remove it even though verdicts rely on it"),
    by: Optional[str] = typer.Option(None, "--by", help="who removed it [default: $USER]"),
    db: Optional[Path] = DB,
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
def speakers_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json"), db: Optional[Path] = DB):
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
    name: str = typer.Argument(..., help="the speaker's name as listed by `verify speakers`"),
    affiliation: Optional[str] = typer.Option(None, "--affiliation", help="the side they speak for, e.g. US; '' to clear"),
    role: Optional[str] = typer.Option(None, "--role", help="their title, e.g. 'US ambassador to NATO'"),
    by: Optional[str] = typer.Option(None, "--by", help="who made the correction [default: $USER]"),
    db: Optional[Path] = DB,
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
    sides: Optional[list[str]] = typer.Argument(None, help="affiliations whose statements count, e.g. US NATO"),
    clear: bool = typer.Option(False, "--clear", help="no official side: every speaker counts"),
    db: Optional[Path] = DB,
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
def speakers_reattribute(db: Optional[Path] = DB):
    """Attribute every stored sentence again (after upgrading verify); nothing is re-embedded.

    Example: verify speakers reattribute && verify recheck --all
    """
    from verify.pipeline.attribute import reattribute

    corpus = _corpus(db)
    n = reattribute(corpus)
    typer.echo(f"{n} sentences changed speaker or attribution")


@app.command()
def version():
    """Print verify's version."""
    from verify import __version__

    typer.echo(f"verify {__version__}")


def main() -> None:
    try:
        app()
    except VerifyError as e:
        _err(str(e))
        sys.exit(e.exit_code)
    except sqlite3.OperationalError as e:
        _err(f"database: {e}" + (" (another verify process holds it; try again)" if "locked" in str(e) else ""))
        sys.exit(2)
    except sqlite3.DatabaseError as e:
        _err(f"database damaged or not a verify corpus: {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        _err("interrupted; nothing half-written was kept")
        sys.exit(130)
    except SystemExit as e:  # typer turns Ctrl-C into a silent exit 130
        if e.code == 130:
            _err("interrupted; nothing half-written was kept")
        raise
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug: still one line, and the details on request
        if os.environ.get("VERIFY_DEBUG"):
            raise
        _err(f"unexpected {type(e).__name__}: {e} (set VERIFY_DEBUG=1 for details)")
        sys.exit(2)
