#!/usr/bin/env python
"""Recheck cost vs a full check, measured in one run on a generated corpus.

Corpus: distinct sentences drawn reproducibly from ``../shared/nli/train_mix.jsonl``
(premises and hypotheses), stored as official documents of 100 sentences (one per
line). Claims: distinct sentences from ``../shared/eval/*.jsonl`` claims, topped up with
other training sentences, stored as reports of 20 claims. Three timings:

1. full check of every claim on a fresh corpus (index build + NLI; models loaded),
2. recheck after adding 1% more official sentences,
3. recheck after adding nothing.

Example:
    python scripts/bench_recheck.py --official 20000 --claims 2000 --json
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

from verify.pipeline.check import Checker  # noqa: E402
from verify.pipeline.ingest import build_document  # noqa: E402
from verify.pipeline.recheck import recheck  # noqa: E402
from verify.store.corpus import Corpus  # noqa: E402

from benchlib import nli_sentences  # noqa: E402


def sentences(seed: int) -> tuple[list[str], list[str]]:
    pool = set(nli_sentences(6, 60))
    claims = set()
    for name in ("climate_fever_dev", "vitaminc_dev", "mnli_dev"):
        with open(SHARED / f"eval/{name}.jsonl", encoding="utf-8") as f:
            for line in f:
                c = " ".join(json.loads(line)["claim"].split())
                if len(c.split()) >= 5:
                    claims.add(c.rstrip(".") + ".")
    rng = random.Random(seed)
    pool_l, claims_l = sorted(pool - claims), sorted(claims)
    rng.shuffle(pool_l)
    rng.shuffle(claims_l)
    return pool_l, claims_l


def add_docs(corpus: Corpus, kind: str, lines: list[str], per_doc: int, tag: str) -> list[int]:
    ids = []
    with corpus.transaction():
        for i in range(0, len(lines), per_doc):
            doc = build_document(kind, "\n".join(lines[i:i + per_doc]),
                                 {"title": f"{tag} {i // per_doc}", "published": "2022-01-26"},
                                 source=f"bench:{tag}:{i}", fmt="txt", allow_any_language=True)
            ids.append(corpus.add_document(doc).document_id)
    return ids


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", type=int, default=20000)
    ap.add_argument("--claims", type=int, default=2000)
    ap.add_argument("--growth", type=float, default=0.01)
    ap.add_argument("--nli-model", default=None, help="NLI model dir, or 'none' [default: shipped]")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from verify.pipeline.nli import load_nli

    pool, claim_pool = sentences(args.seed)
    extra = int(args.official * args.growth)
    official, new = pool[:args.official], pool[args.official:args.official + extra]
    claims = (claim_pool + pool[args.official + extra:])[:args.claims]

    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        corpus = Corpus(Path(tmp) / "corpus.db")
        add_docs(corpus, "official", official, 100, "official")
        reports = add_docs(corpus, "report", claims, 20, "report")

        def make_checker():
            return Checker(corpus, nli=load_nli(args.nli_model))

        t = time.perf_counter()
        checker = make_checker()
        run = checker.check_documents(reports)
        full = time.perf_counter() - t
        n_claims = len(run.results)
        setup = {k: run.manifest[k] for k in ("embed_model", "nli_model", "k", "retrieval", "scope", "thresholds")}

        add_docs(corpus, "official", new, 100, "new")
        t = time.perf_counter()
        grown = recheck(corpus, make_checker, setup=setup)
        grow_t = time.perf_counter() - t

        t = time.perf_counter()
        same = recheck(corpus, make_checker, setup=setup)
        same_t = time.perf_counter() - t

    result = {
        "official_sentences": len(official), "claims": n_claims, "new_sentences": len(new),
        "nli_model": setup["nli_model"], "full_check_s": round(full, 2),
        "recheck_after_growth_s": round(grow_t, 2), "recheck_growth_rescored": grown.rescored,
        "recheck_growth_drifted": len(grown.drift), "recheck_no_change_s": round(same_t, 3),
        "recheck_no_change_model_loaded": same.model_loaded,
        "ratio_growth": round(grow_t / full, 4), "ratio_no_change": round(same_t / full, 5),
        "targets": {"growth<=0.05": grow_t / full <= 0.05, "no_change<=0.01": same_t / full <= 0.01},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(official)} official sentences, {n_claims} claims, +{len(new)} new; NLI {setup['nli_model']}")
        print(f"full check              {full:8.2f} s")
        print(f"recheck after +{args.growth:.0%}       {grow_t:8.2f} s  ({grow_t / full:.2%} of full; "
              f"{grown.rescored} re-scored)")
        print(f"recheck, nothing new    {same_t:8.3f} s  ({same_t / full:.3%} of full; model loaded: {same.model_loaded})")
        print(f"peak RSS {result['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
