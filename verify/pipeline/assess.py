"""Measure: everything the decision reads about one claim, computed once.

The checker decides in three steps, each in its own place:

1. **measure** (this module): from the claim's scored evidence, an ``Assessment``: the
   strongest support (one sentence, every clause, or a found quote), the strongest
   opposition (NLI contradiction on a sentence about the same subject, not a shared
   negation), the number/date/name mismatches that decide on their own, the nearest
   sentence, what a statement outside the official side says, and the features a fitted
   decision reads;
2. **rules** (``verdict.rules``): a label and a code saying why, and a review code;
3. **words** (``verdict.words``): the reason a desk reads, written from the codes.

``shortfall`` (why a sentence did not decide) reads the same assessment, so what the
trail says is what the rules saw.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from verify.pipeline.thresholds import Thresholds

# The order of the features a fitted decision reads (``Thresholds.fit``); a fit records it,
# and one with another order is refused rather than misread.
FEATURES = (
    "support",          # best real entailment of the whole claim by one sentence
    "clause_support",   # every clause of the claim entailed, the weakest of them
    "quote",            # every quoted passage found verbatim in an official sentence
    "reverse_entail",   # the claim entails the supporting sentence back: a paraphrase, not a summary
    "against",          # best NLI contradiction on a same-subject, not-both-negative pair
    "reverse_against",  # the same pair read the other way
    "echo",             # contradiction on a pair whose sides are both negative (read as agreement)
    "neutral",          # P(neutral) of the nearest related sentence
    "similarity",       # the nearest official sentence's cosine similarity
    "alignment",        # share of the claim's words the best-aligned related sentence matches
    "support_alignment",
    "against_alignment",
    "forced",           # a number, date or name mismatch on a same-subject sentence
    "mismatch",         # any mismatch on the nearest related sentence
)


@dataclass
class Unit:
    """NLI on one clause of an official sentence against the claim or one clause of it.

    ``premise`` is the official clause ("" for the whole sentence); ``claim`` the claim
    clause's index (None for the whole claim).
    """

    premise: str
    claim: int | None
    entail: float
    neutral: float
    contradict: float
    overlap: float = 1.0  # alignment of the claim (clause) with the official one (align.Aligner)
    both_negative: bool = False  # both sides carry a negation (evidence.negated): see against_score


@dataclass
class Evidence:
    """One retrieved official sentence and its scores against a claim.

    NLI reads both sides as ``verify.pipeline.reading`` writes them (frames off, names
    canonical): ``read_as`` is the official side so read; the claim's is on the result.
    """

    sentence: dict
    rank: int
    similarity: float
    p_entail: float | None = None  # official sentence as premise, claim as hypothesis
    p_neutral: float | None = None
    p_contradict: float | None = None
    truncated: bool = False
    flags: list[str] = field(default_factory=list)
    mismatches: list = field(default_factory=list)  # every mismatch on the pair, shown side by side
    counted: bool = True  # an official-side statement (others are shown, never decisive)
    overlap: float = 1.0  # alignment: share of the claim's content words the sentence matches (align.Aligner)
    both_negative: bool = False  # the claim and the sentence both carry a negation (evidence.negated)
    forced: list = field(default_factory=list)  # number/date/name mismatches on same-subject clauses: decisive
    units: list[Unit] = field(default_factory=list)  # clause-level NLI, when either side has clauses
    reverse_entail: float | None = None  # the claim as premise: it says at least what the sentence says
    reverse_contradict: float | None = None
    read_as: str | None = None  # the official sentence as NLI read it
    claim_read_as: str | None = None  # the claim as NLI read it against this sentence
    unmatched: list[str] = field(default_factory=list)  # claim words the sentence does not match

    @property
    def alignment(self) -> float:
        return self.overlap

    def pairs(self) -> list[Unit]:
        """Every scored pair: the whole sentence against the whole claim, then the clauses."""
        whole = [Unit("", None, self.p_entail, self.p_neutral or 0.0, self.p_contradict or 0.0,
                      self.overlap, self.both_negative)] if self.p_entail is not None else []
        return whole + self.units


@dataclass
class Strength:
    """How strongly the evidence says one thing, and which evidence says it."""

    p: float = 0.0
    index: int | None = None
    how: str = ""  # support: "sentence" | "clauses" | "quote"


@dataclass
class Assessment:
    """One claim's evidence, measured. Indices point into ``evidence``."""

    evidence: list[Evidence]
    nli: bool
    counted: list[int] = field(default_factory=list)
    related: list[int] = field(default_factory=list)
    closest: list[int] = field(default_factory=list)  # may contradict (``Thresholds.contradict_top``)
    support: Strength = field(default_factory=Strength)  # the strongest of the three below
    sentence_support: Strength = field(default_factory=Strength)
    clause_support: Strength = field(default_factory=Strength)
    per_clause: list[tuple[float, int | None]] = field(default_factory=list)
    quote_support: Strength = field(default_factory=Strength)
    quotes: list[dict] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)
    against: Strength = field(default_factory=Strength)
    echo: Strength = field(default_factory=Strength)
    forced: list[int] = field(default_factory=list)
    nearest: int | None = None  # the most similar counted sentence
    other_side: tuple[str, int, float] | None = None  # ("contradicts" | "supports", index, p)

    def features(self) -> dict[str, float]:
        """The values of ``FEATURES``, by name, in that order."""
        ev = self.evidence
        near = ev[self.nearest] if self.nearest is not None else None
        sup = ev[self.support.index] if self.support.index is not None else None
        con = ev[self.against.index] if self.against.index is not None else None
        values = {
            "support": self.sentence_support.p,
            "clause_support": self.clause_support.p,
            "quote": self.quote_support.p,
            "reverse_entail": (sup.reverse_entail or 0.0) if sup is not None else 0.0,
            "against": self.against.p,
            "reverse_against": (con.reverse_contradict or 0.0) if con is not None else 0.0,
            "echo": self.echo.p,
            "neutral": (near.p_neutral or 0.0) if near is not None else 1.0,
            "similarity": near.similarity if near is not None else 0.0,
            "alignment": max((ev[i].alignment for i in self.related), default=0.0),
            "support_alignment": sup.alignment if sup is not None else 0.0,
            "against_alignment": con.alignment if con is not None else 0.0,
            "forced": float(bool(self.forced)),
            "mismatch": float(bool(near is not None and near.mismatches and self.nearest in self.related)),
        }
        return {name: float(values[name]) for name in FEATURES}


