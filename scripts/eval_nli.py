#!/usr/bin/env python
"""Evaluate an NLI model on labelled pair files and print accuracy, macro-F1, confusion, speed.

Pairs files: JSONL with premise, hypothesis, label (entailment | neutral | contradiction).
Claims files (``../shared/eval`` format) are read as claim = hypothesis, first evidence =
premise. With no files, evaluates the standard set and checks the targets:

  validation       the 3,000 pairs of train_mix.jsonl held out of training  accuracy >= 0.82
  mnli_dev         ../shared/eval/mnli_dev.jsonl                             accuracy >= 0.80
  paraphrase       held-out alias, metonymy, frame, paraphrase, dropped-     entailment recall >= 0.90
                   modifier and agreeing-negative pairs (desk_cases.py)
  same_topic       held-out same-topic, different-fact pairs                 neutral recall >= 0.80
  speed            pairs/s while scoring the validation set                  >= 15

and reports without a target: vitaminc_dev, the extra data's held-out split, every held-out
generator of ``scripts/hard_cases.py`` and ``scripts/desk_cases.py`` by kind (both write
held-out pairs built from validation texts only, with their own seeds:
build/hard_cases_heldout.jsonl, build/desk_cases_heldout.jsonl) and Breaking-NLI
contradiction recall. Pair figures are a means: a model ships only if it also wins at the
claim level (``verify eval``, the seed case).

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

from verify.pipeline.nli import TransformersNLI, resolve_nli_path  # noqa: E402
from verify.quality.evaluate import evaluate_nli, read_nli_pairs  # noqa: E402

SHARED = ROOT.parent / "shared"
HARD = ROOT / "build/hard_cases_heldout.jsonl"
DESK = ROOT / "build/desk_cases_heldout.jsonl"
TARGETS = {  # name: (metric, target)
    "validation": ("accuracy", 0.82),
    "mnli_dev": ("accuracy", 0.80),
    "paraphrase": ("entailment_recall", 0.90),
    "same_topic": ("neutral_recall", 0.80),
}
SPEED_TARGET = 15.0


def held_out_splits(model_dir: Path) -> dict[str, list]:
    """The exact held-out splits the model was trained without, rebuilt from its training record."""
    record = Path(model_dir) / "training.json"
    if not record.exists():
        return {}
    from train_nli import split_data

    info = json.loads(record.read_text())
    while info.get("continued_from") and "extra_val_size" not in info:
        info = info["continued_from"]
    data = info["data"] if isinstance(info["data"], list) else [info["data"]]
    files = [SHARED / "nli" / Path(d).name for d in data]
    if not all(f.exists() for f in files):
        return {}
    _, _, val, val_extra = split_data(files, info["val_pairs"], info.get("extra_val_size") or 0, info["seed"])
    out = {"validation": [(p["premise"], p["hypothesis"], p["label"]) for p in val]}
    if val_extra:
        out["validation_extra"] = [(p["premise"], p["hypothesis"], p["label"]) for p in val_extra]
    return out


def hard_case_sets(path: Path = HARD) -> dict[str, list]:
    """Held-out generated pairs by generator kind (``hard:negation``, ``desk:alias``, ...)."""
    if not path.exists():
        return {}
    by_kind: dict[str, list] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        by_kind.setdefault(r["source"], []).append((r["premise"], r["hypothesis"], r["label"]))
    return by_kind


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--model", default=None, help="a shipped model's name (mpnet, minilm) or a directory "
                                                  "[default: the default shipped model]")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pairs of each set")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    args.model = resolve_nli_path(args.model)
    model = TransformersNLI(args.model, batch_size=64)
    jobs: dict[str, list] = {}
    if args.files:
        for f in args.files:
            jobs[f.stem] = read_nli_pairs(f)
    else:
        jobs.update(held_out_splits(args.model))
        for name in ("mnli_dev", "vitaminc_dev"):
            if (SHARED / f"eval/{name}.jsonl").exists():
                jobs[name] = read_nli_pairs(SHARED / f"eval/{name}.jsonl")
        hard = hard_case_sets(HARD)
        if hard:
            jobs["same_topic"] = hard.pop("hard:same_topic", [])
            jobs.update(sorted(hard.items()))
        else:
            print(f"skip same_topic and hard cases: {HARD} not found (run scripts/hard_cases.py)", file=sys.stderr)
        desk = hard_case_sets(DESK)
        if desk:
            # What a desk meets most: the same fact in other names and words must entail.
            jobs["paraphrase"] = [p for pairs in desk.values() for p in pairs if p[2] == "entailment"]
            jobs.update(sorted(desk.items()))
        else:
            print(f"skip paraphrase: {DESK} not found (run scripts/desk_cases.py)", file=sys.stderr)
        if (SHARED / "nli/breaking_nli_eval.jsonl").exists():
            jobs["breaking_nli"] = read_nli_pairs(SHARED / "nli/breaking_nli_eval.jsonl")
    report, ok = {}, True
    for name, pairs in jobs.items():
        if not pairs:
            continue
        if args.limit:
            pairs = pairs[:args.limit]
        r = evaluate_nli(model, pairs)
        r["contradiction_recall"] = r["per_label"]["contradiction"]["recall"]
        r["neutral_recall"] = r["per_label"]["neutral"]["recall"]
        r["entailment_recall"] = r["per_label"]["entailment"]["recall"]
        if name in TARGETS and not args.files:
            metric, target = TARGETS[name]
            r["target"] = {"metric": metric, "value": target, "met": r[metric] >= target}
            ok &= r[metric] >= target
        report[name] = r
        if not args.json:
            line = (f"{name:<20} n={r['n']:<5} accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  "
                    f"E-recall {r['entailment_recall']:.3f}  C-recall {r['contradiction_recall']:.3f}  "
                    f"N-recall {r['neutral_recall']:.3f}  "
                    f"{r['pairs_per_second']} pairs/s")
            if "target" in r:
                line += f"  target {r['target']['metric']} >= {r['target']['value']}: " \
                        f"{'met' if r['target']['met'] else 'NOT met'}"
            print(line)
            print("    confusion (rows gold E/N/C, columns predicted E/N/C): "
                  + " | ".join(" ".join(f"{v}" for v in row.values()) for row in r["confusion"].values()))
    if "validation" in report and not args.files:
        speed = report["validation"]["pairs_per_second"]
        report["speed"] = {"pairs_per_second": speed, "target": SPEED_TARGET, "met": speed >= SPEED_TARGET}
        ok &= speed >= SPEED_TARGET
        if not args.json:
            print(f"speed: {speed} pairs/s scoring the validation set (batch 64); target >= {SPEED_TARGET}: "
                  f"{'met' if speed >= SPEED_TARGET else 'NOT met'}")
    if args.json:
        print(json.dumps({"model": model.model_id, "results": report}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
