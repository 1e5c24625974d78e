#!/usr/bin/env python
"""NLI scoring speed: verify's wrapper vs the raw model forward pass, in one process.

Pairs of ~25-word sentences are drawn reproducibly from the NLI training file. The raw
baseline is tokenise + forward + softmax at batch 32 on pre-sorted input; the wrapper
is ``TransformersNLI.score_pairs`` (length sorting, truncation bookkeeping, label
reordering, rounding). Reports pairs/s for both and the overhead ratio.

Example:
    python scripts/bench_nli.py --pairs 1024 --json
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.pipeline.nli import TransformersNLI, resolve_nli_path  # noqa: E402

from benchlib import nli_sentences, raw_nli_forward  # noqa: E402


def sample_pairs(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """Random pairs of ~25-word sentences (20-30 words each)."""
    sents = nli_sentences(20, 30)
    rng = random.Random(seed)
    return [(rng.choice(sents), rng.choice(sents)) for _ in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="a shipped model's name (mpnet, minilm) or a directory "
                                                  "[default: the default shipped model]")
    ap.add_argument("--pairs", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    model = TransformersNLI(resolve_nli_path(args.model), batch_size=args.batch_size)
    torch = model.torch
    pairs = sample_pairs(args.pairs)
    words = statistics.mean(len(p.split()) + len(h.split()) for p, h in pairs) / 2

    def raw():
        raw_nli_forward(model, pairs, args.batch_size)

    def wrapped():
        model.score_pairs(pairs)

    wrapped()  # warm-up: first calls allocate
    raw_t, wrap_t = [], []
    for _ in range(args.repeats):  # interleaved so machine noise hits both alike
        t = time.perf_counter(); raw(); raw_t.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); wrapped(); wrap_t.append(time.perf_counter() - t)  # noqa: E702
    raw_rate = len(pairs) / statistics.median(raw_t)
    wrap_rate = len(pairs) / statistics.median(wrap_t)
    result = {"model": model.model_id, "pairs": len(pairs), "mean_words_per_sentence": round(words, 1),
              "batch_size": args.batch_size, "threads": torch.get_num_threads(),
              "raw_pairs_per_s": round(raw_rate, 1), "wrapper_pairs_per_s": round(wrap_rate, 1),
              "wrapper_overhead": round(1 - wrap_rate / raw_rate, 4),
              # 100 pairs/s was set for the 6-layer minilm, 15 for the 12-layer mpnet (issue "NLI model v3")
              "targets": {"wrapper_pairs_per_s>=100 (minilm)": wrap_rate >= 100,
                          "wrapper_pairs_per_s>=15 (mpnet)": wrap_rate >= 15,
                          "overhead<=0.10": wrap_rate / raw_rate >= 0.90}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(pairs)} pairs, ~{words:.0f} words per sentence, batch {args.batch_size}, "
              f"{result['threads']} threads")
        print(f"raw forward   {raw_rate:7.1f} pairs/s")
        print(f"verify nli    {wrap_rate:7.1f} pairs/s   overhead {result['wrapper_overhead'] * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
