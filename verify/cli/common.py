"""What every command shares: the typer app, common options, the corpus opener, messages,
progress, and the checker the commands build."""
from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated, Optional

import typer

from verify.outputs.render import FORMATS
from verify.pipeline.verdict import LABELS


# The choices an option takes: typer checks them and lists them in --help and in the error.
# Made from the library's own lists where importing them costs nothing at start-up (render and
# verdict are plain Python); tests/test_cli.py holds the others to their library twins.
def _choices(name: str, values) -> type[StrEnum]:
    return StrEnum(name, [(v, v) for v in values])


Format = _choices("Format", FORMATS)
Label = _choices("Label", LABELS)
ReviewLabel = _choices("ReviewLabel", [*LABELS, "unsure"])


class DriftFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    markdown = "markdown"
    claimreview = "claimreview"


class Kind(StrEnum):
    official = "official"
    report = "report"
    removed = "removed"


class Retrieval(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    lexical = "lexical"


app = typer.Typer(
    help="Check leak reports, claim by claim, against official public statements.\n\n"
         "Example:\n\n  verify ingest official statements/\n\n  verify check leak.md --date 2022-02-02",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich's markdown renderer costs ~0.2 s per call
    context_settings={"help_option_names": ["-h", "--help"]},
)

# The options several commands share, as Annotated types: `db: DbOption = None`.
DbOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="VERIFY_DB", help="corpus: a SQLite file, or a postgresql:// URL for a shared desk server "
                                     "[default: ./corpus.db]")]
ByOption = Annotated[Optional[str], typer.Option(
    "--by", envvar="VERIFY_USER", help="who is working, recorded on runs and reviews [default: the login name]")]
NliOption = Annotated[Optional[str], typer.Option(
    "--nli-model", envvar="VERIFY_NLI_MODEL",
    help="a shipped NLI model ('mpnet', or 'minilm': faster, weaker), a local model directory, or 'none' "
         "for similarity only [default: mpnet]")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="how to print the verdicts")]
JsonOption = Annotated[bool, typer.Option("--json", help="same as --format json")]
FailOnOption = Annotated[Optional[Label], typer.Option("--fail-on", help="exit 1 if any claim gets this label")]
KOption = Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="official sentences retrieved per claim")]
RetrievalOption = Annotated[Retrieval, typer.Option("--retrieval", help="hybrid (dense + lexical), dense or lexical")]
SpeakerOption = Annotated[Optional[str], typer.Option("--speaker",
                                                      help="only statements by this speaker (case-insensitive substring)")]
AsOfOption = Annotated[Optional[str], typer.Option("--as-of", help="only statements dated on or before YYYY-MM-DD")]
SideOption = Annotated[Optional[str], typer.Option(
    "--side", help="affiliations whose statements count as official evidence, comma-separated "
                   "(e.g. US,NATO), or 'any' [default: the corpus setting, see `verify speakers side`]")]


def _corpus(db: Optional[str], by: Optional[str] = None):
    from verify.store import open_corpus

    said = set()

    def waiting(seconds: float) -> None:
        if int(seconds) not in said:  # once a second at most
            said.add(int(seconds))
            typer.echo(f"waiting for another verify process ({seconds:.0f} s)\u2026", err=True)

    return open_corpus(db or None, on_wait=waiting, user=by)


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
