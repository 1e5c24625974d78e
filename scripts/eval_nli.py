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

from verify.evaluate import evaluate_nli, read_nli_pairs  # noqa: E402
from verify.nli import BUNDLED_NLI, TransformersNLI  # noqa: E402

SHARED = ROOT.parent / "shared"
STANDARD = {  # name: (path, metric, target)
    "validation": (ROOT / "build/nli-train/val.jsonl", "accuracy", 0.80),
    "mnli_dev": (SHARED / "eval/mnli_dev.jsonl", "accuracy", 0.75),
    "vitaminc_dev": (SHARED / "eval/vitaminc_dev.jsonl", "accuracy", 0.65),
    "breaking_nli": (SHARED / "nli/breaking_nli_eval.jsonl", "contradiction_recall", 0.70),
}


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
        if not Path(path).exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        pairs = read_nli_pairs(path)
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
