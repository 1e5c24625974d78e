"""The vector index of official sentences, one per embedding model, derived from the corpus.

``open_index`` picks the engine: a FAISS file in embeddings/ for corpus.db, a pgvector
table with an HNSW index inside a PostgreSQL corpus (``PgVectorIndex``).

The index file is never trusted blindly: a JSON header beside it records the model id,
dimension, row count, highest sentence id and a checksum of the index bytes. On load the
header is checked against the database and the file; anything stale or damaged is rebuilt
from the database (which is always the source of truth), and new sentences are appended.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from verify.pipeline.embed import Embedder, embed_cached
from verify.settings import settings
from verify.store.corpus import Corpus
from verify.util import atomic_write_bytes

# Exact search up to ``settings().exact_limit`` sentences (it is fast enough and never
# misses); an inverted-file index above it keeps search latency flat as the corpus grows.
ADD_BATCH = 2048  # official sentences embedded, cached and indexed per step
IVF_MIN_NPROBE = 32


def new_faiss(n: int, dim: int, train_sample: np.ndarray | None = None, exact_limit: int | None = None):
    """An empty FAISS index suited to ``n`` vectors (trained on ``train_sample`` if IVF).

    Exact inner product below ``exact_limit`` rows; above it IVF-Flat with
    nlist = 4 * sqrt(n) lists, searched in nlist / 16 of them (at least 32): about 6% of
    the corpus per query, which kept recall@10 against exact search at 0.95 or more on the
    benchmark's clustered data (scripts/bench.py) while p95 latency stayed in milliseconds.
    """
    import faiss

    if n < (settings().exact_limit if exact_limit is None else exact_limit):
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(np.ascontiguousarray(train_sample, dtype=np.float32))
    ivf.nprobe = max(IVF_MIN_NPROBE, nlist // 16)
    ivf.make_direct_map()  # similarities() reconstructs lexical-only hits by id
    return faiss.IndexIDMap2(ivf)


def build_faiss(vectors: np.ndarray, ids: np.ndarray, dim: int, exact_limit: int | None = None):
    """A FAISS index over ``vectors`` (L2-normalised float32) keyed by ``ids``."""
    n = len(vectors)
    sample = vectors[np.random.default_rng(0).choice(n, size=min(n, 100_000), replace=False)] if n else None
    index = new_faiss(n, dim, sample, exact_limit)
    if n:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def index_kind(index) -> str:
    import faiss

    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    return type(inner).__name__


@dataclass
class IndexStatus:
    action: str  # "loaded", "updated", "rebuilt", "built"
    count: int
    added: int
    reason: str = ""


def open_index(corpus: Corpus, embedder: Embedder):
    """The index of ``corpus``'s official sentences for ``embedder``: not yet loaded (``ensure``)."""
    if hasattr(corpus, "vector_table"):  # verify.store.postgres.PgCorpus
        return PgVectorIndex(corpus, embedder)
    return VectorIndex(corpus, embedder)