def entails(u: Unit) -> float:
    """P(entail) of a pair, if entailment is what the model actually says (beats contradiction)."""
    return u.entail if u.entail > u.contradict else 0.0


def negation_echo(u: Unit, t: Thresholds) -> bool:
    """A pair whose sides are both negative, which small NLI models read as contradiction.

    "None of the documents were released" against "Washington would not release the
    document" scores contradiction 0.89: the model learnt "a negation in one sentence means
    they disagree", and cannot tell a shared negation from an opposed one. Such a pair may
    support a claim but never contradict it.
    """
    return t.shared_negation and u.both_negative


def against_score(e: Evidence, t: Thresholds) -> float:
    """Strength of evidence against the claim: NLI contradiction on pairs about the same
    subject (alignment >= ``subject_overlap``), where not both sides are negative.

    A claim that entails the sentence read the other way (P >= ``reverse_entail_veto``, above
    its contradiction) cannot contradict it, whatever the model says one way round: NLI
    contradiction is symmetric, and a model that reads it in one direction only is reading
    a paraphrase as opposition ("NATO proposes to reopen its office in Moscow" against "We
    propose to re-establish our respective offices in Moscow and in Brussels": 0.76 one way,
    entailment 0.77 the other).

    Runs recorded before forced mismatches (``forced_mismatch`` False) let any mismatch
    raise it to ``mismatch_p``; kept so their trails explain what they decided.
    """
    if reversed_support(e, t):
        return 0.0
    p = max((u.contradict for u in e.pairs() if u.overlap >= t.subject_overlap and not negation_echo(u, t)),
            default=0.0)
    if not t.forced_mismatch and e.mismatches and e.similarity >= t.mismatch_sim \
            and (e.p_entail or 0.0) < t.entail:
        p = max(p, t.mismatch_p)
    return p


def reversed_support(e: Evidence, t: Thresholds) -> bool:
    """Whether the claim, read as the premise, entails the sentence (P >= ``reverse_entail_veto``,
    above its contradiction): then the sentence cannot contradict it (``against_score``)."""
    return (e.reverse_entail is not None and e.reverse_entail >= t.reverse_entail_veto
            and e.reverse_entail > (e.reverse_contradict or 0.0))


def support_score(e: Evidence, t: Thresholds) -> float:
    """Strength of support for the whole claim: the best real entailment of any of its pairs
    whose official side matches at least ``support_overlap`` of the claim's words, unless the
    claim contradicts the sentence read the other way (``reversed_against``)."""
    if reversed_against(e, t):
        return 0.0
    return max((entails(u) for u in e.pairs() if u.claim is None and u.overlap >= t.support_overlap), default=0.0)


def reversed_against(e: Evidence, t: Thresholds) -> bool:
    """Whether the claim, read as the premise, contradicts the sentence (P >=
    ``reverse_contradict_veto``, above its entailment): then the sentence cannot support it.

    The mirror of the reverse-entailment veto in ``against_score``. A paraphrase entails
    both ways; a sentence that only seems to entail the claim one way while the claim
    contradicts it the other way is the model missing a negation: "The United States did not
    agree to end NATO enlargement" against "The United States agreed to halt any further
    enlargement of NATO" reads entail 0.57 one way and contradict 0.52 the other.
    """
    return (e.reverse_contradict is not None and e.reverse_contradict >= t.reverse_contradict_veto
            and e.reverse_contradict > (e.reverse_entail or 0.0)
            and any(m.kind == "polarity" for m in e.mismatches))


