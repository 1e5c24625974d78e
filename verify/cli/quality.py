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
    k: KOption = 5, nli_model: NliOption = None, retrieval: RetrievalOption = Retrieval.hybrid, quiet: QuietOption = False,
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
    claims: Annotated[list[Path], typer.Argument(help="labelled claims JSONL files (eval format)")],
    limit: Annotated[Optional[int], typer.Option(help="only the first N claims of each file")] = None,
    save_default: Annotated[bool, typer.Option("--save-default",
                                               help="also write verify/calibration.json (the shipped default)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole record")] = False,
    k: KOption = 5, nli_model: NliOption = None, db: DbOption = None, quiet: QuietOption = False,
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
