"""Nightly rechecks: re-score only the claims whose evidence changed, and say why.

A recheck is a new, complete run: affected claims are re-scored; every other claim's
verdict is carried forward unchanged. A claim is *affected* when

* it has never been checked, or its last verdict came from other models or thresholds, or
* a new official sentence enters its top-k: retrieval over today's corpus returns a
  different evidence set than its last verdict had.

Finding those claims is done from the new sentences' side. Each verdict stores the bar a
sentence had to clear to enter the claim's dense and lexical candidate lists
(``retrieve.Hits``); the new sentences' vectors are compared with every claim vector in one
matrix product, and each claim's FTS5 query is run over the new rowids only. Only claims
that a new sentence could reach get a full retrieval, and only those whose evidence then
differs are re-scored with NLI (cached pair scores make even those cheap for the evidence
they kept). With no new official sentences and unchanged models, no model is loaded at all.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from verify.errors import CorpusError
from verify.store.corpus import Corpus, file_lock

# Drift is a label change, or a score crossing this line: "sure" became "unsure" or back.
SCORE_LINE = 0.5


@dataclass
class Drift:
    claim_id: int
    text: str
    old_label: str | None
    old_score: float | None
    new_label: str
    new_score: float
    causes: list[dict] = field(default_factory=list)
    review: dict | None = None
    stale: str | None = None  # why it was re-scored when no new statement caused it (a document edit)

    @property
    def against_review(self) -> bool:
        return bool(self.review and self.review["label"] not in ("unsure", self.new_label))

    def to_dict(self) -> dict:
        return {"claim_id": self.claim_id, "text": self.text, "old_label": self.old_label,
                "old_score": self.old_score, "new_label": self.new_label, "new_score": self.new_score,
                "causes": self.causes, "review": self.review, "against_review": self.against_review,
                "stale": self.stale}


@dataclass
class RecheckResult:
    run_id: int | None
    claims: int
    rescored: int
    carried: int
    new_sentences: int
    model_loaded: bool
    drift: list[Drift] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "claims": self.claims, "rescored": self.rescored, "carried": self.carried,
                "new_sentences": self.new_sentences, "model_loaded": self.model_loaded,
                "seconds": round(self.seconds, 3), "drift": [d.to_dict() for d in self.drift]}


def corpus_lock(db_path: Path | None, wait: float = 0.0):
    """The recheck lock of a corpus file, so two nightly jobs never overlap (``Corpus.exclusive``
    takes it for an open corpus: this file lock for corpus.db, an advisory lock in PostgreSQL).

    Args:
        wait: seconds to wait for another holder before giving up with CorpusError.
    """
    return file_lock(db_path, "recheck", wait)


def _latest(corpus: Corpus, claim_ids: list[int] | None) -> dict[int, dict]:
    """Latest successful verdict of each claim, with its run's manifest and evidence ids."""
    rows = corpus.latest_verdicts(claim_ids)
    out = {cid: {"verdict_id": vid, "label": label, "score": score, "manifest": json.loads(manifest), "evidence": [],
                 "cutoffs": json.loads(details or "{}").get("cutoffs")}
           for cid, vid, label, score, manifest, details in rows}
    by_verdict = {v["verdict_id"]: v["evidence"] for v in out.values()}
    for vid, sid in corpus.evidence_sentence_ids(list(by_verdict)):
        by_verdict[vid].append(sid)
    return out


def current_setup(corpus: Corpus, nli_id: str | None, k: int, retrieval: str, embed_model: str | None = None) -> dict:
    """The manifest fields a new check would record, known without loading a model: a
    verdict made under any other setup is re-scored rather than carried forward."""
    from verify.pipeline.embed import DEFAULT_EMBED_MODEL
    from verify.pipeline.retrieve import Scope
    from verify.pipeline.thresholds import load_thresholds

    side = corpus.official_side()
    return {"embed_model": embed_model or DEFAULT_EMBED_MODEL, "nli_model": nli_id, "k": k, "retrieval": retrieval,
            "scope": Scope(side=tuple(sorted(side)) if side else None).as_dict(),
            "affiliations": corpus.affiliations_fingerprint() if side else None,
            "thresholds": load_thresholds(corpus, nli_id).as_dict()}


def _same_setup(manifest: dict, current: dict) -> bool:
    # "affiliations": who speaks for the official side; a desk's correction re-scores.
    keys = ("embed_model", "nli_model", "k", "retrieval", "scope", "thresholds", "affiliations")
    return all(manifest.get(k) == current.get(k) for k in keys)