def may_contradict(evidence: list[Evidence], t: Thresholds) -> list[int]:
    """Indices of the evidence whose contradiction counts: the ``contradict_top`` most similar
    counted related ones, less those the nearest outweighs (``outweighed``)."""
    closest = closest_related(evidence, t)
    return [i for i in closest if not outweighed(evidence, i, t, closest)]


def closest_related(evidence: list[Evidence], t: Thresholds) -> list[int]:
    """Indices of the ``contradict_top`` most similar counted related sentences, nearest first."""
    related = [(i, e) for i, e in enumerate(evidence) if e.similarity >= t.related and e.counted]
    return [i for i, _ in sorted(related, key=lambda ie: (-ie[1].similarity, ie[0]))[:max(1, t.contradict_top)]]


def outweighed(evidence: list[Evidence], i: int, t: Thresholds, closest: list[int] | None = None) -> Evidence | None:
    """The nearest related sentence, if it keeps sentence ``i`` from contradicting the claim:
    it leans to support the claim (entail >= ``lean_support``, above its contradiction) without
    supporting it outright, and sentence ``i`` is at least ``lean_gap`` less similar; else None.

    A nearest sentence that does support the claim outweighs nothing: support against a
    contradiction is a conflict the desk is shown (``Review.CONFLICT``), not one the rules hide.
    ``closest``: ``closest_related(evidence, t)`` when the caller has it already."""
    closest = closest_related(evidence, t) if closest is None else closest
    if not closest or i == closest[0]:
        return None
    near = evidence[closest[0]]
    entail, contradict = near.p_entail or 0.0, near.p_contradict or 0.0
    if t.lean_support <= entail < t.entail_bar and entail > contradict \
            and evidence[i].similarity <= near.similarity - t.lean_gap:
        return near
    return None


def assess(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict] | None = None,
           clauses: list[str] | None = None) -> Assessment:
    """Measure one claim's evidence (see the module docstring).

    Args:
        quotes: ``retrieve.find_quote`` results for the claim's quoted passages.
        clauses: the claim's clauses when it was scored by parts (``Unit.claim`` indexes them).
    """
    a = Assessment(evidence, nli, quotes=quotes or [], clauses=clauses or [])
    a.counted = [i for i, e in enumerate(evidence) if e.counted]
    a.related = [i for i in a.counted if evidence[i].similarity >= t.related]
    if a.counted:
        a.nearest = max(a.counted, key=lambda i: (evidence[i].similarity, -i))
    found = [q for q in a.quotes if q["ratio"] >= t.quote]
    if found and len(found) == len(a.quotes):
        # The weakest match decides; it points at its sentence only if that is in the evidence.
        q = min(found, key=lambda q: q["ratio"])
        at = next((i for i, e in enumerate(evidence) if q.get("sentence_id") is not None
                   and e.sentence.get("id") == q["sentence_id"]), None)
        a.quote_support = Strength(q["ratio"], at, "quote")
    if not nli or not a.related:
        a.support = a.quote_support
        return a

    si = max(a.related, key=lambda i: (support_score(evidence[i], t), evidence[i].similarity, -i))
    a.sentence_support = Strength(support_score(evidence[si], t), si, "sentence")
    for j in range(len(a.clauses)):
        cands = [(entails(u), i) for i in a.related if not reversed_against(evidence[i], t)
                 for u in evidence[i].pairs() if u.claim == j]
        a.per_clause.append(max(cands, default=(0.0, None)))
    if a.per_clause:
        p, i = min(a.per_clause, key=lambda pc: pc[0])
        a.clause_support = Strength(p, i, "clauses")
    a.support = max((a.sentence_support, a.clause_support, a.quote_support), key=lambda s: s.p)
    if a.support.how == "quote" and a.support.p == a.sentence_support.p:
        a.support = a.sentence_support  # a tie goes to the sentence that NLI read

    a.closest = may_contradict(evidence, t)
    ci = max(a.closest, key=lambda i: (against_score(evidence[i], t), evidence[i].similarity, -i))
    a.against = Strength(against_score(evidence[ci], t), ci)
    echoes = [(u.contradict, i) for i in a.closest for u in evidence[i].pairs()
              if negation_echo(u, t) and u.overlap >= t.subject_overlap]
    if echoes:
        p, i = max(echoes)
        a.echo = Strength(p, i)
    a.forced = [i for i in a.related
                if t.forced_mismatch and evidence[i].forced and evidence[i].similarity >= t.mismatch_sim]
    a.other_side = _other_side(evidence, t)
    return a


def _other_side(evidence: list[Evidence], t: Thresholds) -> tuple[str, int, float] | None:
    """A statement outside the official side that strongly supports or denies the claim."""
    for i, e in enumerate(evidence):
        if e.counted or e.p_entail is None:
            continue
        if e.p_contradict >= t.other_side_contradict and e.overlap >= t.subject_overlap:
            return "contradicts", i, e.p_contradict
        if e.p_entail >= t.other_side_support:
            return "supports", i, e.p_entail
    return None
