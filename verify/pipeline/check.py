"""The checking pipeline: claims -> retrieve -> score pairs -> decide -> store."""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from verify import __version__, loading
from verify.errors import CorpusError, InputError
from verify.pipeline.claims import is_check_worthy, split_frame, validate_claim_text
from verify.pipeline.retrieve import CONTEXT, relation  # noqa: F401  (relation: part of check's API)
from verify.pipeline.verdict import Evidence, Thresholds, Unit, Verdict, decide, may_contradict, shortfall
from verify.store.corpus import Corpus

DEFAULT_K = 5
# Clause pairs are scored for evidence at least this similar: the lowest ``related`` a
# calibration may choose, so re-deciding under any fitted threshold has what it needs.
CLAUSE_MIN_SIMILARITY = 0.3


@dataclass
class ClaimResult:
    """One claim's verdict with its evidence, as stored and as rendered."""

    claim_id: int
    text: str
    verdict: Verdict
    evidence: list[Evidence]
    start: int | None = None
    end: int | None = None
    document_id: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    nli: bool = True
    review: dict | None = None

    @property
    def frame(self) -> str:
        return split_frame(self.text)[0]

    @property
    def proposition(self) -> str:
        return split_frame(self.text)[1]

    def to_dict(self) -> dict:
        from verify.pipeline.language import CROSS_LINGUAL_WHY_NOT, ENGLISH, text_language

        counted = may_contradict(self.evidence, self.thresholds)
        # The language the claim was checked in (Checker.score_claims sets it on the verdict).
        language = self.verdict.language or text_language(self.text)
        crossed = language != ENGLISH
        return {
            "claim_id": self.claim_id, "text": self.text, "language": language, "document_id": self.document_id,
            "start": self.start, "end": self.end, "label": self.verdict.label, "score": self.verdict.score,
            "reason": self.verdict.reason, "conflicting": self.verdict.conflicting,
            "needs_review": self.verdict.needs_review, "clauses": self.verdict.clauses,
            "decisive": self.verdict.decisive,
            "frame": self.frame, "proposition": self.proposition,
            "flags": self.verdict.flags, "quotes": self.verdict.quotes,
            "review": ({k: self.review[k] for k in ("label", "note", "by", "at")} if self.review else None),
            "evidence": [evidence_dict(e) | ({"why_not": CROSS_LINGUAL_WHY_NOT if crossed
                                              else shortfall(e, self.thresholds, self.nli, i in counted)}
                                             if self.verdict.label == "novel" else {})
                         for i, e in enumerate(self.evidence)],
        }


def evidence_dict(e: Evidence) -> dict:
    s = e.sentence
    return {
        "rank": e.rank, "sentence_id": s["id"], "text": s["text"], "language": s.get("language"),
        "document_id": s["document_id"],
        "title": s.get("title"), "url": s.get("url"), "speaker": s.get("speaker"), "date": s.get("published"),
        "start": s["start"], "end": s["end"], "similarity": round(e.similarity, 4),
        "p_entail": e.p_entail, "p_neutral": e.p_neutral, "p_contradict": e.p_contradict,
        "truncated": e.truncated, "flags": e.flags, "relation": s.get("relation", "unknown"),
        "mismatches": [{"kind": m.kind, "claim": m.claim, "official": m.official} for m in e.mismatches],
        "decisive_mismatches": [{"kind": m.kind, "claim": m.claim, "official": m.official} for m in e.forced],
        "counted": e.counted, "subject_overlap": round(e.overlap, 4), "both_negative": e.both_negative,
        "attribution": s.get("attribution"), "cue": s.get("cue"), "affiliation": s.get("affiliation"),
        "publisher": s.get("publisher"),
        "page": s.get("page"), "ocr_confidence": s.get("ocr_confidence"),  # PDFs and scans (verify.pipeline.pdf)
        "clauses": [{"official": u.premise or None, "claim_clause": u.claim, "p_entail": u.entail,
                     "p_neutral": u.neutral, "p_contradict": u.contradict, "subject_overlap": u.overlap,
                     "both_negative": u.both_negative}
                    for u in e.units],
    }


