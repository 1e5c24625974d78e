#!/usr/bin/env python
"""verify's speed against its own models' limits, and how cost grows with the corpus.

Sections (each prints ratios measured in this one run, since machines are noisy):

  embed    sentences/s of the index stage (hashing, cache, SQLite, FAISS) over N new
           sentences vs raw SentenceTransformer.encode of the same sentences.
  check    claims/s of a full check (embed claims, hybrid retrieval, NLI on k pairs,
           decision, storage) vs the raw NLI forward passes those claims need.
  scale    synthetic clustered unit vectors (labelled synthetic) at 10k/100k/1M: index
           type, build time, size on disk, RSS, p50/p95 single-claim search latency, and
           recall@10 against exact search; each size in its own process for clean RSS.
  startup  wall time of `verify --help` and `verify runs`; first `verify claim` with model load.

Real sentences come reproducibly from ../shared/nli/train_mix.jsonl.

Example:
    python scripts/bench.py --json > build/bench.json
    python scripts/bench.py --only scale --sizes 10000,100000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import nli_sentences, raw_nli_forward  # noqa: E402


def rss_mb() -> int:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def real_sentences(n: int, seed: int = 5) -> list[str]:
    out = nli_sentences(6, 50)
    random.Random(seed).shuffle(out)
    return out[:n]


def corpus_with(sentences: list[str], tmp: str, kind: str = "official", per_doc: int = 100):
    from verify.pipeline.ingest import build_document
    from verify.store.corpus import Corpus

    corpus = Corpus(Path(tmp) / "corpus.db")
    ids = []
    with corpus.transaction():
        for i in range(0, len(sentences), per_doc):
            doc = build_document(kind, "\n".join(sentences[i:i + per_doc]), {"title": f"{kind} {i}"},
                                 source=f"bench:{kind}:{i}", fmt="txt", allow_any_language=True)
            ids.append(corpus.add_document(doc).document_id)
    return corpus, ids


def bench_embed(n: int) -> dict:
    from verify.pipeline.embed import SentenceTransformerEmbedder
    from verify.pipeline.index import VectorIndex

    sents = real_sentences(n)
    emb = SentenceTransformerEmbedder()
    emb.encode(sents[:64])  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        corpus, _ = corpus_with(sents, tmp)
        t = time.perf_counter()
        emb.model.encode(sents, batch_size=emb.batch_size, normalize_embeddings=True, show_progress_bar=False)
        raw = time.perf_counter() - t
        t = time.perf_counter()
        status = VectorIndex(corpus, emb).ensure()
        ours = time.perf_counter() - t
    return {"sentences": len(sents), "raw_encode_per_s": round(len(sents) / raw, 1),
            "verify_index_per_s": round(status.added / ours, 1), "ratio": round(raw / ours, 3),
            "target_ratio": 0.90, "peak_rss_mb": rss_mb()}


def bench_check(n_official: int, n_claims: int, k: int) -> dict:
    from verify.pipeline.check import Checker
    from verify.pipeline.ingest import build_document
    from verify.pipeline.nli import load_nli

    sents = real_sentences(n_official + n_claims, seed=9)
    nli = load_nli(None)
    if nli is None:
        return {"skipped": "no NLI model"}
    with tempfile.TemporaryDirectory() as tmp:
        corpus, _ = corpus_with(sents[:n_official], tmp)
        claims = [s.rstrip(".") + "." for s in sents[n_official:]]
        with corpus.transaction():
            reports = [corpus.add_document(build_document(
                "report", "\n".join(claims[i:i + 20]), {"title": f"r{i}"}, source=f"r{i}", fmt="txt",
                allow_any_language=True)).document_id for i in range(0, len(claims), 20)]
        checker = Checker(corpus, nli=nli, k=k)
        checker.index  # build the index first: this section measures checking
        nli.score_pairs([("warm up", "warm up")])
        t = time.perf_counter()
        run = checker.check_documents(reports)
        ours = time.perf_counter() - t
        # every pair the check scored: whole sentences, and clause pairs of long ones
        pairs = [(e.sentence["text"], r.proposition) for r in run.results for e in r.evidence]
        pairs += [(u.premise or e.sentence["text"], r.verdict.clauses[u.claim] if u.claim is not None else r.proposition)
                  for r in run.results for e in r.evidence for u in e.units]
        t = time.perf_counter()
        raw_nli_forward(nli, pairs, nli.batch_size)
        raw = time.perf_counter() - t
    n = len(run.results)
    return {"official_sentences": n_official, "claims": n, "k": k, "pairs": len(pairs),
            "verify_claims_per_s": round(n / ours, 2), "raw_nli_claims_per_s": round(n / raw, 2),
            "ratio": round(raw / ours, 3), "target_ratio": 0.80,
            "nli_ms_per_claim": round(1000 * raw / n, 1), "peak_rss_mb": rss_mb()}


def synthetic_chunks(n: int, dim: int = 384, chunk: int = 50_000, seed: int = 3):
    """Clustered unit vectors: 2,000 topic centres plus noise (synthetic, not real text)."""
    import numpy as np

    centres = np.random.default_rng(seed).normal(size=(2000, dim)).astype(np.float32)
    for start in range(0, n, chunk):
        rng = np.random.default_rng(seed * 1_000_003 + start)
        m = min(chunk, n - start)
        x = centres[rng.integers(0, len(centres), m)] + 0.9 * rng.normal(size=(m, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield start, x


def bench_scale_one(n: int, queries: int = 200) -> dict:
    """Run in a child process: one corpus size, clean peak RSS."""
    import faiss
    import numpy as np

    from verify.pipeline.index import index_kind, new_faiss

    dim = 384
    rng = np.random.default_rng(7)
    first = next(synthetic_chunks(min(n, 100_000), chunk=100_000))[1]
    q = first[rng.integers(0, len(first), queries)] + 0.3 * rng.normal(size=(queries, dim)).astype(np.float32)
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    t = time.perf_counter()
    index = new_faiss(n, dim, train_sample=first)
    for start, x in synthetic_chunks(n):
        index.add_with_ids(x, np.arange(start, start + len(x), dtype=np.int64))
    build = time.perf_counter() - t
    with tempfile.NamedTemporaryFile(suffix=".faiss") as f:  # on disk: no second copy in memory
        faiss.write_index(index, f.name)
        size = os.path.getsize(f.name)
    lat = []
    found = []
    for i in range(queries):
        t = time.perf_counter()
        _, ids = index.search(q[i:i + 1], 10)
        lat.append((time.perf_counter() - t) * 1000)
        found.append(set(ids[0].tolist()))
    # Exact top-10 by brute force over regenerated chunks (no second copy in memory).
    best = np.full((queries, 10), -np.inf, np.float32)
    best_ids = np.zeros((queries, 10), np.int64)
    for start, x in synthetic_chunks(n):
        sims = q @ x.T
        cand = np.concatenate([best, sims], axis=1)
        cand_ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + len(x)), sims.shape)], axis=1)
        top = np.argpartition(-cand, 10, axis=1)[:, :10]
        best = np.take_along_axis(cand, top, 1)
        best_ids = np.take_along_axis(cand_ids, top, 1)
    recall = statistics.mean(len(found[i] & set(best_ids[i].tolist())) / 10 for i in range(queries))
    lat.sort()
    return {"vectors": n, "synthetic": True, "index": index_kind(index), "build_s": round(build, 2),
            "size_mb": round(size / 2**20, 1), "p50_ms": round(lat[len(lat) // 2], 3),
            "p95_ms": round(lat[int(len(lat) * 0.95)], 3), "recall_at_10_vs_exact": round(recall, 4),
            "peak_rss_mb": rss_mb()}


def bench_scale(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--scale-one", str(n)], capture_output=True, text=True)
        if out.returncode:
            rows.append({"vectors": n, "error": out.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(out.stdout))
    return rows


def bench_startup() -> dict:
    exe = str(Path(sys.executable).parent / "verify")

    def wall(args, n=5):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run([exe, *args], capture_output=True, check=False)
            times.append(time.perf_counter() - t)
        return round(statistics.median(times), 3)

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "c.db")
        (Path(tmp) / "o.txt").write_text("NATO proposed a civilian hotline with Russia to reduce military risk.\n")
        subprocess.run([exe, "ingest", "official", str(Path(tmp) / "o.txt"), "--db", db, "-q"], check=True)
        return {"help_s": wall(["--help"]), "runs_s": wall(["runs", "--db", db]), "target_s": 0.3,
                "first_claim_with_model_load_s": wall(["claim", "NATO offered Russia a hotline", "--db", db,
                                                       "-q", "-f", "json"], n=1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["embed", "check", "scale", "startup"], action="append")
    ap.add_argument("--embed-sentences", type=int, default=20_000)
    ap.add_argument("--check-official", type=int, default=5_000)
    ap.add_argument("--check-claims", type=int, default=200)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.scale_one:
        print(json.dumps(bench_scale_one(args.scale_one)))
        return 0
    parts = args.only or ["startup", "embed", "check", "scale"]
    out = {"machine": {"cpus": os.cpu_count()}}
    if "startup" in parts:
        out["startup"] = bench_startup()
    if "embed" in parts:
        out["embed"] = bench_embed(args.embed_sentences)
    if "check" in parts:
        out["check"] = bench_check(args.check_official, args.check_claims, args.k)
    if "scale" in parts:
        out["scale"] = bench_scale([int(s) for s in args.sizes.split(",")])
        nli_ms = out.get("check", {}).get("nli_ms_per_claim")
        if nli_ms:  # NLI per claim does not depend on corpus size; search latency does
            for row in out["scale"]:
                if "p50_ms" in row:
                    row["check_ms_per_claim_estimate"] = round(nli_ms + row["p50_ms"], 1)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for name, section in out.items():
        print(f"== {name}")
        rows = section if isinstance(section, list) else [section]
        for row in rows:
            print("   " + "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
