"""Finding candidate evidence: dense (FAISS) and lexical (FTS5 BM25), fused by rank.

Embeddings miss rare names, numbers and exact phrases; BM25 misses paraphrase. Reciprocal
rank fusion (Cormack et al. 2009: score = sum of 1 / (60 + rank)) combines the two lists
without having to put cosine and BM25 on one scale.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from verify.store.corpus import Corpus

RRF_K = 60
CONTEXT = 2  # statements by others shown beside the official side's evidence
MODES = ("hybrid", "dense", "lexical")
_STOP = set("""a an the and or but if of to in on at by for with from as is are was were be been being it its
this that these those there here he she they we you i his her their our your them us me not no so than then
do does did has have had will would can could should may might must shall said says also about into over
after before such which who whom whose what when where why how all any each other some more most very just""".split())


@dataclass
class Scope:
    """Which official statements count: one speaker, those made by a date, and those of the
    official side (speakers whose affiliation is in ``side``; narration speaks with its
    publisher's affiliation)."""

    speaker: str | None = None
    as_of: str | None = None
    side: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return bool(self.speaker or self.as_of or self.side)

    def without_side(self) -> Scope:
        return Scope(self.speaker, self.as_of)

    def as_dict(self) -> dict:
        out = {"speaker": self.speaker, "as_of": self.as_of}
        if self.side:  # absent rather than null, so runs from before sides compare equal
            out["side"] = list(self.side)
        return out


def fts_query(text: str, max_terms: int = 24) -> str | None:
    """An FTS5 OR-query of the content words of ``text`` (each quoted: no syntax injection)."""
    words = []
    for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'’\-]*", text):
        w = w.strip("'’-").lower()
        if len(w) > 1 and w not in _STOP and w not in words:
            words.append(w)
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words[:max_terms])


def lexical_search(corpus: Corpus, text: str, k: int, scope: Scope, after: int = 0,
                   upto: int | None = None) -> list[tuple[int, float]]:
    """Top-``k`` (sentence id, BM25) by FTS5, best first (FTS5's sign: lower is better).

    Args:
        after, upto: only sentence ids in (after, upto]; FTS5 narrows its doclists by rowid,
            so a search over the newest sentences costs a fraction of a full one.
    """
    query = fts_query(text)
    if not query:
        return []
    return corpus.lexical_search(query, scope, k, after, upto)


def allowed_ids(corpus: Corpus, scope: Scope) -> np.ndarray:
    return np.array(corpus.sentence_ids_in(scope), dtype=np.int64)


def fuse(ranked_lists: list[list[int]], k: int) -> list[int]:
    scores: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, sid in enumerate(ranked, 1):
            scores[sid] = scores.get(sid, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda s: -scores[s])[:k]


class Hits(list):
    """One claim's evidence, (sentence id, cosine similarity) pairs, most similar first.

    It also keeps the bar a *new* official sentence must clear to enter each candidate list
    that fed the fusion: ``dense_cutoff``, the cosine of the last dense candidate, and
    ``lexical_cutoff``, the BM25 of the last lexical candidate (FTS5 sign: lower is better).
    A list that was not full has the loosest bar (-1.0 and 0.0: anything enters); a list
    the mode does not use has None. A sentence that clears neither bar cannot change the
    fused top-k, which is what lets a recheck skip most claims without searching for them.
    """

    def __init__(self, items=(), dense_cutoff: float | None = None, lexical_cutoff: float | None = None):
        super().__init__(items)
        self.dense_cutoff = dense_cutoff
        self.lexical_cutoff = lexical_cutoff

    @property
    def cutoffs(self) -> dict:
        return {"dense": self.dense_cutoff, "lexical": self.lexical_cutoff}


