#!/usr/bin/env python
"""What each decision rule and threshold costs and buys, on labelled claim files.

Checks every claim once with the shipped models (the slow part), then re-decides the
same evidence under variants of the shipped thresholds: each rule switched off, and the
contradiction threshold swept. Prints macro-F1 and contradiction precision and recall per
variant (a false contradiction is the costliest error a desk can publish), pooled over the
files, and the share of contradictions a desk is not asked to review.

Example:
    python scripts/rules_report.py                       # the three ../shared/eval dev sets
    python scripts/rules_report.py --cache build/rules.pkl --json
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.pipeline.nli import nli_model_id  # noqa: E402
from verify.pipeline.thresholds import load_thresholds  # noqa: E402
from verify.pipeline.verdict import decide  # noqa: E402
from verify.quality.calibrate import pool_beside  # noqa: E402
from verify.quality.evaluate import metrics, score_file  # noqa: E402

DEV = [ROOT.parent / "shared/eval" / f for f in ("climate_fever_dev.jsonl", "vitaminc_dev.jsonl", "mnli_dev.jsonl")]


def variants(base):
    yield "shipped decision", base
    if base.fit:
        yield "rules only (no fitted decision)", replace(base, fit=None)
    yield "two negatives may contradict (shared_negation off)", replace(base, shared_negation=False)
    yield "no forced number/date/name mismatches", replace(base, forced_mismatch=False, mismatch_p=0.0)
    yield "every related sentence may contradict", replace(base, contradict_top=50)
    if base.lean_gap <= 1:
        yield "a nearest sentence leaning to support does not outweigh a far contradiction", replace(base, lean_gap=2.0)
    yield "no same-subject bar", replace(base, subject_overlap=0.0)
    yield "no reverse-entailment veto on contradiction", replace(base, reverse_entail_veto=2.0)
    if base.support_overlap > 0:
        yield "no alignment floor on support", replace(base, support_overlap=0.0)
    if base.reverse_contradict_veto <= 1:
        yield "no reverse-contradiction veto on support", replace(base, reverse_contradict_veto=2.0)
    if base.reverse_contradict_veto != 0.5:
        yield "reverse-contradiction veto on support at 0.5", replace(base, reverse_contradict_veto=0.5)
    for c in (0.5, 0.6, 0.7, 0.8, 0.9):
        if c != base.contradict:
            yield f"contradict >= {c}", replace(base, contradict=c)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=DEV)
    ap.add_argument("--cache", type=Path, help="keep the scored claims here and reuse them")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    missing = [str(f) for f in args.files if not f.exists()]
    if missing:
        print(f"no such file: {', '.join(missing)} (the dev sets live in ../shared/eval)", file=sys.stderr)
        return 2
    if args.cache and args.cache.exists():
        scored = pickle.loads(args.cache.read_bytes())
    else:
        scored = []
        for path in args.files:
            pool = pool_beside(path)  # desk_dev.jsonl is checked against desk_dev_pool.jsonl
            f = score_file(str(path), str(pool) if pool else None, k=5)
            scored += [(c["label"], v, evs) for c, (v, evs) in zip(f["claims"], f["results"])]
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            args.cache.write_bytes(pickle.dumps(scored))
    base = load_thresholds(None, nli_model_id(None))
    gold = [g for g, _, _ in scored]
    rows = []
    for name, t in variants(base):
        verdicts = [decide(evs, t, nli=True, quotes=v.quotes, clauses=v.clauses) for _, v, evs in scored]
        m = metrics(gold, [v.label for v in verdicts])
        c = m["per_label"]["contradictory"]
        said = [(g, v) for g, v in zip(gold, verdicts) if v.label == "contradictory"]
        unflagged = [g for g, v in said if not v.needs_review]
        rows.append({"variant": name, "macro_f1": m["macro_f1"], "contradiction_precision": c["precision"],
                     "contradiction_recall": c["recall"], "contradictions": len(said),
                     "unflagged": len(unflagged),
                     "unflagged_precision": round(sum(g == "contradictory" for g in unflagged) / len(unflagged), 4)
                     if unflagged else None})
    if args.json:
        print(json.dumps({"claims": len(gold), "thresholds": base.source, "variants": rows}, indent=2))
        return 0
    print(f"{len(gold)} claims; base: {base.source}")
    print(f"{'variant':<52} {'macro-F1':>8} {'C-prec':>7} {'C-rec':>6} {'said C':>7} {'unflagged (prec)':>17}")
    for r in rows:
        up = f"{r['unflagged']} ({r['unflagged_precision']:.3f})" if r["unflagged"] else "0"
        print(f"{r['variant']:<52} {r['macro_f1']:>8.3f} {r['contradiction_precision']:>7.3f} "
              f"{r['contradiction_recall']:>6.3f} {r['contradictions']:>7} {up:>17}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