class VectorIndex:
    """Inner-product (cosine, on normalised vectors) search over official sentences."""

    def __init__(self, corpus: Corpus, embedder: Embedder):
        self.corpus = corpus
        self.embedder = embedder
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.model_id)
        self.path = corpus.embeddings_dir / f"{slug}.faiss"
        self.meta_path = corpus.embeddings_dir / f"{slug}.json"
        self.index = None
        self.max_id = 0

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @property
    def location(self) -> str:
        return str(self.path)

    # --- lifecycle ------------------------------------------------------------------------
    def ensure(self, progress=None) -> IndexStatus:
        """Load the index, then rebuild or extend it until it matches the database."""
        reason = self._load()
        if reason:
            status = self._rebuild(progress)
            status.reason = reason
            return status
        exact_limit = settings().exact_limit
        if self.index.ntotal >= exact_limit and index_kind(self.index) == "IndexFlatIP":
            status = self._rebuild(progress)  # outgrew exact search
            status.reason = f"over {exact_limit} sentences: switched to an IVF index"
            return status
        added = self._add_new(progress)
        return IndexStatus("updated" if added else "loaded", self.index.ntotal, added)

    def _load(self) -> str:
        """Load from disk; return why it cannot be used ("" when it can)."""
        import faiss

        if not self.path.exists() or not self.meta_path.exists():
            return "no index yet"
        try:
            meta = json.loads(self.meta_path.read_text())
            data = self.path.read_bytes()
        except (OSError, ValueError):
            return "index header unreadable"
        if not isinstance(meta, dict):
            return "index header unreadable"
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return "index file damaged (checksum mismatch)"
        if meta.get("model_id") != self.embedder.model_id or meta.get("dim") != self.embedder.dim:
            return "index built with another model"
        expected = self.corpus.official_sentence_count(upto=meta.get("max_id", 0))
        if expected != meta.get("count"):
            return "database changed under the index"
        if meta.get("documents") != self._documents_digest(meta.get("max_id", 0)):
            return "index built from other documents"
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError:
            return "index file unreadable"
        if index.ntotal != meta["count"] or index.d != self.embedder.dim:
            return "index contents disagree with header"
        self.index, self.max_id = index, meta["max_id"]
        return ""

    def _documents_digest(self, max_id: int) -> str:
        """Hash of the official documents the index covers: another corpus never matches."""
        h = hashlib.sha256()
        for sha in self.corpus.official_hashes_upto(max_id):
            h.update(sha.encode())
        return h.hexdigest()[:16]

    def _rebuild(self, progress=None) -> IndexStatus:
        existed = self.path.exists()
        n = self.corpus.official_sentence_count()
        if n < settings().exact_limit:
            self.index, self.max_id = build_faiss(np.zeros((0, self.embedder.dim), np.float32),
                                                  np.zeros(0, np.int64), self.embedder.dim), 0
            added = self._add_new(progress, force_save=True)
        else:  # IVF must be trained on the vectors before any is added
            rows = self.corpus.official_sentences_after(0)
            vecs = np.concatenate([embed_cached(self.corpus, self.embedder, [t for _, t in rows[i:i + 4096]])
                                   for i in range(0, len(rows), 4096)])
            self.index = build_faiss(vecs, np.array([i for i, _ in rows], np.int64), self.embedder.dim)
            self.max_id, added = rows[-1][0], len(rows)
            if progress:
                progress(added)
            self.save()
        return IndexStatus("rebuilt" if existed else "built", self.index.ntotal, added)

    def _add_new(self, progress=None, force_save: bool = False, batch: int = ADD_BATCH) -> int:
        rows = self.corpus.official_sentences_after(self.max_id)
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            vecs = embed_cached(self.corpus, self.embedder, [t for _, t in chunk])
            self.index.add_with_ids(vecs, np.array([i for i, _ in chunk], dtype=np.int64))
            self.max_id = chunk[-1][0]
            if progress:
                progress(len(chunk))
        if rows or force_save:
            self.save()
        return len(rows)

    def save(self) -> None:
        import faiss

        data = faiss.serialize_index(self.index).tobytes()
        atomic_write_bytes(self.path, data)
        meta = {"model_id": self.embedder.model_id, "dim": self.embedder.dim, "count": int(self.index.ntotal),
                "max_id": int(self.max_id), "sha256": hashlib.sha256(data).hexdigest(),
                "documents": self._documents_digest(int(self.max_id)),
                "kind": f"IndexIDMap2({index_kind(self.index)})"}
        atomic_write_bytes(self.meta_path, json.dumps(meta, indent=2).encode())

    # --- queries --------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        """Top-``k`` (sentence id, cosine similarity) for each query vector.

        Args:
            ids: if given, only these sentence ids may be returned (speaker / date scope).
        """
        import faiss

        if self.index is None or self.index.ntotal == 0 or (ids is not None and len(ids) == 0):
            return [[] for _ in range(len(vectors))]
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids)) if ids is not None else None
        scores, found = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32),
                                          min(k, self.index.ntotal), params=params)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                for row_ids, row_scores in zip(found, scores)]

    def vectors(self, sentence_ids) -> np.ndarray:
        """The stored (normalised) vectors of indexed sentences, one row per id."""
        if len(sentence_ids) == 0:
            return np.zeros((0, self.embedder.dim), np.float32)
        return np.stack([self.index.reconstruct(int(i)) for i in sentence_ids])

    def similarities(self, vector: np.ndarray, sentence_ids: list[int]) -> list[float]:
        """Cosine similarity of one query vector with given indexed sentences."""
        return [float(x) for x in self.vectors(sentence_ids) @ vector]


class PgVectorIndex:
    """The same search as ``VectorIndex``, by pgvector inside a PostgreSQL corpus.

    The vectors live in a table beside the sentences (HNSW, cosine), so every journalist's
    process shares one index and none keeps a file. Candidates come from the HNSW graph;
    their similarities are computed here from the stored float32 vectors, as FAISS computes
    them, so both stores report the same numbers.
    """

    def __init__(self, corpus, embedder: Embedder):
        self.corpus = corpus
        self.embedder = embedder
        self.table = corpus.vector_table(embedder.model_id, embedder.dim)
        self.count, self.max_id = 0, 0

    def __len__(self) -> int:
        return self.count

    @property
    def location(self) -> str:
        return f"{self.corpus.location} table {self.table}"

    def ensure(self, progress=None) -> IndexStatus:
        """Add the official sentences the table lacks (embedded once: the cache is shared)."""
        before, self.max_id = self.corpus.vector_count(self.table)
        if self.max_id < self.corpus.max_official_sentence_id() or not self.corpus.has_vector_index(self.table):
            # One process adds a batch of new sentences; the others wait and then find it done.
            with self.corpus.exclusive(f"index {self.table}", wait=3600):
                _, self.max_id = self.corpus.vector_count(self.table)
                rows = self.corpus.official_sentences_after(self.max_id)
                for start in range(0, len(rows), ADD_BATCH):
                    chunk = rows[start:start + ADD_BATCH]
                    vecs = embed_cached(self.corpus, self.embedder, [t for _, t in chunk])
                    self.corpus.store_sentence_vectors(self.table, [i for i, _ in chunk], vecs)
                    if progress:
                        progress(len(chunk))
                self.corpus.ensure_vector_index(self.table)
        self.count, self.max_id = self.corpus.vector_count(self.table)
        added = self.count - before
        return IndexStatus("updated" if added else "loaded", self.count, added)

    def search(self, vectors: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        """Top-``k`` (sentence id, cosine similarity) for each query vector (``VectorIndex.search``)."""
        if self.count == 0 or (ids is not None and len(ids) == 0):
            return [[] for _ in range(len(vectors))]
        out = []
        for vec in np.asarray(vectors, dtype=np.float32):
            found = self.corpus.nearest_sentences(self.table, vec, k, ids)
            if not found:
                out.append([])
                continue
            sims = np.array([v for _, v in found], dtype=np.float32) @ vec
            out.append(sorted(((int(sid), float(x)) for (sid, _), x in zip(found, sims)), key=lambda p: (-p[1], p[0])))
        return out

    def vectors(self, sentence_ids) -> np.ndarray:
        if len(sentence_ids) == 0:
            return np.zeros((0, self.embedder.dim), np.float32)
        stored = self.corpus.sentence_vectors(self.table, sentence_ids)
        return np.array([stored[int(i)] for i in sentence_ids], dtype=np.float32)

    def similarities(self, vector: np.ndarray, sentence_ids: list[int]) -> list[float]:
        return [float(x) for x in self.vectors(sentence_ids) @ np.asarray(vector, dtype=np.float32)]