def retrieve(corpus: Corpus, index, texts: list[str], vectors: np.ndarray, k: int, mode: str = "hybrid",
             scope: Scope | None = None) -> list[Hits]:
    """Top-``k`` (sentence id, cosine similarity) per claim.

    Args:
        index: a loaded ``VectorIndex`` over official sentences.
        vectors: the claims' normalised embeddings (row i belongs to texts[i]).
        mode: ``hybrid`` (RRF of dense and lexical), ``dense`` or ``lexical``.
        scope: optional speaker / date restriction.
    """
    scope = scope or Scope()
    depth = max(k * 4, 20)  # fusion needs more than k from each list
    selector = allowed_ids(corpus, scope) if scope.active else None
    dense = index.search(vectors, depth, ids=selector) if mode != "lexical" else [[] for _ in texts]
    out = []
    for text, vec, dense_hits in zip(texts, vectors, dense):
        sims = dict(dense_hits)
        dense_cutoff = lexical_cutoff = None
        if mode != "lexical":
            dense_cutoff = dense_hits[-1][1] if len(dense_hits) >= depth else -1.0
        if mode == "dense":
            ids = [sid for sid, _ in dense_hits[:k]]
        else:
            # Sentences committed after the index was loaded are not in it yet: they are left
            # out here, and the next run's index update picks them up.
            lex_hits = lexical_search(corpus, text, depth, scope, upto=index.max_id)
            lexical_cutoff = lex_hits[-1][1] if len(lex_hits) >= depth else 0.0
            lex = [sid for sid, _ in lex_hits]
            ids = lex[:k] if mode == "lexical" else fuse([[s for s, _ in dense_hits], lex], k)
        missing = [sid for sid in ids if sid not in sims]
        if missing:  # lexical-only hits still report their cosine similarity
            for sid, sim in zip(missing, index.similarities(vec, missing)):
                sims[sid] = sim
        # Evidence is shown most-similar first whatever found it.
        out.append(Hits(sorted(((sid, sims[sid]) for sid in ids), key=lambda p: -p[1]),
                        dense_cutoff, lexical_cutoff))
    return out


# How far a stored BM25 bar is relaxed: BM25 weights shift a little as the corpus grows
# (IDF depends on the sentence count), so a new sentence scoring close to the bar counts.
BM25_SLACK = 0.10
# Claims × new sentences similarities are computed a block of claims at a time (64 MB of
# float32), so a large night does not need a claims-by-new-sentences matrix in memory.
SIM_BLOCK_CELLS = 2**24


def could_enter(corpus: Corpus, index, texts: list[str], vectors: np.ndarray, cutoffs: list[dict | None],
                since: list[int], scope: Scope | None = None) -> list[bool]:
    """For each claim, could an official sentence newer than ``since[i]`` enter its candidates?

    The claims are searched *with the new sentences*: their vectors against every claim
    vector in one matrix product, and one FTS5 query per claim narrowed to the new rowids.
    A claim whose stored ``cutoffs`` (from ``Hits``) are unknown always counts.
    """
    scope = scope or Scope()
    out = [c is None for c in cutoffs]
    if not texts:
        return out
    low = min(since)
    new_ids = corpus.sentence_ids_in(scope, after=low, upto=index.max_id)
    if not new_ids:
        return out
    new_ids = np.array(new_ids, dtype=np.int64)
    new_vectors = index.vectors(new_ids).T
    vectors = np.asarray(vectors, dtype=np.float32)
    block = max(1, SIM_BLOCK_CELLS // len(new_ids))
    sims = None
    for i, (text, cut, after) in enumerate(zip(texts, cutoffs, since)):
        if i % block == 0:
            sims = vectors[i:i + block] @ new_vectors
        if out[i]:
            continue
        newer = new_ids > after
        if cut.get("dense") is not None and newer.any() and sims[i % block, newer].max() >= cut["dense"] - 1e-6:
            out[i] = True
        elif cut.get("lexical") is not None:
            best = lexical_search(corpus, text, 1, scope, after=after, upto=index.max_id)
            bar = cut["lexical"] + BM25_SLACK * abs(cut["lexical"])
            out[i] = bool(best) and best[0][1] < bar
    return out


def find_quote(corpus: Corpus, quote: str, scope: Scope | None = None, candidates: int = 50) -> dict:
    """The official sentence that best contains ``quote``, with its provenance.

    Candidates come from FTS5 (every content word of the quote must appear), then a fuzzy
    partial match on normalised text picks the best; a quote split across sentences
    is matched against each sentence separately, so long quotes may score lower.
    """
    from verify.pipeline.evidence import quote_match

    scope = scope or Scope()
    best = {"quote": quote, "ratio": 0.0, "sentence_id": None, "document_id": None, "speaker": None,
            "date": None, "title": None, "url": None, "start": None, "end": None}
    words = [w for w in re.findall(r"[A-Za-z0-9]+", quote.lower()) if w not in _STOP and len(w) > 1]
    if not words:
        return best
    for query in (" AND ".join(f'"{w}"' for w in words[:12]), " OR ".join(f'"{w}"' for w in words[:12])):
        rows = corpus.quote_candidates(query, scope, candidates)
        for sid, text, doc, speaker, date, title, url, start, end in rows:
            ratio = quote_match(quote, text)
            if ratio > best["ratio"]:
                best.update(ratio=round(ratio, 4), sentence_id=sid, document_id=doc, speaker=speaker, date=date,
                            title=title, url=url, start=start, end=end)
        if best["ratio"] >= 0.999:
            break
    return best


def relation(evidence_date: str | None, report_date: str | None) -> str:
    if not evidence_date or not report_date:
        return "unknown"
    if evidence_date < report_date:
        return "before"
    return "same day" if evidence_date == report_date else "after"
