"""`verify recheck`, `diff`, `history` and `review`: the nightly recheck and the desk's own verdicts."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from verify.cli.common import (
    ByOption,
    DbOption,
    DriftFormat,
    KOption,
    Label,
    NliOption,
    QuietOption,
    Retrieval,
    RetrievalOption,
    ReviewLabel,
    _checker,
    _corpus,
    _Progress,
    app,
)
from verify.errors import InputError


@app.command()
def recheck(
    reports: Annotated[Optional[list[str]],
                       typer.Argument(help="report ids to recheck [default: with --all, every claim]")] = None,
    all_claims: Annotated[bool, typer.Option("--all", help="recheck every stored claim")] = False,
    fmt: Annotated[DriftFormat, typer.Option("--format", "-f", help="how to print the drift report")] = DriftFormat.table,
    fail_on: Annotated[Optional[Label], typer.Option("--fail-on",
                                                     help="exit 1 only if a claim drifts to this label")] = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait if another recheck holds the corpus")] = 0,
    exhaustive: Annotated[bool, typer.Option("--exhaustive", help="retrieve every claim again, not only those "
                                    "a new statement can reach (slower; equals a fresh check)")] = False,
    k: KOption = 5, nli_model: NliOption = None, retrieval: RetrievalOption = Retrieval.hybrid,
    db: DbOption = None, quiet: QuietOption = False, by: ByOption = None,
):
    """Recheck stored claims as the official corpus grows; report what changed and why.

    Only claims a new statement enters the evidence of are re-scored. Exit codes: 0 nothing changed,
    1 verdicts changed (or, with --fail-on, a claim drifted to that label), 2 the run failed.

    Example: verify recheck --all --format markdown > drift-$(date +%F).md
    """
    from verify.pipeline.nli import nli_model_id
    from verify.pipeline.recheck import current_setup
    from verify.pipeline.recheck import recheck as run_recheck

    if not reports and not all_claims:
        raise InputError("name report ids to recheck, or pass --all")
    corpus = _corpus(db, by)
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
    with corpus.exclusive("recheck", wait), _Progress("recheck", total, quiet) as advance:
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
def diff(run_a: Annotated[int, typer.Argument(help="earlier run id")], run_b: Annotated[int,
                                              typer.Argument(help="later run id")],
         as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None):
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
def history(claim_id: Annotated[int, typer.Argument(help="claim id")],
            as_json: Annotated[bool, typer.Option("--json")] = False,
            db: DbOption = None):
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
    claim_id: Annotated[int, typer.Argument(help="claim id")],
    label: Annotated[ReviewLabel, typer.Option("--label", help="the desk's label")],
    note: Annotated[str, typer.Option("--note", help="why: the desk's reasoning, sources")],
    by: ByOption = None,
    db: DbOption = None,
):
    """Record a desk's judgement of a claim (append-only: the audit trail).

    Example: verify review 12 --label consistent --note "confirmed by spokesman, 3 Feb" --by ana
    """
    if not note.strip():
        raise InputError("--note must say why")
    corpus = _corpus(db)
    from verify.store.corpus import current_user

    rid = corpus.add_review(claim_id, label, note.strip(), by or current_user())
    r = corpus.latest_review(claim_id)
    typer.echo(f"review {rid} recorded for claim {claim_id}: {label} (machine: {r['machine_label'] or 'not checked'})")