def recheck(corpus: Corpus, make_checker, claim_ids: list[int] | None = None, *, setup: dict,
            progress=None, exhaustive: bool = False) -> RecheckResult:
    """Recheck stored claims (all, or ``claim_ids``) against the corpus as it is now.

    Args:
        make_checker: builds a ``Checker``; called only if some claim needs model work.
        setup: the manifest fields that decide whether old verdicts are comparable
            (embed_model, nli_model, k, retrieval, scope, thresholds), known without loading models.
        exhaustive: retrieve every claim again instead of only those a new sentence can
            reach. BM25 weights shift slightly as the corpus grows and can reorder old
            sentences; this also catches those, so the result equals a fresh check.
    """
    t0 = time.perf_counter()
    if claim_ids is None:
        claim_ids = corpus.live_claim_ids()
    else:
        for cid in claim_ids:
            corpus.claim(cid)
    if not claim_ids:
        raise CorpusError("no claims to recheck; check a report first")
    previous = _latest(corpus, claim_ids)
    max_id = corpus.max_official_sentence_id()
    marked = corpus.stale_claims()  # their evidence's document was edited or removed
    stale = [c for c in claim_ids if c not in previous or c in marked
             or not _same_setup(previous[c]["manifest"], setup)]
    seen = {c: previous[c]["manifest"].get("max_official_sentence_id", 0) for c in previous}
    maybe = [c for c in claim_ids if c not in stale and seen[c] < max_id]
    since = min(seen.values(), default=0) if len(previous) == len(claim_ids) else 0
    new_sentences = corpus.official_sentence_count(after=since)
    if not stale and not maybe:
        return _carry_all(corpus, claim_ids, previous, setup, new_sentences, t0)

    checker = make_checker()
    from verify.pipeline.claims import split_frame
    from verify.pipeline.embed import embed_cached
    from verify.pipeline.retrieve import could_enter, retrieve

    checker.index  # brings the index up to date: embeds only the new sentences
    affected = set(stale)
    fresh_cutoffs: dict[int, dict] = {}  # reached claims whose evidence stayed the same
    if maybe:
        texts = [split_frame(corpus.claim(c)["text"])[1] for c in maybe]
        vectors = embed_cached(corpus, checker.embedder, texts)
        cutoffs = [None if exhaustive else previous[c]["cutoffs"] for c in maybe]
        reach = could_enter(corpus, checker.index, texts, vectors, cutoffs, [seen[c] for c in maybe], checker.scope)
        reached = [i for i, r in enumerate(reach) if r]
        hits = retrieve(corpus, checker.index, [texts[i] for i in reached], vectors[reached], checker.k,
                        checker.retrieval, checker.scope)
        for i, h in zip(reached, hits):
            cid = maybe[i]
            if [sid for sid, _ in h] != previous[cid]["evidence"]:
                affected.add(cid)
            else:
                fresh_cutoffs[cid] = h.cutoffs
    manifest = checker.manifest() | {"recheck": True}
    drift: list[Drift] = []
    with corpus.new_run(manifest) as run_id:
        todo = [c for c in claim_ids if c in affected]
        run = checker.score_into(run_id, todo, progress)
        with corpus.transaction():
            for cid in claim_ids:
                if cid not in affected:
                    corpus.copy_verdict(previous[cid]["verdict_id"], run_id, fresh_cutoffs.get(cid))
        if progress:
            progress(len(claim_ids) - len(affected))
        for r in run:
            old = previous.get(r.claim_id)
            changed = (old is None or old["label"] != r.verdict.label
                       or (old["score"] >= SCORE_LINE) != (r.verdict.score >= SCORE_LINE))
            if not changed:
                continue
            cut = old["manifest"].get("max_official_sentence_id", 0) if old else 0
            causes = [{"sentence_id": e.sentence["id"], "text": e.sentence["text"], "speaker": e.sentence.get("speaker"),
                       "date": e.sentence.get("published"), "title": e.sentence.get("title"),
                       "document_id": e.sentence["document_id"], "url": e.sentence.get("url")}
                      for e in r.evidence if e.sentence["id"] > cut]
            drift.append(Drift(r.claim_id, r.text, old and old["label"], old and old["score"], r.verdict.label,
                               r.verdict.score, causes, corpus.latest_review(r.claim_id), marked.get(r.claim_id)))
    corpus.clear_stale(c for c in affected if c in marked)
    return RecheckResult(run_id, len(claim_ids), len(affected), len(claim_ids) - len(affected), new_sentences,
                         True, drift, time.perf_counter() - t0)


def _carry_all(corpus, claim_ids, previous, setup, new_sentences, t0) -> RecheckResult:
    """Nothing new: record a run that carries every verdict forward, with no model work."""
    manifest = dict(previous[claim_ids[0]]["manifest"]) | {
        "recheck": True, "command": "verify recheck", "corpus_fingerprint": corpus.fingerprint(),
        "max_official_sentence_id": corpus.max_official_sentence_id(), "model_work": False}
    with corpus.new_run(manifest) as run_id, corpus.transaction():
        for cid in claim_ids:
            corpus.copy_verdict(previous[cid]["verdict_id"], run_id)
    return RecheckResult(run_id, len(claim_ids), 0, len(claim_ids), new_sentences, False, [],
                         time.perf_counter() - t0)