@dataclass
class CheckRun:
    run_id: int | None  # None: a scratch check, not stored
    manifest: dict
    results: list[ClaimResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"consistent": 0, "novel": 0, "contradictory": 0}
        for r in self.results:
            out[r.verdict.label] += 1
        return out


class Checker:
    """Checks claims against the official statements in a corpus.

    Args:
        corpus: the corpus to check against (and to store runs in).
        embedder: sentence embedder; default the bundled all-MiniLM-L6-v2.
        nli: an NLI model, ``None`` for similarity-only, or ``"auto"`` for
            ``$VERIFY_NLI_MODEL`` or the shipped model.
        k: evidence sentences retrieved per claim.
        thresholds: decision thresholds (default: calibrated values stored in the
            corpus if any, else built-in defaults).
        side: affiliations whose statements count as official evidence; ``"auto"``
            (default) for the corpus setting (`verify speakers side`), None for all.

    Example:
        >>> checker = Checker(Corpus("corpus.db"))            # doctest: +SKIP
        >>> run = checker.check_text("NATO offered Russia arms-control talks.")  # doctest: +SKIP
        >>> run.results[0].verdict.label                      # doctest: +SKIP
        'consistent'
    """

    def __init__(self, corpus: Corpus, embedder=None, nli="auto", k: int = DEFAULT_K,
                 thresholds: Thresholds | None = None, retrieval: str = "hybrid", scope=None, side="auto"):
        from verify.pipeline.retrieve import MODES, Scope

        if retrieval not in MODES:
            raise InputError(f"retrieval must be one of {', '.join(MODES)}")
        self.retrieval = retrieval
        self.scope = scope or Scope()
        if side == "auto":
            side = corpus.official_side()
        if side and not self.scope.side:
            self.scope.side = tuple(sorted(side))
        self.corpus = corpus
        self.embedder = embedder if embedder is not None else loading.embedder()
        if nli == "auto":
            nli = loading.nli(None)
        self.nli = nli
        if k < 1:
            raise InputError("k must be at least 1")
        self.k = k
        if thresholds is None:
            from verify.pipeline.thresholds import load_thresholds

            thresholds = load_thresholds(corpus, self.nli.model_id if self.nli else None)
        self.thresholds = thresholds
        self._index = None

    @property
    def index(self):
        """The vector index of the official sentences, built or brought up to date on first use."""
        if self._index is None:
            self.ensure_index()
        return self._index

    def ensure_index(self, progress=None):
        """Load, extend or build the index now (``progress`` gets the sentences embedded);
        returns its ``IndexStatus``. The checker is the index's one owner."""
        from verify.pipeline.index import open_index

        index = open_index(self.corpus, self.embedder)
        status = index.ensure(progress=progress)
        self._index = index
        return status

    def manifest(self, command: str | None = None) -> dict:
        return {
            "command": command or " ".join(["verify", *sys.argv[1:]]),
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "code_version": f"verify {__version__}",
            "embed_model": self.embedder.model_id,
            "nli_model": self.nli.model_id if self.nli else None,
            "mode": "nli" if self.nli else "similarity-only",
            "k": self.k,
            "retrieval": self.retrieval,
            "scope": self.scope.as_dict(),
            "official_side": list(self.scope.side) if self.scope.side else None,
            "affiliations": self.corpus.affiliations_fingerprint() if self.scope.side else None,
            "thresholds": self.thresholds.as_dict(),
            "corpus_fingerprint": self.corpus.fingerprint(),
            "max_official_sentence_id": self.corpus.max_official_sentence_id(),
            "official_sentences": self.corpus.official_sentence_count(),
        }

    # --- entry points ----------------------------------------------------------------------
    def check_document(self, doc_id: int, progress: Callable[[int], None] | None = None) -> CheckRun:
        """Check every check-worthy sentence of an ingested report."""
        return self.check_documents([doc_id], progress)

    def check_documents(self, doc_ids: Sequence[int], progress: Callable[[int], None] | None = None) -> CheckRun:
        """Check every check-worthy sentence of one or more ingested reports, in one run."""
        claims = []
        for doc_id in dict.fromkeys(doc_ids):  # the same report named twice is checked once
            doc = self.corpus.document(doc_id)
            sentences = [s for s in self.corpus.sentences("s.document_id = ?", [doc_id])
                         if is_check_worthy(s["text"])]
            if not sentences:
                raise InputError(f"document {doc_id} ({doc.get('source') or doc.get('title')}) "
                                 "has no check-worthy sentences")
            with self.corpus.transaction():
                ids = [self.corpus.claim_for_sentence(s, *split_frame(s["text"])) for s in sentences]
            claims += [(cid, s["text"], s["start"], s["end"], doc_id, doc.get("published"))
                       for cid, s in zip(ids, sentences)]
        return self._run(claims, progress)

    def count_claims(self, doc_id: int) -> int:
        return sum(is_check_worthy(s["text"]) for s in self.corpus.sentences("s.document_id = ?", [doc_id]))

    def check_text(self, text: str, save: bool = True) -> CheckRun:
        """Check one claim typed by a user.

        Args:
            save: store the claim and its verdict (a run others see in exports, rechecks
                and diffs); False checks it as scratch work: nothing but the model caches is
                written, and the run has no id.
        """
        text = validate_claim_text(text)
        if not save:
            run = CheckRun(None, self.manifest())
            ((verdict, evs),) = self.score_claims([text])
            run.results.append(ClaimResult(None, text, verdict, evs, thresholds=self.thresholds,
                                           nli=self.nli is not None))
            return run
        with self.corpus.transaction():
            cid = self.corpus.claim_for_text(text, *split_frame(text))
        return self._run([(cid, text, None, None, None, None)])

    def check_claim_ids(self, claim_ids: Sequence[int], progress=None) -> CheckRun:
        """Check stored claims again, in a new run."""
        return self._run(self._claim_tuples(claim_ids), progress)

    def _claim_tuples(self, claim_ids: Sequence[int]) -> list[tuple]:
        out = []
        for cid in claim_ids:
            c = self.corpus.claim(cid)
            date = self.corpus.document(c["document_id"])["published"] if c["document_id"] else None
            out.append((cid, c["text"], c["start"], c["end"], c["document_id"], date))
        return out

    # --- the pipeline ------------------------------------------------------------------------
    def score_claims(self, texts: Sequence[str], report_date: str | None = None,
                     languages: Sequence[str] | None = None) -> list[tuple[Verdict, list[Evidence]]]:
        """Retrieve and score evidence for each text, and decide. Stores nothing but caches.

        Attribution frames are split off first: retrieval, NLI and mismatch checks see only
        the proposition; quotes are looked up in the whole claim. With an official side,
        the ``k`` evidence sentences come from it, and up to ``CONTEXT`` statements by
        others are added, marked, for the desk to see; they never decide.

        A claim not in English (``languages``, detected when not given: ``verify.pipeline.language``)
        is checked across languages: evidence from the multilingual index, verdict novel
        with needs review, never consistent or contradictory. Each verdict's ``language``
        attribute says which language its claim was taken to be in.
        """
        from verify.pipeline.embed import embed_cached
        from verify.pipeline.evidence import (
            forced_mismatches,
            mismatches,
            negated,
            quotes,
            subject_overlap,
            warm_entity_pairs,
        )
        from verify.pipeline.language import ENGLISH, claim_languages, score_cross_lingual
        from verify.pipeline.retrieve import find_quote, retrieve
        from verify.pipeline.segment import clauses

        if len(self.index) == 0:
            raise CorpusError("the corpus has no official statements to check against; "
                              "ingest some with `verify ingest official PATH`")
        languages = list(languages) if languages is not None else claim_languages(self.corpus, texts)
        if any(lang != ENGLISH for lang in languages):
            other = [i for i, lang in enumerate(languages) if lang != ENGLISH]
            english = [i for i, lang in enumerate(languages) if lang == ENGLISH]
            out: list = [None] * len(languages)
            crossed = score_cross_lingual(self, [split_frame(texts[i])[1] for i in other], [texts[i] for i in other],
                                          [languages[i] for i in other], report_date)
            for i, (verdict, evs) in zip(other, crossed):
                verdict.language = languages[i]
                out[i] = (verdict, evs)
            if english:
                for i, scored in zip(english, self.score_claims([texts[i] for i in english], report_date,
                                                                [ENGLISH] * len(english))):
                    out[i] = scored
            return out
        t = self.thresholds
        original = list(texts)
        texts = [split_frame(x)[1] for x in original]
        vectors = embed_cached(self.corpus, self.embedder, texts)
        hits = retrieve(self.corpus, self.index, texts, vectors, self.k, self.retrieval, self.scope)
        others = [[] for _ in texts]
        if self.scope.side:
            wider = retrieve(self.corpus, self.index, texts, vectors, self.k, self.retrieval, self.scope.without_side())
            others = [[(sid, sim) for sid, sim in w if sid not in {h for h, _ in row}][:CONTEXT]
                      for w, row in zip(wider, hits)]
        sentences = self.corpus.sentences_by_id({sid for row in [*hits, *others] for sid, _ in row})
        per_claim = []
        for row, extra in zip(hits, others):
            evs = [Evidence(sentences[sid], rank, sim) for rank, (sid, sim) in enumerate(row, 1)]
            for sid, sim in extra:
                e = Evidence(sentences[sid], len(evs) + 1, sim, counted=False)
                e.flags.append("not an official-side statement: shown, never decisive")
                evs.append(e)
            per_claim.append(evs)
        claim_clauses = [clauses(x) for x in texts]
        if self.nli is not None:
            self._score_pairs(texts, claim_clauses, per_claim)
        warm_entity_pairs((x, e.sentence["text"]) for x, evs in zip(texts, per_claim) for e in evs
                          if e.similarity >= t.related)
        out = []
        for text, parts, claim_text, evs, row in zip(texts, claim_clauses, original, per_claim, hits):
            claim_negative = negated(text)
            for e in evs:
                e.sentence["relation"] = relation(e.sentence.get("published"), report_date)
                e.overlap = subject_overlap(text, e.sentence["text"])
                e.both_negative = claim_negative and negated(e.sentence["text"])
                if e.similarity >= t.related:
                    e.mismatches = mismatches(text, e.sentence["text"])
                    e.flags += [f"mismatch {m}" for m in e.mismatches]
                    if e.counted:
                        e.forced = forced_mismatches([text, *parts], [e.sentence["text"], *clauses(e.sentence["text"])])
            found = [find_quote(self.corpus, q, self.scope) for q in quotes(claim_text)]
            verdict = decide(evs, t, nli=self.nli is not None, quotes=found, clauses=parts)
            verdict.cutoffs = row.cutoffs
            verdict.language = ENGLISH
            out.append((verdict, evs))
        return out

    def _score_pairs(self, texts: list[str], claim_clauses: list[list[str]], per_claim: list[list[Evidence]]) -> None:
        """NLI for every (official unit, claim unit) pair, in one cached batch.

        The whole official sentence against the whole claim always; for long sentences also
        each clause of either against the other's whole and clauses (SummaC-style). Context
        evidence (not the official side) is scored whole only: it is shown, not decided on.
        """
        from verify.pipeline.evidence import negated, subject_overlap
        from verify.pipeline.nli import score_cached
        from verify.pipeline.segment import clauses

        jobs = []  # (evidence, premise unit text or "", claim clause index or None, premise, hypothesis)
        for text, parts, evs in zip(texts, claim_clauses, per_claim):
            for e in evs:
                official = e.sentence["text"]
                jobs.append((e, "", None, official, text))
                if not e.counted or e.similarity < min(self.thresholds.related, CLAUSE_MIN_SIMILARITY):
                    continue
                units = [("", official)] + [(c, c) for c in clauses(official)]
                for label, premise in units:
                    for j, part in enumerate(parts):
                        jobs.append((e, label, j, premise, part))
                    if label:
                        jobs.append((e, label, None, premise, text))
        scores = score_cached(self.corpus, self.nli, [(p, h) for _, _, _, p, h in jobs])
        for (e, label, j, premise, hypothesis), sc in zip(jobs, scores):
            if not label and j is None:
                e.p_entail, e.p_neutral, e.p_contradict, e.truncated = sc.entail, sc.neutral, sc.contradict, sc.truncated
                if sc.truncated:
                    e.flags.append("truncated for NLI")
            else:
                e.units.append(Unit(label, j, sc.entail, sc.neutral, sc.contradict,
                                    round(subject_overlap(hypothesis, premise), 4),
                                    negated(hypothesis) and negated(premise)))

    def score_into(self, run_id: int, claim_ids: Sequence[int], progress=None) -> list[ClaimResult]:
        """Score stored claims into an open run (``Corpus.new_run``; recheck uses it)."""
        run = CheckRun(run_id, {})
        self._score_claims_into(run, self._claim_tuples(claim_ids), progress)
        return run.results

    def _run(self, claims, progress=None) -> CheckRun:
        """Score and store ``claims``: tuples (claim id, text, start, end, document id, report date)."""
        manifest = self.manifest()
        with self.corpus.new_run(manifest) as run_id:
            run = CheckRun(run_id, manifest)
            self._score_claims_into(run, claims, progress)
        return run

    def _score_claims_into(self, run: CheckRun, claims, progress=None, batch: int = 64) -> None:
        for start in range(0, len(claims), batch):
            chunk = claims[start:start + batch]
            scored = []
            for date in dict.fromkeys(c[5] for c in chunk):  # one retrieval per report date
                part = [c for c in chunk if c[5] == date]
                scored += zip(part, self.score_claims([c[1] for c in part], date))
            for (cid, text, s, e, doc_id, _), (verdict, evs) in scored:
                self.corpus.store_verdict(run.run_id, cid, verdict, [_evidence_row(ev) for ev in evs])
                run.results.append(ClaimResult(cid, text, verdict, evs, s, e, doc_id, self.thresholds,
                                               self.nli is not None, self.corpus.latest_review(cid)))
            if progress:
                progress(len(chunk))


