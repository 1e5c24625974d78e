"""The checking pipeline: claims -> retrieve -> score pairs -> decide -> store."""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

from verify import __version__, loading
from verify.errors import CorpusError, InputError
from verify.pipeline.claims import is_check_worthy, split_frame, validate_claim_text
from verify.pipeline.retrieve import CONTEXT, relation  # noqa: F401  (relation: part of check's API)
from verify.pipeline.verdict import Evidence, Thresholds, Unit, Verdict, decide, shortfalls
from verify.store.corpus import Corpus

DEFAULT_K = 5


@dataclass(frozen=True)
class ClaimCandidate:
    """A claim on its way through a check: its text, where it sits, and its report's date."""

    claim_id: int | None
    text: str
    start: int | None = None
    end: int | None = None
    document_id: int | None = None
    report_date: str | None = None  # evidence is dated relative to it (``retrieve.relation``)


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
    frame: str = ""
    proposition: str = ""
    read_as: str | None = None  # the claim as NLI read it (``verify.pipeline.reading``)

    def __post_init__(self):
        if not self.proposition:
            self.frame, self.proposition = split_frame(self.text)

    def to_dict(self) -> dict:
        from verify.pipeline.language import CROSS_LINGUAL_WHY_NOT, ENGLISH, text_language

        # The language the claim was checked in (Checker.score_claims sets it on the verdict).
        language = self.verdict.language or text_language(self.text)
        crossed = language != ENGLISH
        novel = self.verdict.label == "novel"
        why_not = shortfalls(self.evidence, self.thresholds, self.nli) if novel and not crossed else []
        return {
            "claim_id": self.claim_id, "text": self.text, "language": language, "document_id": self.document_id,
            "start": self.start, "end": self.end, "label": self.verdict.label, "score": self.verdict.score,
            "reason": self.verdict.reason, "conflicting": self.verdict.conflicting,
            "needs_review": self.verdict.needs_review, "clauses": self.verdict.clauses,
            "decisive": self.verdict.decisive,
            "frame": self.frame, "proposition": self.proposition, "read_as": self.read_as,
            "code": self.verdict.code, "review_code": self.verdict.review_code,
            "probabilities": self.verdict.probabilities,
            "flags": self.verdict.flags, "quotes": self.verdict.quotes,
            "review": ({k: self.review[k] for k in ("label", "note", "by", "at")} if self.review else None),
            "evidence": [evidence_dict(e) | ({"why_not": CROSS_LINGUAL_WHY_NOT if crossed else why_not[i]}
                                             if novel else {})
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
        "read_as": e.read_as, "claim_read_as": e.claim_read_as, "unmatched": e.unmatched,
        "reverse_entail": e.reverse_entail, "reverse_contradict": e.reverse_contradict,
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
        nli: an NLI model, ``None`` for similarity-only, ``"auto"`` for ``$VERIFY_NLI_MODEL``
            or the shipped model, or a model name or directory.
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
        scope = scope or Scope()
        if side == "auto":
            side = corpus.official_side()
        # A copy: the caller's Scope (reused for the next checker, perhaps on another corpus) is left as given.
        self.scope = replace(scope, side=scope.side or (tuple(sorted(side)) if side else None))
        self.corpus = corpus
        self.embedder = embedder if embedder is not None else loading.embedder()
        if isinstance(nli, str):  # "auto": $VERIFY_NLI_MODEL or the shipped model; else a name or directory
            nli = loading.nli(None if nli == "auto" else nli)
        self.nli = nli
        if k < 1:
            raise InputError("k must be at least 1")
        self.k = k
        if thresholds is None:
            from verify.pipeline.thresholds import load_thresholds

            thresholds = load_thresholds(corpus, self.nli.model_id if self.nli else None)
        self.thresholds = thresholds
        self._index = None
        self._reader = None
        self._aligner = None
        # Claims not in English are checked with a multilingual embedder and its own index,
        # loaded on first need (``verify.pipeline.language``); a test may set a fake embedder.
        self.multilingual_embedder = None
        self.cross_lingual_index = None

    @property
    def reader(self):
        """How claims and official sentences are read (frames off, names canonical), with
        roles from this corpus's speakers (``verify.pipeline.reading``)."""
        if self._reader is None:
            from verify.pipeline.reading import Reader

            self._reader = Reader.for_corpus(self.corpus)
        return self._reader

    @property
    def aligner(self):
        """Word alignment of claims with official sentences, word meanings from the embedder."""
        if self._aligner is None:
            from verify.pipeline.align import Aligner
            from verify.pipeline.embed import embed_cached

            self._aligner = Aligner(lambda words: embed_cached(self.corpus, self.embedder, words),
                                    self.thresholds.word_similarity)
        return self._aligner

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
            sentences = self.check_worthy(doc_id)
            if not sentences:
                raise InputError(f"document {doc_id} ({doc.get('source') or doc.get('title')}) "
                                 "has no check-worthy sentences")
            with self.corpus.transaction():
                ids = [self.corpus.claim_for_sentence(s, *split_frame(s["text"])) for s in sentences]
            claims += [ClaimCandidate(cid, s["text"], s["start"], s["end"], doc_id, doc.get("published"))
                       for cid, s in zip(ids, sentences)]
        return self._run(claims, progress)

    def check_worthy(self, doc_id: int) -> list[dict]:
        """The sentences of a report that are checked as claims (``claims.is_check_worthy``)."""
        return [s for s in self.corpus.sentences(document_id=doc_id) if is_check_worthy(s["text"])]

    def count_claims(self, doc_id: int) -> int:
        return len(self.check_worthy(doc_id))

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
            run.results.append(self._result(ClaimCandidate(None, text), verdict, evs))
            return run
        with self.corpus.transaction():
            cid = self.corpus.claim_for_text(text, *split_frame(text))
        return self._run([ClaimCandidate(cid, text)])

    def check_claim_ids(self, claim_ids: Sequence[int], progress=None) -> CheckRun:
        """Check stored claims again, in a new run."""
        return self._run(self._candidates(claim_ids), progress)

    def _candidates(self, claim_ids: Sequence[int]) -> list[ClaimCandidate]:
        out = []
        for cid in claim_ids:
            c = self.corpus.claim(cid)
            date = self.corpus.document(c["document_id"])["published"] if c["document_id"] else None
            out.append(ClaimCandidate(cid, c["text"], c["start"], c["end"], c["document_id"], date))
        return out

    # --- the pipeline ------------------------------------------------------------------------
    def score_claims(self, texts: Sequence[str], report_date: str | None = None,
                     languages: Sequence[str] | None = None) -> list[tuple[Verdict, list[Evidence]]]:
        """Retrieve and score evidence for each text, and decide. Stores nothing but caches.

        Each claim is read once (``verify.pipeline.reading``): retrieval sees its proposition
        (frames off); NLI, alignment and mismatch checks see both sides with names
        canonical; quotes are looked up in the whole claim. With an official side, the ``k``
        evidence sentences come from it, and up to ``CONTEXT`` statements by others are
        added, marked, for the desk to see; they never decide.

        A claim not in English (``languages``, detected when not given: ``verify.pipeline.language``)
        is checked across languages: evidence from the multilingual index, verdict novel
        with needs review, never consistent or contradictory. Each verdict's ``language``
        attribute says which language its claim was taken to be in.
        """
        from verify.pipeline.embed import embed_cached
        from verify.pipeline.evidence import quotes, warm_entity_pairs
        from verify.pipeline.language import ENGLISH, claim_languages, score_cross_lingual
        from verify.pipeline.retrieve import find_quote, retrieve
        from verify.pipeline.segment import clauses

        if len(self.index) == 0:
            raise CorpusError("the corpus has no official statements to check against; "
                              "ingest some with `verify ingest official PATH`")
        readings = [self.reader.claim(x) for x in texts]
        languages = list(languages) if languages is not None else claim_languages(self.corpus, texts)
        if any(lang != ENGLISH for lang in languages):
            other = [i for i, lang in enumerate(languages) if lang != ENGLISH]
            english = [i for i, lang in enumerate(languages) if lang == ENGLISH]
            out: list = [None] * len(languages)
            crossed = score_cross_lingual(self, [readings[i].proposition for i in other], [texts[i] for i in other],
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
        propositions = [r.proposition for r in readings]
        vectors = embed_cached(self.corpus, self.embedder, propositions)
        hits = retrieve(self.corpus, self.index, propositions, vectors, self.k, self.retrieval, self.scope)
        others = [[] for _ in texts]
        if self.scope.side:
            wider = retrieve(self.corpus, self.index, propositions, vectors, self.k, self.retrieval,
                             self.scope.without_side())
            others = [[(sid, sim) for sid, sim in w if sid not in {h for h, _ in row}][:CONTEXT]
                      for w, row in zip(wider, hits)]
        sentences = self.corpus.sentences_by_id({sid for row in [*hits, *others] for sid, _ in row})
        per_claim = []
        for reading, row, extra in zip(readings, hits, others):
            evs = [Evidence(sentences[sid], rank, sim) for rank, (sid, sim) in enumerate(row, 1)]
            for sid, sim in extra:
                e = Evidence(sentences[sid], len(evs) + 1, sim, counted=False)
                e.flags.append("not an official-side statement: shown, never decisive")
                evs.append(e)
            for e in evs:
                self._read(reading, e)
            per_claim.append(evs)
        claim_clauses = [clauses(r.nli) for r in readings]
        if self.nli is not None:
            self._score_pairs(claim_clauses, per_claim)
        warm_entity_pairs((e.claim_read_as, e.read_as) for evs in per_claim for e in evs if e.similarity >= t.related)
        out = []
        for reading, parts, evs, row in zip(readings, claim_clauses, per_claim, hits):
            for e in evs:
                e.sentence["relation"] = relation(e.sentence.get("published"), report_date)
                self._measure(e, parts)
            found = [find_quote(self.corpus, q, self.scope) for q in quotes(reading.text)]
            verdict = decide(evs, t, nli=self.nli is not None, quotes=found, clauses=parts)
            verdict.cutoffs = row.cutoffs
            verdict.language = ENGLISH
            out.append((verdict, evs))
        return out

    def _read(self, claim, e: Evidence) -> None:
        """Read an evidence sentence, and the claim against it: "we" is the speaker's side,
        an unnamed document's author the side the sentence speaks for, and a bound the
        sentence meets ("fewer than 2,015 deaths" against "2,013 deaths") its number.

        A speaker whose side the corpus does not know (no affiliation: a pool of statements
        with names only) is read as speaking for the side the claim names first ("Washington
        favours diplomacy" against such a speaker's "we prefer diplomacy"): with an official
        side set, such statements are not counted anyway, so this reading only ever compares
        a claim with statements no side rules out.
        """
        from verify.pipeline.evidence import fill_bounds

        s = e.sentence
        side = s.get("affiliation") or self.reader.subject(claim)
        official = self.reader.official(s["text"], s.get("speaker"), side)
        e.read_as = official.nli
        # A bound the sentence meets is written as its number: NLI reads the rest (evidence.fill_bounds).
        e.claim_read_as = fill_bounds(claim.as_read_by(s.get("affiliation"), self.reader.aliases), e.read_as)

    def _measure(self, e: Evidence, parts: list[str]) -> None:
        """What besides NLI the decision reads of a pair: alignment, negation, mismatches."""
        from verify.pipeline.evidence import forced_mismatches, mismatches, negated
        from verify.pipeline.segment import clauses

        t = self.thresholds
        alignment = self.aligner.align(e.claim_read_as, e.read_as)
        e.overlap, e.unmatched = alignment.score, alignment.unmatched
        e.both_negative = negated(e.claim_read_as) and negated(e.read_as)
        if e.similarity >= t.related:
            e.mismatches = mismatches(e.claim_read_as, e.read_as, t.entity_subject)
            e.flags += [f"mismatch {m}" for m in e.mismatches]
            if e.counted:
                e.forced = forced_mismatches([e.claim_read_as, *parts], [e.read_as, *clauses(e.read_as)],
                                             forcing_overlap=t.forcing_overlap, entity_subject=t.entity_subject,
                                             overlap=lambda c, o: self.aligner.align(c, o).score)

    def _score_pairs(self, claim_clauses: list[list[str]], per_claim: list[list[Evidence]]) -> None:
        """NLI for every (official unit, claim unit) pair, in one cached batch.

        The whole official sentence against the whole claim always, and the other way round
        for related official-side sentences (a paraphrase entails both ways; a claim that
        adds to a statement only one); for long sentences also each clause of either
        against the other's whole and clauses (SummaC-style). Context evidence (not the
        official side) is scored whole only: it is shown, not decided on.
        """
        from verify.pipeline.evidence import negated
        from verify.pipeline.nli import score_cached
        from verify.pipeline.segment import clauses

        t = self.thresholds
        jobs = []  # (evidence, premise unit text or "", claim clause index or None, premise, hypothesis)
        for parts, evs in zip(claim_clauses, per_claim):
            for e in evs:
                official, claim = e.read_as, e.claim_read_as
                jobs.append((e, "", None, official, claim))
                if not e.counted or e.similarity < min(t.related, t.clause_min_similarity):
                    continue
                jobs.append((e, "reverse", None, claim, official))
                units = [("", official)] + [(c, c) for c in clauses(official)]
                for label, premise in units:
                    for j, part in enumerate(parts):
                        jobs.append((e, label, j, premise, part))
                    if label:
                        jobs.append((e, label, None, premise, claim))
        self.aligner.warm((h, p) for _, _, _, p, h in jobs)
        scores = score_cached(self.corpus, self.nli, [(p, h) for _, _, _, p, h in jobs])
        for (e, label, j, premise, hypothesis), sc in zip(jobs, scores):
            if label == "reverse":
                e.reverse_entail, e.reverse_contradict = sc.entail, sc.contradict
            elif not label and j is None:
                e.p_entail, e.p_neutral, e.p_contradict, e.truncated = sc.entail, sc.neutral, sc.contradict, sc.truncated
                if sc.truncated:
                    e.flags.append("truncated for NLI")
            else:
                e.units.append(Unit(label, j, sc.entail, sc.neutral, sc.contradict,
                                    self.aligner.align(hypothesis, premise).score,
                                    negated(hypothesis) and negated(premise)))

    def score_into(self, run_id: int, claim_ids: Sequence[int], progress=None) -> list[ClaimResult]:
        """Score stored claims into an open run (``Corpus.new_run``; recheck uses it)."""
        run = CheckRun(run_id, {})
        self._score_claims_into(run, self._candidates(claim_ids), progress)
        return run.results

    def _run(self, claims: list[ClaimCandidate], progress=None) -> CheckRun:
        manifest = self.manifest()
        with self.corpus.new_run(manifest) as run_id:
            run = CheckRun(run_id, manifest)
            self._score_claims_into(run, claims, progress)
        return run

    def _result(self, c: ClaimCandidate, verdict: Verdict, evs: list[Evidence], review=None) -> ClaimResult:
        reading = self.reader.claim(c.text)
        return ClaimResult(c.claim_id, c.text, verdict, evs, c.start, c.end, c.document_id, self.thresholds,
                           self.nli is not None, review, reading.frame, reading.proposition, reading.nli)

    def _score_claims_into(self, run: CheckRun, claims: list[ClaimCandidate], progress=None,
                           batch: int = 64) -> None:
        for start in range(0, len(claims), batch):
            chunk = claims[start:start + batch]
            scored = []
            for date in dict.fromkeys(c.report_date for c in chunk):  # one retrieval per report date
                part = [c for c in chunk if c.report_date == date]
                scored += zip(part, self.score_claims([c.text for c in part], date))
            for c, (verdict, evs) in scored:
                verdict.trail = trail_details(evs)
                self.corpus.store_verdict(run.run_id, c.claim_id, verdict, [_evidence_row(ev) for ev in evs])
                run.results.append(self._result(c, verdict, evs, self.corpus.latest_review(c.claim_id)))
            if progress:
                progress(len(chunk))


def _evidence_row(e: Evidence) -> dict:
    return {"rank": e.rank, "sentence_id": e.sentence["id"], "similarity": e.similarity,
            "p_entail": e.p_entail, "p_neutral": e.p_neutral, "p_contradict": e.p_contradict,
            "flags": json.dumps(e.flags), "relation": e.sentence.get("relation"), "counted": int(e.counted),
            "units": json.dumps([asdict(u) for u in e.units]) if e.units else None}


def trail_details(evs: list[Evidence]) -> list[dict]:
    """What was measured on each evidence sentence beyond its stored row, kept with the
    verdict so that ``evidence_trail`` shows what decided, without recomputing it."""
    def m(ms):
        return [{"kind": x.kind, "claim": x.claim, "official": x.official} for x in ms]

    return [{"rank": e.rank, "read_as": e.read_as, "claim_read_as": e.claim_read_as, "alignment": e.overlap,
             "unmatched": e.unmatched, "both_negative": e.both_negative, "reverse_entail": e.reverse_entail,
             "reverse_contradict": e.reverse_contradict, "mismatches": m(e.mismatches), "forced": m(e.forced)}
            for e in evs]


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
        units = [Unit(**{"overlap" if k == "subject_overlap" else k: x for k, x in u.items()})
                 for u in json.loads(r.get("units") or "[]")]
        evidence.append(Evidence(sentence, r["rank"], r["similarity"], r["p_entail"], r["p_neutral"], r["p_contradict"],
                                 flags=json.loads(r["flags"] or "[]"), units=units,
                                 counted=r.get("counted") is None or bool(r["counted"])))
    out = _annotate(evidence, claim, v["label"], manifest, v.get("needs_review"), details.get("trail"))
    return {"claim": claim,
            "verdict": {k: v[k] for k in ("label", "score", "reason")} | {
                "conflicting": bool(v["conflicting"]), "needs_review": v.get("needs_review"),
                "clauses": details.get("clauses") or [], "decisive": details.get("decisive"),
                "code": details.get("code"), "review_code": details.get("review_code"),
                "probabilities": details.get("probabilities")},
            "evidence": out, "run": {"id": run["id"], "status": run["status"], **manifest}}


def _annotate(evidence: list[Evidence], claim: dict, label: str, manifest: dict,
              needs_review: str | None = None, trail: list[dict] | None = None) -> list[dict]:
    """The stored evidence as output records, with side-by-side mismatches and, for novel
    verdicts, why each sentence fell short, under the run's own thresholds.

    Runs store what they measured (``trail_details``); for runs from before they did, it is
    recomputed from the stored text, as those runs read it (names as written).
    """
    from verify.pipeline.evidence import (
        Mismatch,
        forced_mismatches,
        mismatches,
        negated,
        subject_overlap,
        warm_entity_pairs,
    )
    from verify.pipeline.segment import clauses

    t = Thresholds.from_manifest(manifest)
    measured = {d["rank"]: d for d in trail or []}
    proposition = claim.get("proposition") or split_frame(claim["text"])[1]
    claim_negative = negated(proposition)
    # Older runs only: the entity tagger runs once over every sentence and clause the checks
    # below compare (a batch is several times faster than a call per sentence: the desk's
    # claim page waits on it). Newer runs stored what they measured.
    related = [e for e in evidence if e.similarity >= t.related and e.rank not in measured]
    pairs = [(proposition, e.sentence["text"]) for e in related]
    if t.forced_mismatch and any(e.counted for e in related):
        claim_units = [proposition, *clauses(proposition)]
        pairs += [(c, o) for e in related if e.counted
                  for c in claim_units for o in [e.sentence["text"], *clauses(e.sentence["text"])]]
    warm_entity_pairs(pairs)
    for e in evidence:
        d = measured.get(e.rank)
        if d is not None:
            e.read_as, e.claim_read_as, e.overlap, e.unmatched = (d["read_as"], d["claim_read_as"],
                                                                  d["alignment"], d["unmatched"])
            e.both_negative, e.reverse_entail, e.reverse_contradict = (d["both_negative"], d["reverse_entail"],
                                                                       d["reverse_contradict"])
            e.mismatches = [Mismatch(**m) for m in d["mismatches"]]
            e.forced = [Mismatch(**m) for m in d["forced"]]
            continue
        e.overlap = subject_overlap(proposition, e.sentence["text"])
        e.both_negative = claim_negative and negated(e.sentence["text"])
        if e.similarity >= t.related:
            e.mismatches = mismatches(proposition, e.sentence["text"])
            if e.counted and t.forced_mismatch:
                e.forced = forced_mismatches([proposition, *clauses(proposition)],
                                             [e.sentence["text"], *clauses(e.sentence["text"])])
    nli = manifest.get("nli_model") is not None
    if (needs_review or "").startswith("cross-lingual"):
        from verify.pipeline.language import CROSS_LINGUAL_WHY_NOT

        return [evidence_dict(e) | {"why_not": CROSS_LINGUAL_WHY_NOT} for e in evidence]
    why_not = shortfalls(evidence, t, nli) if label == "novel" else [None] * len(evidence)
    return [evidence_dict(e) | {"why_not": w} for e, w in zip(evidence, why_not)]
