"""The decision: consistent, contradictory or novel, with a score and a reason.

Inputs per claim are its retrieved evidence sentences, each with a cosine similarity
and, when an NLI model is present, P(entail), P(neutral), P(contradict) with the
official sentence as premise and the claim as hypothesis.

Rules (thresholds in ``Thresholds``, recorded in every run's manifest):

* Only *related* evidence counts (similarity >= ``related``): NLI on unrelated pairs is noise.
* support = max P(entail) over related evidence; against = max P(contradict) over the
  ``contradict_top`` most similar related evidence sentences only. The asymmetry is deliberate:
  any related sentence may paraphrase the claim, but a contradiction must be about the same
  fact, and the sentences most similar to the claim are the likeliest to be; NLI models call
  contradiction on merely topic-adjacent pairs far more often than entailment.
* consistent if support >= ``entail`` and support >= against;
  contradictory if against >= ``contradict`` and against > support;
  otherwise novel. When both support and against pass their thresholds the verdict is
  flagged ``conflicting`` and the reason names both sides.
* Score = how sure we are of the chosen label: support or against for the first two,
  1 - max(support, against) for novel.
* Mismatch: closely related evidence (similarity >= ``mismatch_sim``) that disagrees on a
  number, date or polarity and does not entail the claim counts against it with at least
  ``mismatch_p``, even where the NLI model saw no contradiction.
* Quotes: when every quoted passage of the claim is found (near-)verbatim (ratio >=
  ``quote``) in an official sentence, that is support with the match ratio as its strength.
  A quote found nowhere official is flagged; for a leak that is expected (it quotes the
  confidential text), so the flag informs and does not decide.
* Without an NLI model (similarity-only mode) a claim is consistent when its best
  similarity reaches ``sim_consistent`` and novel otherwise; such a run can never say
  contradictory, and every reason says so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

LABELS = ("consistent", "novel", "contradictory")


@dataclass
class Thresholds:
    entail: float = 0.5
    contradict: float = 0.5
    related: float = 0.35
    sim_consistent: float = 0.8
    mismatch_sim: float = 0.6
    mismatch_p: float = 0.6
    quote: float = 0.9
    contradict_top: int = 2  # how many of the most similar related sentences may contradict
    source: str = "built-in defaults"
    # label -> isotonic steps [(upper raw score, calibrated score)], from `verify calibrate`
    score_steps: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Evidence:
    """One retrieved official sentence and its scores against a claim."""

    sentence: dict
    rank: int
    similarity: float
    p_entail: float | None = None
    p_neutral: float | None = None
    p_contradict: float | None = None
    truncated: bool = False
    flags: list[str] = field(default_factory=list)
    mismatches: list = field(default_factory=list)

    @property
    def has_nli(self) -> bool:
        return self.p_entail is not None


@dataclass
class Verdict:
    label: str
    score: float
    reason: str
    conflicting: bool = False
    decisive: int | None = None  # index into the evidence list
    flags: list[str] = field(default_factory=list)
    quotes: list[dict] = field(default_factory=list)
    raw_score: float | None = None  # before calibration, when a calibration applies
    cutoffs: dict | None = None  # retrieval bars for new sentences (see retrieve.Hits); rechecks read them


def apply_steps(steps, x: float) -> float:
    """Map a raw score through isotonic calibration steps [(upper raw score, value)]."""
    for upper, value in steps:
        if x <= upper:
            return value
    return steps[-1][1] if steps else x


def against_score(e: Evidence, t: Thresholds) -> float:
    """Strength of evidence against the claim: NLI contradiction, or a same-subject mismatch."""
    p = e.p_contradict or 0.0
    if e.mismatches and e.similarity >= t.mismatch_sim and (e.p_entail or 0.0) < t.entail:
        p = max(p, t.mismatch_p)
    return p


def may_contradict(evidence: list[Evidence], t: Thresholds) -> list[int]:
    """Indices of the evidence whose contradiction counts: the ``contradict_top`` most similar related ones."""
    related = [(i, e) for i, e in enumerate(evidence) if e.similarity >= t.related]
    closest = sorted(related, key=lambda ie: (-ie[1].similarity, ie[0]))[:max(1, t.contradict_top)]
    return [i for i, _ in closest]


def shortfall(e: Evidence, t: Thresholds, nli: bool, counts_against: bool = True) -> str:
    """Why this evidence did not decide the claim (shown for novel verdicts).

    Args:
        counts_against: whether its contradiction could count (see ``may_contradict``).
    """
    if e.similarity < t.related:
        return f"not closely related (similarity {e.similarity:.2f} < {t.related:.2f})"
    if not nli:
        return f"similarity {e.similarity:.2f} below {t.sim_consistent:.2f}, no NLI model to judge"
    against = (f"contradict p={against_score(e, t):.2f} < {t.contradict:.2f}" if counts_against else
               f"contradict p={against_score(e, t):.2f} not counted: only the {t.contradict_top} most "
               "similar sentences may contradict")
    parts = [f"entail p={e.p_entail:.2f} < {t.entail:.2f}", against]
    if (e.p_neutral or 0) >= 0.5:
        parts.insert(0, f"related but neutral (p={e.p_neutral:.2f}): it neither supports nor denies the claim")
    return "; ".join(parts)


def cite(ev: Evidence) -> str:
    s = ev.sentence
    who = s.get("speaker") or s.get("publisher") or s.get("title") or f"document {s.get('document_id')}"
    when = s.get("published")
    return f"{who}, {when}" if when else who


def decide(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict] | None = None) -> Verdict:
    v = _decide(evidence, t, nli=nli, quotes=quotes or [])
    if t.score_steps.get(v.label):
        v.raw_score = v.score
        v.score = apply_steps(t.score_steps[v.label], v.score)
    v.quotes = quotes or []
    for q in v.quotes:
        if q["ratio"] < t.quote:
            v.flags.append(f"quote not found in any official statement: \u201c{q['quote']}\u201d")
    if any(e.truncated for e in evidence):
        v.flags.append("some evidence was truncated for NLI")
    return v


def _decide(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict]) -> Verdict:
    found = [q for q in quotes if q["ratio"] >= t.quote]
    quote_support = min(q["ratio"] for q in found) if found and len(found) == len(quotes) else 0.0
    if not evidence:
        return Verdict("novel", 1.0, "no official statements to compare with")
    related = [(i, e) for i, e in enumerate(evidence) if e.similarity >= t.related]
    if not nli:
        i, best = max(enumerate(evidence), key=lambda ie: ie[1].similarity)
        note = " (similarity only: no NLI model, so contradictions cannot be detected)"
        if best.similarity >= t.sim_consistent and best.mismatches:
            return Verdict("novel", round(1 - max(0.0, best.similarity), 4),
                           f"close to {cite(best)} (similarity {best.similarity:.2f}) but they disagree: "
                           + "; ".join(str(m) for m in best.mismatches) + note, decisive=i)
        if best.similarity >= t.sim_consistent:
            return Verdict("consistent", round(best.similarity, 4),
                           f"close to {cite(best)}, similarity {best.similarity:.2f}{note}", decisive=i)
        return Verdict("novel", round(1 - max(0.0, best.similarity), 4),
                       f"nearest official sentence only {best.similarity:.2f} similar{note}", decisive=i)
    if not related:
        i, best = max(enumerate(evidence), key=lambda ie: ie[1].similarity)
        return Verdict("novel", round(1 - max(0.0, best.similarity), 4),
                       f"no closely related official statement (best similarity {best.similarity:.2f})", decisive=i)
    si, sup = max(related, key=lambda ie: (ie[1].p_entail, ie[1].similarity))
    closest = [(i, evidence[i]) for i in may_contradict(evidence, t)]
    ci, con = max(closest, key=lambda ie: (against_score(ie[1], t), ie[1].similarity))
    support, against = sup.p_entail, against_score(con, t)
    by_quote = quote_support > support
    if by_quote:
        support = quote_support
    conflicting = support >= t.entail and against >= t.contradict
    if support >= t.entail and support >= against:
        if by_quote:
            q = found[0]
            reason = f"quoted words found in {q['speaker'] or q['title'] or 'an official statement'}" \
                     f"{', ' + q['date'] if q.get('date') else ''}, match {q['ratio']:.2f}"
        else:
            reason = f"entailed by {cite(sup)}, p={support:.2f}"
        if conflicting:
            reason += f"; but contradicted by {cite(con)}, p={against:.2f}"
        return Verdict("consistent", round(support, 4), reason, conflicting, si)
    if against >= t.contradict and against > support:
        reason = f"contradicted by {cite(con)}, p={against:.2f}"
        if con.mismatches:
            reason += " (" + "; ".join(str(m) for m in con.mismatches) + ")"
        if conflicting:
            reason += f"; but entailed by {cite(sup)}, p={support:.2f}"
        return Verdict("contradictory", round(against, 4), reason, conflicting, ci)
    top = max(support, against)
    return Verdict("novel", round(1 - top, 4),
                   f"no official statement supports or contradicts it "
                   f"(best entail p={support:.2f}, contradict p={against:.2f})", decisive=si)
