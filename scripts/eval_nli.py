#!/usr/bin/env python
"""Evaluate an NLI model on labelled pair files and print accuracy, macro-F1, confusion.

Pairs files: JSONL with premise, hypothesis, label (entailment | neutral | contradiction).
Claims files (``../shared/eval`` format) are read as claim = hypothesis, first evidence =
premise. With no files, evaluates the issue's standard set and checks the targets.

Example:
    python scripts/eval_nli.py                       # the standard report, shipped model
    python scripts/eval_nli.py --model DIR pairs.jsonl --json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from verify.evaluate import evaluate_nli, read_nli_pairs  # noqa: E402
from verify.nli import BUNDLED_NLI, TransformersNLI  # noqa: E402

SHARED = ROOT.parent / "shared"
STANDARD = {  # name: (path, metric, target)
    "validation": (ROOT / "build/nli-train/val.jsonl", "accuracy", 0.80),
    "mnli_dev": (SHARED / "eval/mnli_dev.jsonl", "accuracy", 0.75),
    "vitaminc_dev": (SHARED / "eval/vitaminc_dev.jsonl", "accuracy", 0.65),
    "breaking_nli": (SHARED / "nli/breaking_nli_eval.jsonl", "contradiction_recall", 0.70),
}


def validation_split(model_dir: Path):
    """The exact held-out split the model was trained without, rebuilt from its seed and size."""
    record = Path(model_dir) / "training.json"
    if not record.exists():
        return None
    import json as _json

    from train_nli import read_pairs, stratified_split

    info = _json.loads(record.read_text())
    pairs = read_pairs(SHARED / "nli/train_mix.jsonl")
    _, val = stratified_split(pairs, info["val_pairs"], info["seed"])
    return [(p["premise"], p["hypothesis"], p["label"]) for p in val]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--model", type=Path, default=BUNDLED_NLI)
    ap.add_argument("--validation", type=Path, help="held-out split written by train_nli.py")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pairs of each file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    model = TransformersNLI(args.model, batch_size=64)
    if args.files:
        jobs = {f.stem: (f, None, None) for f in args.files}
    else:
        jobs = dict(STANDARD)
        if args.validation:
            jobs["validation"] = (args.validation, "accuracy", 0.80)
    report, ok = {}, True
    for name, (path, metric, target) in jobs.items():
        if name == "validation" and not Path(path).exists():
            pairs = validation_split(args.model)
            path = f"{SHARED / 'nli/train_mix.jsonl'} (held-out split regenerated from training.json)"
        elif not Path(path).exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        else:
            pairs = read_nli_pairs(path)
        if pairs is None:
            print(f"skip {name}: no training record to regenerate the split from", file=sys.stderr)
            continue
        if args.limit:
            pairs = pairs[:args.limit]
        r = evaluate_nli(model, pairs)
        r["contradiction_recall"] = r["per_label"]["contradiction"]["recall"]
        r["file"] = str(path)
        if metric:
            r["target"] = {"metric": metric, "value": target, "met": r[metric] >= target}
            ok &= r[metric] >= target
        report[name] = r
        if not args.json:
            print(f"{name:<13} n={r['n']:<5} accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  "
                  f"contradiction recall {r['contradiction_recall']:.3f}"
                  + (f"  target {metric} >= {target}: {'met' if r['target']['met'] else 'NOT met'}" if metric else ""))
            print("    confusion (rows gold E/N/C, columns predicted E/N/C): "
                  + " | ".join(" ".join(f"{v}" for v in row.values()) for row in r["confusion"].values()))
    if args.json:
        print(json.dumps({"model": model.model_id, "results": report}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
