"""`verify report` and `export`: pages for editors and files for other systems."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from verify.cli.common import DbOption, ExportFormat, _corpus, _note, app
from verify.errors import InputError


@app.command()
def report(
    report_id: Annotated[str, typer.Argument(help="id of a checked report")],
    html: Annotated[Path, typer.Option("--html", help="output file (one self-contained page)")],
    db: DbOption = None,
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
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f",
                                              help="claimreview: schema.org ClaimReview JSON-LD")] = ExportFormat.jsonl,
    report_id: Annotated[Optional[int], typer.Option("--report", help="only this report's claims")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write [default: stdout]")] = None,
    desk: Annotated[Optional[str], typer.Option(
        "--desk", envvar="VERIFY_DESK", help="claimreview: the organisation publishing the reviews (their author)")] = None,
    desk_url: Annotated[Optional[str], typer.Option("--desk-url", envvar="VERIFY_DESK_URL",
                                                    help="claimreview: the page the reviews appear on")] = None,
    include_unreviewed: Annotated[bool, typer.Option(
        "--include-unreviewed", help="claimreview: also machine verdicts no one reviewed, marked as such")] = False,
    db: DbOption = None,
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