def _evidence_row(e: Evidence) -> dict:
    return {"rank": e.rank, "sentence_id": e.sentence["id"], "similarity": e.similarity,
            "p_entail": e.p_entail, "p_neutral": e.p_neutral, "p_contradict": e.p_contradict,
            "flags": json.dumps(e.flags), "relation": e.sentence.get("relation"), "counted": int(e.counted),
            "units": json.dumps([asdict(u) for u in e.units]) if e.units else None}


def evidence_trail(corpus: Corpus, claim_id: int, run_id: int | None = None) -> dict:
    """Everything behind a claim's verdict (latest successful run unless ``run_id``)."""
    claim = corpus.claim(claim_id)
    if run_id is None:
        v = corpus.latest_verdict(claim_id)
    else:
        v = corpus.verdict_in_run(claim_id, run_id)
    if v is None:
        raise CorpusError(f"claim {claim_id} has no verdict yet; run `verify check` first")
    if claim.get("document_id"):
        claim["document_title"] = corpus.document(claim["document_id"])["title"]
    rows = corpus.evidence_for(v["id"])
    sentences = corpus.sentences_by_id(r["sentence_id"] for r in rows)
    run = corpus.run(v["run_id"])
    manifest = json.loads(run["manifest"])
    details = json.loads(v.get("details") or "{}")
    evidence = []
    for r in rows:
        sentence = dict(sentences[r["sentence_id"]], relation=r["relation"])
        units = [Unit(**u) for u in json.loads(r.get("units") or "[]")]
        evidence.append(Evidence(sentence, r["rank"], r["similarity"], r["p_entail"], r["p_neutral"], r["p_contradict"],
                                 flags=json.loads(r["flags"] or "[]"), units=units,
                                 counted=r.get("counted") is None or bool(r["counted"])))
    out = _annotate(evidence, claim, v["label"], manifest, v.get("needs_review"))
    return {"claim": claim,
            "verdict": {k: v[k] for k in ("label", "score", "reason")} | {
                "conflicting": bool(v["conflicting"]), "needs_review": v.get("needs_review"),
                "clauses": details.get("clauses") or [], "decisive": details.get("decisive")},
            "evidence": out, "run": {"id": run["id"], "status": run["status"], **manifest}}


