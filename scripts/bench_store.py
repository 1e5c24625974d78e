#!/usr/bin/env python
"""The two stores side by side on one corpus: SQLite + FAISS against PostgreSQL + pgvector.

One run, one machine, the same 100k real official sentences (premises and hypotheses of
../shared/nli, embedded once by the real embedder) in both stores:

  build    ingest into corpus.db and build the FAISS index; `verify copy` into PostgreSQL
           (verified) and build the pgvector HNSW index from the copied embeddings cache.
  search   p50 / p95 latency of one claim's candidate retrieval (``retrieve``: dense, and
           hybrid = dense + lexical fused), over held-out sentences used as claims; and
           recall@10 of pgvector's HNSW against FAISS's exact search.
  check    claims/s of a whole check (embed, retrieve, NLI, decide, store) of the same
           report in each store, with the shipped NLI model.

Every figure is printed with the PostgreSQL / SQLite ratio measured in this run. Without
--pg it starts a throw-away PostgreSQL cluster (tests/pgserver.py; needs initdb and pgvector).

Example:
    python scripts/bench_store.py                    # 100k sentences
    python scripts/bench_store.py --sentences 20000 --claims 50 --json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED = ROOT.parent / "shared"


def sentences(n: int, seed: int = 7) -> list[str]:
    """Distinct real sentences (6-50 words) from ../shared/nli's training files, shuffled."""
    seen: set[str] = set()
    for name in ("train_mix.jsonl", "extra_nli.jsonl"):
        with open(SHARED / "nli" / name, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                for s in (row["premise"], row["hypothesis"]):
                    s = " ".join(s.split())
                    if 6 <= len(s.split()) <= 50 and s.isascii():
                        seen.add(s)
    out = sorted(seen)
    random.Random(seed).shuffle(out)
    if len(out) < n:
        raise SystemExit(f"only {len(out)} distinct sentences in ../shared/nli; ask for fewer")
    return out[:n]


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else xs[0]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def build_sqlite(path: Path, texts: list[str], per_doc: int = 100):
    from verify.pipeline.ingest import build_document
    from verify.store.corpus import Corpus

    corpus = Corpus(path)
    with corpus.transaction():
        for i in range(0, len(texts), per_doc):
            corpus.add_document(build_document("official", "\n".join(texts[i:i + per_doc]),
                                               {"title": f"statement {i // per_doc}", "published": "2022-01-26"},
                                               source=f"bench:{i}", fmt="txt", allow_any_language=True))
    return corpus


def search_latency(corpus, index, claims: list[str], vectors, mode: str) -> list[float]:
    from verify.pipeline.retrieve import retrieve

    out = []
    for text, vec in zip(claims, vectors):
        t = time.perf_counter()
        retrieve(corpus, index, [text], vec[None, :], 5, mode)
        out.append(1000 * (time.perf_counter() - t))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300, help="claims timed for search latency")
    ap.add_argument("--claims", type=int, default=100, help="claims in the checked report")
    ap.add_argument("--pg", help="an empty PostgreSQL database URL (default: a throw-away cluster)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np

    from verify.loading import embedder as load_embedder
    from verify.pipeline.check import Checker
    from verify.pipeline.index import open_index
    from verify.pipeline.ingest import build_document
    from verify.pipeline.nli import load_nli
    from verify.store import open_corpus
    from verify.store.copy import copy_corpus

    texts = sentences(args.sentences + args.queries + args.claims)
    official, queries, claims = (texts[:args.sentences], texts[args.sentences:args.sentences + args.queries],
                                 texts[args.sentences + args.queries:])
    server = None
    dsn = args.pg
    if dsn is None:
        from pgserver import start_server

        server = start_server()
        dsn = server.new_database()
    emb = load_embedder()
    result: dict = {"sentences": len(official), "queries": len(queries), "embed_model": emb.model_id}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lite, t_ingest = timed(lambda: build_sqlite(Path(tmp) / "corpus.db", official))
            faiss_index = open_index(lite, emb)
            status, t_faiss = timed(faiss_index.ensure)  # embeds every sentence once, into the cache
            pg = open_corpus(dsn)
            report, t_copy = timed(lambda: copy_corpus(lite, pg))
            pg_index = open_index(pg, emb)
            pg_status, t_hnsw = timed(pg_index.ensure)  # vectors from the copied cache: no model call
            result["build"] = {
                "sqlite_ingest_s": round(t_ingest, 1), "faiss_embed_and_index_s": round(t_faiss, 1),
                "faiss_kind": status.action, "copy_to_postgres_s": round(t_copy, 1), "copy_verified": report.ok,
                "pgvector_hnsw_index_s": round(t_hnsw, 1), "pg_index_count": pg_status.count,
            }

            qvecs = emb.encode(queries)
            search: dict = {}
            for mode in ("dense", "hybrid"):
                search_latency(lite, faiss_index, queries[:10], qvecs[:10], mode)  # warm caches
                search_latency(pg, pg_index, queries[:10], qvecs[:10], mode)
                a = search_latency(lite, faiss_index, queries, qvecs, mode)
                b = search_latency(pg, pg_index, queries, qvecs, mode)
                search[mode] = {"sqlite_faiss_p50_ms": round(pct(a, 50), 2), "sqlite_faiss_p95_ms": round(pct(a, 95), 2),
                                "postgres_p50_ms": round(pct(b, 50), 2), "postgres_p95_ms": round(pct(b, 95), 2),
                                "p95_ratio_postgres_to_sqlite": round(pct(b, 95) / pct(a, 95), 2)}
            exact = faiss_index.search(qvecs, 10)
            approx = pg_index.search(qvecs, 10)
            recall = np.mean([len({i for i, _ in x} & {i for i, _ in y}) / max(1, len(x)) for x, y in zip(exact, approx)])
            search["pgvector_recall_at_10_vs_exact"] = round(float(recall), 4)
            result["search"] = search

            nli = load_nli(None)
            check: dict = {"claims": len(claims), "nli_model": nli.model_id if nli else None}
            for name, corpus in (("sqlite_faiss", lite), ("postgres", pg)):
                doc = corpus.add_document(build_document("report", "\n".join(claims), {"title": "bench report"},
                                                         source="bench:report", fmt="txt", allow_any_language=True))
                checker = Checker(corpus, embedder=emb, nli=nli, k=5)
                checker.index
                run, seconds = timed(lambda: checker.check_documents([doc.document_id]))
                check[f"{name}_claims_per_s"] = round(len(run.results) / seconds, 2)
                check[f"{name}_counts"] = run.counts()
            check["throughput_ratio_postgres_to_sqlite"] = round(
                check["postgres_claims_per_s"] / check["sqlite_faiss_claims_per_s"], 3)
            result["check"] = check
            pg.close()
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    b, s, c = result["build"], result["search"], result["check"]
    print(f"{result['sentences']:,} official sentences, {result['queries']} timed claims, {c['claims']} checked")
    print(f"build: SQLite ingest {b['sqlite_ingest_s']} s, FAISS embed+index {b['faiss_embed_and_index_s']} s; "
          f"copy to PostgreSQL {b['copy_to_postgres_s']} s (verified: {b['copy_verified']}), "
          f"HNSW index {b['pgvector_hnsw_index_s']} s")
    for mode in ("dense", "hybrid"):
        m = s[mode]
        print(f"search {mode:<6}: SQLite+FAISS p50 {m['sqlite_faiss_p50_ms']} ms p95 {m['sqlite_faiss_p95_ms']} ms | "
              f"PostgreSQL p50 {m['postgres_p50_ms']} ms p95 {m['postgres_p95_ms']} ms | "
              f"p95 ratio {m['p95_ratio_postgres_to_sqlite']}")
    print(f"pgvector HNSW recall@10 against exact search: {s['pgvector_recall_at_10_vs_exact']}")
    print(f"check: SQLite+FAISS {c['sqlite_faiss_claims_per_s']} claims/s, PostgreSQL {c['postgres_claims_per_s']} "
          f"claims/s, ratio {c['throughput_ratio_postgres_to_sqlite']}")


if __name__ == "__main__":
    main()
