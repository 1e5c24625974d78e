"""`verify eval` and `calibrate`: measuring verdict quality and fitting the thresholds."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from verify.cli.common import (
    DbOption,
    KOption,
    NliOption,
    QuietOption,
    Retrieval,
    RetrievalOption,
    _corpus,
    _nli,
    _note,
    _Progress,
    app,
)


@app.command("eval")
def eval_cmd(
    claims: Annotated[Path, typer.Argument(help="labelled claims JSONL (see README: evaluation format)")],
    pool: Annotated[Optional[Path],
                    typer.Option(help="pool JSONL of official sentences [default: the claims' evidence]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    limit: Annotated[Optional[int], typer.Option(help="only the first N claims")] = None,
    per_claim: Annotated[bool, typer.Option("--per-claim",
                                            help="also each claim's gold and predicted label and evidence")] = False,
    calibration: Annotated[Optional[Path], typer.Option(
        help="decide with this fit (the JSON `verify calibrate --json` prints) [default: the model's shipped fit]")] = None,
    k: KOption = 5, nli_model: NliOption = None, retrieval: RetrievalOption = Retrieval.hybrid, quiet: QuietOption = False,
):
    """Measure verdict quality on labelled claims: accuracy, macro-F1, confusion, recall@5.

    Example: verify eval ../shared/eval/desk_dev.jsonl --pool ../shared/eval/desk_dev_pool.jsonl --per-claim
    """
    from verify.pipeline.thresholds import thresholds_from
    from verify.quality.evaluate import evaluate, read_jsonl

    n = len(read_jsonl(claims, ("claim", "label")))
    nli = "auto" if nli_model is None else _nli(nli_model)
    thresholds = None
    if calibration is not None:
        try:
            thresholds = thresholds_from(json.loads(calibration.read_text()), f"calibration file {calibration}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise typer.BadParameter(f"{calibration}: not a calibration record ({e})") from None
    with _Progress("eval", min(n, limit or n), quiet) as advance:
        result = evaluate(str(claims), str(pool) if pool else None, nli=nli, k=k, limit=limit, progress=advance,
                          retrieval=retrieval, per_claim=per_claim, thresholds=thresholds)
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
        typer.echo(f"{mark} {c['id']}: gold {c['gold']}, predicted {c['predicted']} {c['score']:.2f} [{c['code']}]"
                   + (f" (needs review: {c['needs_review']})" if c["needs_review"] else "") + f"  {c['claim'][:100]}")
        if c["evidence"]:
            e = c["evidence"]
            typer.echo(f"      evidence (similarity {e['similarity']:.2f}): {e['text'][:140]}")


@app.command()
def calibrate(
    claims: Annotated[Optional[list[Path]], typer.Argument(
        help="labelled claims JSONL files (eval format); X_pool.jsonl beside X.jsonl is its pool")] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N claims of each file")] = None,
    save_default: Annotated[bool, typer.Option("--save-default",
                                               help="also write verify/calibration.json (the shipped default)")] = False,
    show: Annotated[bool, typer.Option("--show", help="print the shipped fit's figures and what it was fitted on")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole record")] = False,
    cache: Annotated[Optional[Path], typer.Option(
        help="keep the checked claims in this folder and reuse them when refitting (private: a pickle)")] = None,
    k: KOption = 5, nli_model: NliOption = None, db: DbOption = None, quiet: QuietOption = False,
):
    """Fit the decision on labelled claims; store it in the corpus (and ship it with --save-default).

    With an NLI model the fit is a small classifier over what the checker measures, validated
    across files: each file's figures come from a fit on the other files. Later checks on this
    corpus use the newest fit for their NLI model.

    Example: verify calibrate verify/data/desk_train.jsonl ../shared/eval/vitaminc_dev.jsonl
    """
    from verify.pipeline.thresholds import SHIPPED
    from verify.quality.calibrate import calibrate as fit
    from verify.quality.evaluate import read_jsonl

    if show:
        record = json.loads(SHIPPED.read_text())
        shown = json.dumps(record, indent=2) if as_json else _fit_summary(record, "shipped fit (verify/calibration.json)")
        typer.echo(shown)
        return
    if not claims:
        raise typer.BadParameter("name labelled claims files, or --show for the shipped fit")
    n = sum(min(len(read_jsonl(c, ("claim", "label"))), limit or 10**9) for c in claims)
    nli = "auto" if nli_model is None else _nli(nli_model)
    with _Progress("calibrate", n, quiet) as advance:
        record = fit([str(c) for c in claims], nli=nli, k=k, limit=limit, progress=advance, cache=cache)
    cid = _corpus(db).store_calibration(record)
    if save_default:
        SHIPPED.write_text(json.dumps(record, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    typer.echo(_fit_summary(record, f"calibration {cid}"))


def _fit_summary(record: dict, name: str) -> str:
    """What a fit was fitted on, and its figures: per file unfitted, held out, in sample."""
    prov = record["provenance"]
    lines = [f"{name}: {record['n']} claims, NLI {prov['nli_model'] or 'none'}, fitted {prov['fitted_at']}",
             f"method: {prov['method']}"]
    for f in prov["files"]:
        lines.append(f"  {f['path']} ({f['claims']} claims, sha256 {f['sha256']}"
                     + (f"; pool {f['pool']}" if f.get("pool") else "") + ")")
    fitted = record.get("fit") or record.get("rejected_fit")
    if fitted:
        lines.append(f"contradiction bar P >= {fitted['contradict_bar']}; held-out contradiction precision "
                     f"floor {record['contradiction_precision_floor']:.3f} (the unfitted rules')")
        if not record.get("fit"):
            lines.append(f"fit NOT used: {fitted['why']}; checks decide by the rules")
        lines.append("per file, macro-F1: unfitted rules -> held out (fit on the other files) -> as used "
                     "(in sample where the fit is used)")
        for file, m in record["per_file"].items():
            h = m["held_out"]["per_label"]
            lines.append(f"  {file:<28} {m['unfitted']['macro_f1']:.3f} -> {m['held_out']['macro_f1']:.3f} -> "
                         f"{m['as_used']['macro_f1']:.3f}   held out: consistent R {h['consistent']['recall']:.2f}, "
                         f"contradictory R {h['contradictory']['recall']:.2f} P {h['contradictory']['precision']:.2f}")
        ho = record["metrics"]["held_out"]
        lines.append(f"all files held out: macro-F1 {ho['macro_f1']:.3f}, accuracy {ho['accuracy']:.3f}")
    else:
        b, a = record["metrics"]["before"], record["metrics"]["after"]
        lines.append(f"thresholds: {json.dumps(record['thresholds'])}")
        lines.append(f"macro-F1 {b['macro_f1']:.3f} -> {a['macro_f1']:.3f}; accuracy {b['accuracy']:.3f} -> "
                     f"{a['accuracy']:.3f}; ECE {a.get('ece_raw')} raw -> {a.get('ece')} calibrated")
    return "\n".join(lines)