def run_thresholds(manifest: dict) -> Thresholds:
    """The thresholds a run decided with, read back from its manifest.

    Runs from before a rule existed are explained by the rules they ran under: no
    ``contradict_top`` let every related sentence contradict, no ``forced_mismatch`` let a
    mismatch only raise the contradiction, no ``subject_overlap`` did not ask for one.
    """
    recorded = manifest.get("thresholds") or {}
    t = Thresholds(**{k: v for k, v in recorded.items() if k in Thresholds.__dataclass_fields__})
    if "contradict_top" not in recorded:
        t.contradict_top = 10**6
    if "forced_mismatch" not in recorded:
        t.forced_mismatch = False
    if "subject_overlap" not in recorded:
        t.subject_overlap = 0.0
    if "shared_negation" not in recorded:
        t.shared_negation = False
    return t


def _annotate(evidence: list[Evidence], claim: dict, label: str, manifest: dict,
              needs_review: str | None = None) -> list[dict]:
    """The stored evidence as output records, with side-by-side mismatches and, for novel
    verdicts, why each sentence fell short.

    Both are recomputed from stored values with the run's own thresholds, so they are
    exactly what the run decided on.
    """
    from verify.pipeline.evidence import forced_mismatches, mismatches, negated, subject_overlap, warm_entity_pairs
    from verify.pipeline.segment import clauses

    t = run_thresholds(manifest)
    proposition = claim.get("proposition") or split_frame(claim["text"])[1]
    claim_negative = negated(proposition)
    # The entity tagger runs once over every sentence and clause the checks below compare (a
    # batch is several times faster than a call per sentence: the desk's claim page waits on it).
    related = [e for e in evidence if e.similarity >= t.related]
    pairs = [(proposition, e.sentence["text"]) for e in related]
    if t.forced_mismatch and any(e.counted for e in related):
        claim_units = [proposition, *clauses(proposition)]
        pairs += [(c, o) for e in related if e.counted
                  for c in claim_units for o in [e.sentence["text"], *clauses(e.sentence["text"])]]
    warm_entity_pairs(pairs)
    for e in evidence:
        e.overlap = subject_overlap(proposition, e.sentence["text"])
        e.both_negative = claim_negative and negated(e.sentence["text"])
        if e.similarity >= t.related:
            e.mismatches = mismatches(proposition, e.sentence["text"])
            if e.counted and t.forced_mismatch:
                e.forced = forced_mismatches([proposition, *clauses(proposition)],
                                             [e.sentence["text"], *clauses(e.sentence["text"])])
    counted = may_contradict(evidence, t)
    nli = manifest.get("nli_model") is not None
    if (needs_review or "").startswith("cross-lingual"):
        from verify.pipeline.language import CROSS_LINGUAL_WHY_NOT

        return [evidence_dict(e) | {"why_not": CROSS_LINGUAL_WHY_NOT} for e in evidence]
    return [evidence_dict(e) | {"why_not": shortfall(e, t, nli, i in counted) if label == "novel" else None}
            for i, e in enumerate(evidence)]
