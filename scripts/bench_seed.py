#!/usr/bin/env python
"""How long a desk waits for the seed case: ``verify check`` of the leak report (seed 002)
into a fresh corpus of the four official seeds, model loads included.

The official seeds are ingested first (with their publishers and dates, the official side
set to the US and NATO: ``tests/seed_expectations.py``), and their sentences embedded and
indexed, as a desk's corpus would be before a leak arrives. Then ``verify check`` runs as
a new process, the way a desk runs it, and its wall time is measured: loading Python,
the embedder and the NLI model, ingesting the report, and checking its 24 claims. Printed
as seconds and as a ratio of the 30-second target, measured in this one run.

Example:
    python scripts/bench_seed.py
    python scripts/bench_seed.py --nli-model build/nli-minilm-v3-model --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from seed_expectations import OFFICIAL_SIDE, PUBLISHERS, REPORT_DATE  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"
TARGET_SECONDS = 30.0


def prepare(db: Path) -> None:
    """A corpus of the official seeds, indexed, as a desk has it before the leak arrives."""
    from verify.pipeline.check import Checker
    from verify.pipeline.ingest import ingest_paths
    from verify.store.corpus import Corpus

    corpus = Corpus(db)
    for path in sorted(SEEDS.glob("*.txt")):
        if path.name[:3] in PUBLISHERS:
            publisher, date = PUBLISHERS[path.name[:3]]
            ingest_paths(corpus, "official", [path], {"publisher": publisher, "date": date})
    corpus.set_official_side(OFFICIAL_SIDE)
    Checker(corpus, nli=None).ensure_index()
    corpus.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nli-model", default=None, help="an NLI model name or directory [default: the shipped model]")
    ap.add_argument("--runs", type=int, default=1, help="fresh corpora to time (the median is reported)")
    args = ap.parse_args(argv)
    if not SEEDS.exists():
        print(f"no seeds at {SEEDS}", file=sys.stderr)
        return 2
    report = next(SEEDS.glob("002_*.txt"))
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="verify-bench-seed-") as tmp:
            db = Path(tmp) / "corpus.db"
            prepare(db)
            cmd = [sys.executable, "-m", "verify", "check", str(report), "--date", REPORT_DATE,
                   "--db", str(db), "-q", "-f", "json"]
            if args.nli_model:
                cmd += ["--nli-model", args.nli_model]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            times.append(time.perf_counter() - t0)
            if done.returncode not in (0, 1):
                print(done.stderr.strip()[-2000:], file=sys.stderr)
                return done.returncode
    seconds = statistics.median(times)
    print(f"verify check of seed 002 (24 claims) into a fresh corpus of the 4 official seeds, model loads "
          f"included: {seconds:.1f} s (median of {len(times)}) = {seconds / TARGET_SECONDS:.2f} x the "
          f"{TARGET_SECONDS:.0f} s target on {os.cpu_count()} cores")
    return 0 if seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
