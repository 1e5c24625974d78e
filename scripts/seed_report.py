#!/usr/bin/env python
"""The seed case, verdict by verdict, against what an editor expects (tests/seed_expectations.py).

Ingests the official seeds (000, 001, 003, 004 in ../shared/seeds) with their publishers
and dates into a scratch corpus, sets the official side to the US and NATO, checks the
leak report (002), and prints every claim's verdict marked ok / BAD, then every written
probe. The tests assert the parts a desk must be able to rely on (no false contradiction,
20 of 24 claims, the rule probes); this report also shows the model probes.

Example:
    python scripts/seed_report.py
    python scripts/seed_report.py --nli-model minilm
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from verify.pipeline.check import Checker  # noqa: E402
from verify.store.corpus import Corpus  # noqa: E402

from seed_expectations import EXPECTED, MODEL_PROBES, RULE_PROBES, ingest_seed_case  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nli-model", default="auto",
                    help="a shipped NLI model (mpnet, minilm) or a model directory [default: mpnet]")
    args = ap.parse_args(argv)
    if not SEEDS.exists():
        print(f"no seeds at {SEEDS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(Path(tmp) / "corpus.db")
        report = ingest_seed_case(corpus, SEEDS)
        checker = Checker(corpus, nli=args.nli_model)
        run = checker.check_document(report)
        right = 0
        for fragment, (labels, why) in EXPECTED.items():
            [r] = [r for r in run.results if fragment.lower() in r.text.lower()]
            ok = r.verdict.label in labels
            right += ok
            flag = "⚑" if r.verdict.needs_review else " "
            print(f"{'ok ' if ok else 'BAD'} {r.verdict.label:<13} {r.verdict.score:.2f} {flag} {fragment[:48]:<48} "
                  f"| {r.verdict.reason[:110]}")
        contradicted = sum(r.verdict.label == "contradictory" for r in run.results)
        print(f"seed claims: {right}/{len(EXPECTED)} labelled as an editor would; {contradicted} contradictory; "
              f"{sum(bool(r.verdict.needs_review) for r in run.results)} need review")
        for group, probes in (("rule", RULE_PROBES), ("model", MODEL_PROBES)):
            ok_count = 0
            for claim, label, words in probes:
                [r] = checker.check_text(claim, save=False).results
                best = r.evidence[r.verdict.decisive].sentence["text"].lower() if r.verdict.decisive is not None else ""
                ok = r.verdict.label == label and all(w in best for w in words)
                ok_count += ok
                print(f"{group} probe {'ok ' if ok else 'BAD'} {r.verdict.label:<13} (editor: {label:<13}) "
                      f"{claim[:56]:<56} | {r.verdict.reason[:90]}")
            print(f"{group} probes: {ok_count}/{len(probes)} right")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
