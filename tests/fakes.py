"""Deterministic fake models shared by the test suite and by subprocess workers.

``FakeEmbedder`` and ``FakeNLI`` satisfy verify's model interfaces
(``verify.pipeline.embed.Embedder`` and ``verify.pipeline.nli.NLIModel``) without loading anything.

``FAKE_SLOW_MS`` (environment variable, milliseconds, default 0) makes both sleep that long
per text encoded or pair scored, so that a test can SIGKILL a worker process while a real
operation (index build, check) is in progress. Sleeping costs no CPU.
"""
from __future__ import annotations

import hashlib
import os
import re
import time

import numpy as np

from verify.pipeline.nli import NLIModel


def _slow(n: int) -> None:
    ms = float(os.environ.get("FAKE_SLOW_MS") or 0)
    if ms > 0 and n:
        time.sleep(ms * n / 1000.0)


_WORD = re.compile(r"[a-z0-9']+")
NEGATIONS = frozenset({"not", "no", "never", "without", "n't"})
STOPWORDS = frozenset({
    "the", "a", "an", "of", "to", "in", "on", "and", "or", "is", "are", "was", "were", "be", "that",
    "this", "it", "its", "for", "with", "as", "by", "at", "from", "will", "has", "have", "had", "said",
    "says", "would", "which", "their", "they", "s",
})


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("n't", " not"))


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS and w not in NEGATIONS}


def _bucket(word: str, dim: int) -> int:
    return int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little") % dim


class FakeEmbedder:
    """Hashed bag of lowercase words, L2-normalised: sentences sharing words are similar."""

    model_id = "fake-embed"
    dim = 64

    def __init__(self):
        self.calls = 0
        self.texts_encoded = 0
        self.seen: list[str] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls += 1
        self.texts_encoded += len(texts)
        self.seen.extend(texts)
        _slow(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in words(text):
                out[i, _bucket(w, self.dim)] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm == 0.0:
                out[i, 0] = 1.0  # a fixed unit vector for text without words
            else:
                out[i] /= norm
        return out


class FakeNLI(NLIModel):
    """Word-overlap NLI: shared content words entail, unless exactly one side is negated."""

    model_id = "fake-nli"

    def __init__(self, overlap: float = 0.6):
        self.overlap = overlap
        self.calls = 0
        self.pairs_scored = 0
        self.seen: list[tuple[str, str]] = []

    @staticmethod
    def negated(text: str) -> bool:
        return any(w in NEGATIONS for w in words(text))

    def score(self, pairs):
        pairs = list(pairs)
        self.calls += 1
        self.pairs_scored += len(pairs)
        self.seen.extend(pairs)
        _slow(len(pairs))
        out = []
        for premise, hypothesis in pairs:
            p, h = content_words(premise), content_words(hypothesis)
            shared = len(p & h) / max(1, len(h))
            if shared >= self.overlap and self.negated(premise) != self.negated(hypothesis):
                out.append((0.05, 0.05, 0.9))
            elif shared >= self.overlap:
                out.append((0.9, 0.05, 0.05))
            else:
                out.append((0.05, 0.9, 0.05))
        return out


class FakeEntityTagger:
    """Stands in for the spaCy pipeline in subprocess workers: finds no entities and no
    parse, instantly (attribution then uses only its patterns: "according to X", "..., X said")."""

    class _Doc:
        ents = ()

        def __init__(self, text: str = ""):
            self.text = text

        def __iter__(self):
            return iter(())

        def char_span(self, *args, **kwargs):
            return None

    def __call__(self, text):
        return self._Doc(text)

    def pipe(self, texts, batch_size=128):
        return (self._Doc(t) for t in texts)
