#!/usr/bin/env python
"""Speed of the language pieces: the multilingual embedder against the English one, and detection.

Both embedders encode the same sentences in one process, interleaved repeats so the shared
machine's noise hits both alike; the ratio (multilingual / English sentences/s) is the
figure to compare across runs. Sentences are drawn reproducibly from the NLI training file
in ../shared (or written from a template where it is absent). Language detection is timed
per sentence (``sentence_language``) and per document (``document_language``).

Example:
    python scripts/bench_language.py --sentences 2000 --json
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

from verify.pipeline.embed import MultilingualEmbedder, SentenceTransformerEmbedder  # noqa: E402
from verify.pipeline.language import document_language, sentence_language  # noqa: E402

from benchlib import SHARED, nli_sentences  # noqa: E402


def sample_sentences(n: int, seed: int = 11) -> tuple[list[str], str]:
    if (SHARED / "nli/train_mix.jsonl").exists():
        pool = nli_sentences(8, 40)
        return random.Random(seed).sample(pool, min(n, len(pool))), "shared/nli/train_mix.jsonl"
    rng = random.Random(seed)
    subjects = ["The minister", "A spokesman", "The alliance", "Officials", "The embassy", "The committee"]
    verbs = ["said", "denied", "confirmed", "announced", "suggested", "warned"]
    rest = ["that talks would resume next week", "that troops would stay in the region",
            "a new round of sanctions on the largest banks", "plans to reopen the office in the capital",
            "that the written response had been delivered on Wednesday"]
    return [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(rest)} ({i})." for i in range(n)], "template"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    sentences, source = sample_sentences(args.sentences)
    words = statistics.mean(len(s.split()) for s in sentences)
    t = time.perf_counter()
    english = SentenceTransformerEmbedder()
    english_load = time.perf_counter() - t
    t = time.perf_counter()
    multi = MultilingualEmbedder()
    multi.encode(sentences[:8])  # the weights load on first use
    multi_load = time.perf_counter() - t
    english.encode(sentences[:64])  # warm-up
    en_t, ml_t = [], []
    for _ in range(args.repeats):
        t = time.perf_counter(); english.encode(sentences); en_t.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); multi.encode(sentences); ml_t.append(time.perf_counter() - t)  # noqa: E702
    en_rate = len(sentences) / statistics.median(en_t)
    ml_rate = len(sentences) / statistics.median(ml_t)

    document_language("warm-up text for the language model, long enough to be read as a whole document")
    t = time.perf_counter()
    for s in sentences:
        sentence_language(s, "es")
    detect_rate = len(sentences) / (time.perf_counter() - t)
    doc = " ".join(sentences[:200])
    t = time.perf_counter()
    document_language(doc)
    doc_ms = (time.perf_counter() - t) * 1000

    out = {
        "sentences": len(sentences), "source": source, "mean_words": round(words, 1), "repeats": args.repeats,
        "english_model": english.model_id, "multilingual_model": multi.model_id,
        "english_sentences_per_s": round(en_rate, 1), "multilingual_sentences_per_s": round(ml_rate, 1),
        "ratio_multilingual_to_english": round(ml_rate / en_rate, 3),
        "load_s": {"english": round(english_load, 2), "multilingual": round(multi_load, 2)},
        "sentence_language_per_s": round(detect_rate, 1),
        "document_language_ms": {"chars": len(doc), "ms": round(doc_ms, 1)},
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{len(sentences)} sentences ({source}, {words:.1f} words on average), median of {args.repeats}:")
        print(f"  English {english.model_id}: {en_rate:.1f} sentences/s (load {english_load:.2f} s)")
        print(f"  multilingual {multi.model_id}: {ml_rate:.1f} sentences/s (load {multi_load:.2f} s)")
        print(f"  ratio multilingual / English: {ml_rate / en_rate:.3f}")
        print(f"  sentence language detection: {detect_rate:.1f} sentences/s; "
              f"a {len(doc)}-character document: {doc_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
