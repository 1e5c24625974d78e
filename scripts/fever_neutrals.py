#!/usr/bin/env python
"""Neutral fact-verification pairs for NLI training, built from the FEVER part of the mix.

The FEVER pairs in ``../shared/nli/train_mix.jsonl`` are all entailment or contradiction:
a model trained on them learns that a claim and a related encyclopedic passage always
settle each other, and then calls contradiction on related-but-silent evidence (VitaminC's
NOT ENOUGH INFO pairs, official sentences on the same topic as a leak). FEVER's own NLI
versions built "not enough info" pairs the same way as here: a claim with retrieved
evidence that belongs to another claim.

Each FEVER claim is paired with the most similar FEVER premise (all-MiniLM-L6-v2 cosine)
that is not its own evidence, does not near-duplicate its own evidence, and whose own
claim is a different one; those pairs are labelled neutral. Many would be wrong (FEVER has
many claims per entity, and another claim's evidence often settles this one), so pairs the
current NLI model is confident are entailed or contradicted (max P >= 0.85) are dropped,
as are the most similar ones (cosine above 0.7).

Example:
    python scripts/fever_neutrals.py --out build/fever_neutral_kept.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    import numpy as np

    from verify.pipeline.embed import SentenceTransformerEmbedder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/nli/train_mix.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "build/fever_neutral_kept.jsonl")
    ap.add_argument("--max-sim", type=float, default=0.75, help="claim-premise cosine above this is not picked")
    ap.add_argument("--keep-sim", type=float, default=0.7, help="picked pairs above this cosine are dropped")
    ap.add_argument("--filter-model", default=None, help="NLI model that filters (default: the shipped one)")
    ap.add_argument("--max-confidence", type=float, default=0.85)
    ap.add_argument("--limit", type=int, default=6500)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--min-sim", type=float, default=0.3, help="and below this (not related enough to teach)")
    ap.add_argument("--own-sim", type=float, default=0.8, help="premise this close to the claim's own is skipped")
    args = ap.parse_args(argv)

    rows = [json.loads(line) for line in open(args.data, encoding="utf-8") if line.strip()]
    fever = [r for r in rows if r["source"].startswith("fever")]
    claims = sorted({r["hypothesis"] for r in fever})
    premises = sorted({r["premise"] for r in fever})
    own: dict[str, set[str]] = {}
    for r in fever:
        own.setdefault(r["hypothesis"], set()).add(r["premise"])
    emb = SentenceTransformerEmbedder()
    c_vec, p_vec = emb.encode(claims), emb.encode(premises)
    p_index = {p: i for i, p in enumerate(premises)}
    out, skipped = [], 0
    for start in range(0, len(claims), 512):
        sims = c_vec[start:start + 512] @ p_vec.T
        for row, claim in zip(sims, claims[start:start + 512]):
            mine = [p_index[p] for p in own[claim]]
            too_close = (p_vec[mine] @ p_vec.T).max(axis=0) >= args.own_sim
            row = np.where(too_close | (row > args.max_sim), -1.0, row)
            best = int(row.argmax())
            if row[best] < args.min_sim:
                skipped += 1
                continue
            out.append({"premise": premises[best], "hypothesis": claim, "label": "neutral",
                        "source": "fever_neutral:retrieved", "similarity": round(float(row[best]), 4)})
    import random

    from verify.pipeline.nli import load_nli

    picked = len(out)
    out = [r for r in out if r["similarity"] <= args.keep_sim]
    nli = load_nli(args.filter_model)
    scores = nli.score([(r["premise"], r["hypothesis"]) for r in out])
    out = [r for r, (e, _, c) in zip(out, scores) if max(e, c) < args.max_confidence]
    random.Random(args.seed).shuffle(out)
    out = out[:args.limit]
    print(f"{picked} picked, {len(out)} kept after the similarity cap and the {nli.model_id} filter")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(out)} neutral pairs from {len(claims)} FEVER claims ({skipped} without a related premise) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
