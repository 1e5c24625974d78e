"""The decision: consistent, contradictory or novel, with a score, a reason, and a
``needs review`` flag where the evidence is weak or split.

It reads an ``Assessment`` (``verify.pipeline.assess``: the claim's evidence, measured
once) and decides in two steps a newcomer can change one at a time:

* ``rules`` gives the label, a ``Code`` saying why, and a ``Review`` code when a desk
  should read the evidence first;
* ``words`` and ``review_words`` write what the desk reads from those codes.

The rules, in order (every constant in ``Thresholds``, recorded in each run's manifest):

* No evidence, no official-side statement, or nothing related (similarity < ``related``):
  novel.
* Similarity only (no NLI model): consistent when the nearest official sentence reaches
  ``sim_consistent`` and agrees on numbers, dates and names; it can never say contradictory.
* A **number, date or name mismatch** on a closely related (``mismatch_sim``), same-subject
  official sentence makes the claim contradictory whatever the NLI model says ("10,000
  troops" / "100,000 troops") -- unless another official sentence entails the claim and
  agrees on them all, which is a conflict for the desk. Names are compared as canonical
  entities: "Washington" and "the United States" do not mismatch.
* **Support** is real entailment (P(entail) beats P(contradict)) of the whole claim by one
  sentence that matches at least ``support_overlap`` of its words, of every clause by some
  sentence, or every quoted passage found verbatim; never below ``entail_floor``, and never
  from a sentence of opposite polarity that the claim contradicts read the other way
  (``reverse_contradict_veto``). **Against** is NLI
  contradiction from one of the ``contradict_top`` most similar sentences, on a pair about
  the same subject (alignment >= ``subject_overlap``) whose sides are not both negative,
  and that the claim does not entail read the other way (``reverse_entail_veto``); not from
  a sentence ``lean_gap`` less similar than a nearest one that leans to support the claim
  (entail >= ``lean_support``) without supporting it.
* With a fitted decision (``Thresholds.fit``, from ``verify calibrate``), the label is the
  likeliest among those the evidence allows: consistent if there is support, contradictory
  if there is opposition and P(contradictory) reaches the fit's ``contradict_bar``, novel
  always. Without one: consistent if support >= ``entail`` and >= against; contradictory if
  against >= ``contradict`` and > support; otherwise novel.
* **Needs review** when support and contradiction both pass; the claim is partly
  supported; both sides are negative and the model reads contradiction; the deciding
  value is within ``review_margin`` of its bar; or a statement outside the official side
  would have decided otherwise.
* Score = how sure we are of the chosen label: the fitted probability of it, or without a
  fit the support or opposition (1 - the larger for novel), mapped through the per-label
  calibration steps (``score_steps``) when there are some.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from verify.pipeline.assess import (  # noqa: F401  (Evidence, Unit, may_contradict, outweighed: part of verdict's API)
    Assessment,
    Evidence,
    Unit,
    against_score,
    assess,
    closest_related,
    may_contradict,
    negation_echo,
    outweighed,
    reversed_against,
    reversed_support,
    support_score,
)
from verify.pipeline.thresholds import ENTAIL_FLOOR, Thresholds  # noqa: F401  (re-exported)

LABELS = ("consistent", "novel", "contradictory")


class Code(str, Enum):
    """Why a claim got its label."""

    NO_EVIDENCE = "no-evidence"
    NO_OFFICIAL = "no-official-statement"
    UNRELATED = "unrelated"
    SIMILAR = "similar"  # similarity only
    SIMILAR_BUT_MISMATCH = "similar-but-mismatch"
    NOT_SIMILAR = "not-similar"
    MISMATCH = "mismatch"
    ENTAILED = "entailed"
    CLAUSES_ENTAILED = "clauses-entailed"
    QUOTED = "quoted"
    CONTRADICTED = "contradicted"
    UNDECIDED = "undecided"
    PARTLY_SUPPORTED = "partly-supported"


class Review(str, Enum):
    """Why a desk should read the evidence before trusting the label."""

    CONFLICT = "conflict"
    MISMATCH_ELSEWHERE = "mismatch-elsewhere"
    SUPPORTED_ELSEWHERE = "supported-elsewhere"
    PARTLY_SUPPORTED = "partly-supported"
    NEGATION_ECHO = "negation-echo"
    NEAR_CONSISTENT = "near-consistent"
    NEAR_CONTRADICTORY = "near-contradictory"
    WEAK_SUPPORT = "weak-support"
    WEAK_CONTRADICTION = "weak-contradiction"
    OTHER_SIDE_CONTRADICTS = "other-side-contradicts"
    OTHER_SIDE_SUPPORTS = "other-side-supports"


@dataclass
class Decision:
    """What ``rules`` decided: a label, why, how sure, on which evidence."""

    label: str
    code: Code
    score: float
    index: int | None = None  # the deciding evidence
    review: Review | None = None
    conflicting: bool = False
    probabilities: dict | None = None  # from the fitted decision, when there is one


@dataclass
class Verdict:
    label: str
    score: float
    reason: str
    conflicting: bool = False
    decisive: int | None = None  # index into the evidence list
    flags: list[str] = field(default_factory=list)
    quotes: list[dict] = field(default_factory=list)
    cutoffs: dict | None = None  # retrieval bars for new sentences (see retrieve.Hits); rechecks read them
    needs_review: str | None = None  # why a desk should read the evidence before trusting the label
    clauses: list[str] = field(default_factory=list)  # the claim's clauses, when it was scored by parts
    language: str | None = None  # the language the claim was checked in (verify.pipeline.language)
    code: str | None = None  # Code: why the label
    review_code: str | None = None  # Review: why it needs review
    probabilities: dict | None = None  # the fitted decision's P(label)
    trail: list[dict] | None = None  # what was measured on each evidence sentence (check.trail_details)


def apply_steps(steps, x: float) -> float:
    """Map a raw score through isotonic calibration steps [(upper raw score, value)]."""
    for upper, value in steps:
        if x <= upper:
            return value
    return steps[-1][1] if steps else x


def decide(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict] | None = None,
           clauses: list[str] | None = None) -> Verdict:
    """Label one claim from its evidence: measure, rules, words."""
    a = assess(evidence, t, nli=nli, quotes=quotes, clauses=clauses)
    d = rules(a, t)
    score = d.score
    if d.probabilities is None and t.score_steps.get(d.label):
        score = apply_steps(t.score_steps[d.label], score)
    v = Verdict(d.label, round(score, 4), words(a, d, t), d.conflicting, d.index,
                quotes=a.quotes, clauses=a.clauses, needs_review=review_words(a, d, t),
                code=d.code.value, review_code=d.review.value if d.review else None,
                probabilities={k: round(p, 4) for k, p in d.probabilities.items()} if d.probabilities else None)
    for q in v.quotes:
        if q["ratio"] < t.quote:
            v.flags.append(f"quote not found in any official statement: \u201c{q['quote']}\u201d")
    if any(e.truncated for e in evidence):
        v.flags.append("some evidence was truncated for NLI")
    return v


def rules(a: Assessment, t: Thresholds) -> Decision:
    """The label, from the assessment (the module docstring lists the rules)."""
    ev = a.evidence
    if not ev:
        return Decision("novel", Code.NO_EVIDENCE, 1.0)
    if not a.counted:
        return Decision("novel", Code.NO_OFFICIAL, 1.0, max(range(len(ev)), key=lambda i: ev[i].similarity))
    near = ev[a.nearest]
    if not a.nli:
        if near.similarity >= t.sim_consistent:
            if near.mismatches:
                return Decision("novel", Code.SIMILAR_BUT_MISMATCH, 1 - near.similarity, a.nearest)
            return Decision("consistent", Code.SIMILAR, near.similarity, a.nearest)
        return Decision("novel", Code.NOT_SIMILAR, 1 - max(0.0, near.similarity), a.nearest)
    if not a.related:
        return Decision("novel", Code.UNRELATED, 1 - max(0.0, near.similarity), a.nearest)

    sup, con = a.support, a.against
    supported = sup.p >= t.entail_bar
    opposed = con.p >= t.contradict
    conflicting = supported and (opposed or bool(a.forced))
    # A mismatch decides whatever the model says (it cannot read numbers), but not over
    # another sentence that entails the claim and agrees on every number, date and name.
    agreeing = sup.how == "sentence" and sup.index not in a.forced and sup.p >= con.p
    if a.forced and not (supported and agreeing):
        fi = max(a.forced, key=lambda i: ev[i].similarity)
        return Decision("contradictory", Code.MISMATCH, max(against_score(ev[fi], t), ev[fi].similarity), fi,
                        Review.SUPPORTED_ELSEWHERE if conflicting else None, conflicting)

    probabilities = t.probabilities(a.features())
    if probabilities is not None:
        allowed = {"novel": True, "consistent": supported,
                   "contradictory": opposed and probabilities["contradictory"] >= t.fit.get("contradict_bar", 0.0)}
        label = max((lab for lab in LABELS if allowed[lab]), key=lambda lab: probabilities[lab])
        score = probabilities[label]
    elif supported and sup.p >= con.p:
        label, score = "consistent", sup.p
    elif opposed and con.p > sup.p:
        label, score = "contradictory", con.p
    else:
        label, score = "novel", 1 - max(sup.p, con.p)

    if label == "consistent":
        code = {"sentence": Code.ENTAILED, "clauses": Code.CLAUSES_ENTAILED, "quote": Code.QUOTED}[sup.how]
        review = (Review.MISMATCH_ELSEWHERE if a.forced else Review.CONFLICT if conflicting
                  else Review.WEAK_SUPPORT if sup.p < t.entail_bar + t.review_margin else None)
        d = Decision(label, code, score, sup.index, review, conflicting)
    elif label == "contradictory":
        review = (Review.CONFLICT if conflicting
                  else Review.WEAK_CONTRADICTION if con.p < t.contradict + t.review_margin else None)
        d = Decision(label, Code.CONTRADICTED, score, con.index, review, conflicting)
    else:
        partly = [p for p, _ in a.per_clause if p >= t.entail_bar]
        code = Code.PARTLY_SUPPORTED if partly and len(partly) < len(a.per_clause) else Code.UNDECIDED
        review = (Review.PARTLY_SUPPORTED if code is Code.PARTLY_SUPPORTED
                  else Review.NEGATION_ECHO if a.echo.p >= t.contradict
                  else Review.NEAR_CONSISTENT if sup.p >= t.entail_bar - t.review_margin
                  else Review.NEAR_CONTRADICTORY if con.p >= t.contradict - t.review_margin else None)
        d = Decision(label, code, score, a.nearest, review)
    d.probabilities = probabilities
    if d.review is None and a.other_side is not None:
        kind, _, _ = a.other_side
        if kind == "contradicts" and label != "contradictory":
            d.review = Review.OTHER_SIDE_CONTRADICTS
        elif kind == "supports" and label == "contradictory":
            d.review = Review.OTHER_SIDE_SUPPORTS
    return d


# --- words -----------------------------------------------------------------------------------

def cite(ev: Evidence) -> str:
    s = ev.sentence
    who = s.get("speaker") or s.get("publisher") or s.get("title") or f"document {s.get('document_id')}"
    when = s.get("published")
    return f"{who}, {when}" if when else who


def words(a: Assessment, d: Decision, t: Thresholds) -> str:
    """The reason a desk reads, from the decision's code."""
    ev = a.evidence
    at = ev[d.index] if d.index is not None else None
    note = " (similarity only: no NLI model, so contradictions cannot be detected)"
    sup, con = a.support, a.against
    fitted = f" (fitted P={d.probabilities[d.label]:.2f})" if d.probabilities else ""
    match d.code:
        case Code.NO_EVIDENCE:
            return "no official statements to compare with"
        case Code.NO_OFFICIAL:
            return "no official-side statement found; the nearest are by others, shown but not counted"
        case Code.SIMILAR:
            return f"close to {cite(at)}, similarity {at.similarity:.2f}{note}"
        case Code.SIMILAR_BUT_MISMATCH:
            return (f"close to {cite(at)} (similarity {at.similarity:.2f}) but they disagree: "
                    + "; ".join(str(m) for m in at.mismatches) + note)
        case Code.NOT_SIMILAR:
            return f"nearest official sentence only {at.similarity:.2f} similar{note}"
        case Code.UNRELATED:
            return f"no closely related official statement (best similarity {at.similarity:.2f})"
        case Code.MISMATCH:
            reason = (f"contradicted by {cite(at)}: " + "; ".join(str(m) for m in at.forced)
                      + f" (same subject, similarity {at.similarity:.2f})")
            return reason + (f"; but entailed by {cite(ev[sup.index])}, p={sup.p:.2f}"
                             if d.conflicting and sup.index is not None else "")
        case Code.ENTAILED | Code.CLAUSES_ENTAILED | Code.QUOTED:
            if d.code is Code.QUOTED:
                q = next(q for q in a.quotes if q["ratio"] >= t.quote)
                reason = (f"quoted words found in {q.get('speaker') or q.get('title') or 'an official statement'}"
                          f"{', ' + q['date'] if q.get('date') else ''}, match {q['ratio']:.2f}")
            elif d.code is Code.CLAUSES_ENTAILED:
                reason = "each part entailed: " + "; ".join(
                    f"\u201c{_short(c)}\u201d by {cite(ev[i])}, p={p:.2f}" for c, (p, i) in zip(a.clauses, a.per_clause))
            else:
                reason = f"entailed by {cite(at)}, p={sup.p:.2f}"
            if a.forced:
                fe = ev[max(a.forced, key=lambda i: ev[i].similarity)]
                reason += f"; but {cite(fe)} disagrees: " + "; ".join(str(m) for m in fe.forced)
            elif d.conflicting:
                reason += f"; but contradicted by {cite(ev[con.index])}, p={con.p:.2f}"
            return reason + fitted
        case Code.CONTRADICTED:
            reason = f"contradicted by {cite(at)}, p={con.p:.2f}"
            if d.conflicting:
                reason += f"; but entailed by {cite(ev[sup.index])}, p={sup.p:.2f}"
            return reason + fitted
    # novel: name the nearest related sentence and why it did not decide
    near = ev[a.nearest]
    head = ("partly supported, not as a whole" if d.code is Code.PARTLY_SUPPORTED
            else "no official statement supports or contradicts it")
    return (f"{head} (best entail p={sup.p:.2f}, contradict p={con.p:.2f}; nearest, {cite(near)}, "
            f"similarity {near.similarity:.2f}: {shortfall(near, t, True, a.nearest in a.closest)}){fitted}")


def review_words(a: Assessment, d: Decision, t: Thresholds) -> str | None:
    """Why a desk should read the evidence first, from the decision's review code."""
    ev = a.evidence
    sup, con = a.support, a.against
    match d.review:
        case None:
            return None
        case Review.SUPPORTED_ELSEWHERE:
            return "an official statement supports it and another disagrees on a number, date or name"
        case Review.MISMATCH_ELSEWHERE:
            return "another official statement disagrees on a number, date or name"
        case Review.CONFLICT:
            return "support and contradiction both pass their thresholds"
        case Review.WEAK_SUPPORT:
            return f"weak support: p={sup.p:.2f}, threshold {t.entail_bar:.2f}"
        case Review.WEAK_CONTRADICTION:
            return f"weak contradiction: p={con.p:.2f}, threshold {t.contradict:.2f}"
        case Review.PARTLY_SUPPORTED:
            (p, i), c = next(((pc, c) for pc, c in zip(a.per_clause, a.clauses) if pc[0] >= t.entail_bar))
            return f"partly supported: \u201c{_short(c)}\u201d entailed by {cite(ev[i])}, p={p:.2f}; the rest is not"
        case Review.NEGATION_ECHO:
            return (f"{cite(ev[a.echo.index])} and the claim are both negative: the model reads contradiction "
                    f"(p={a.echo.p:.2f}), which it cannot tell from agreement; read both")
        case Review.NEAR_CONSISTENT:
            return f"close to consistent: entail p={sup.p:.2f}, threshold {t.entail_bar:.2f}"
        case Review.NEAR_CONTRADICTORY:
            return f"close to contradictory: contradict p={con.p:.2f}, threshold {t.contradict:.2f}"
        case Review.OTHER_SIDE_CONTRADICTS:
            _, i, p = a.other_side
            return f"{cite(ev[i])} (not the official side) contradicts it, p={p:.2f}"
        case Review.OTHER_SIDE_SUPPORTS:
            _, i, p = a.other_side
            return f"{cite(ev[i])} (not the official side) supports it, p={p:.2f}"
    raise ValueError(f"no words for review code {d.review!r}")


def shortfalls(evidence: list[Evidence], t: Thresholds, nli: bool) -> list[str]:
    """``shortfall`` of each sentence of ``evidence``, in order; which may contradict and which
    the nearest outweighs are worked out once for the whole list."""
    counted, closest = set(may_contradict(evidence, t)), closest_related(evidence, t)
    return [shortfall(e, t, nli, i in counted, outweighed(evidence, i, t, closest)) for i, e in enumerate(evidence)]


def shortfall(e: Evidence, t: Thresholds, nli: bool, counts_against: bool = True,
              outweighed_by: Evidence | None = None) -> str:
    """Why this evidence did not decide the claim (shown for novel verdicts).

    Args:
        counts_against: whether its contradiction could count (see ``may_contradict``).
        outweighed_by: the nearer sentence that kept it from counting (``assess.outweighed``).
    """
    if not e.counted:
        who = e.sentence.get("speaker") or e.sentence.get("publisher") or "unattributed"
        side = e.sentence.get("affiliation") or "no side known"
        return f"not an official-side statement ({who}, {side}): shown, never decisive"
    if e.similarity < t.related:
        return f"not closely related (similarity {e.similarity:.2f} < {t.related:.2f})"
    if not nli:
        return f"similarity {e.similarity:.2f} below {t.sim_consistent:.2f}, no NLI model to judge"
    # The model's own probabilities, and which rule kept them from deciding.
    raw_against = max((u.contradict for u in e.pairs()), default=0.0)
    raw_support = max((u.entail for u in e.pairs() if u.claim is None), default=0.0)
    if outweighed_by is not None and raw_against >= t.contradict:
        against_text = (f"contradict p={raw_against:.2f} not counted: the most similar sentence (similarity "
                        f"{outweighed_by.similarity:.2f}) leans to support the claim "
                        f"(entail p={outweighed_by.p_entail:.2f})")
    elif not counts_against and raw_against >= t.contradict:
        against_text = (f"contradict p={raw_against:.2f} not counted: only the {t.contradict_top} most "
                        "similar sentences may contradict")
    elif raw_against >= t.contradict and reversed_support(e, t):
        against_text = (f"contradict p={raw_against:.2f} not counted: read the other way, the claim entails it "
                        f"(p={e.reverse_entail:.2f})")
    elif raw_against >= t.contradict and against_score(e, t) < t.contradict:
        echo = any(negation_echo(u, t) and u.contradict >= t.contradict for u in e.pairs())
        unmatched = f" (unmatched: {', '.join(e.unmatched)})" if e.unmatched else ""
        against_text = (f"contradict p={raw_against:.2f} not counted: "
                        + ("both sentences are negative, which the model mistakes for disagreement" if echo
                           else f"not about the same subject{unmatched}"))
    else:
        against_text = f"contradict p={raw_against:.2f} < {t.contradict:.2f}"
    if raw_support >= t.entail_bar and reversed_against(e, t):
        support_text = (f"entail p={raw_support:.2f} not counted: read the other way, the claim contradicts it "
                        f"(p={e.reverse_contradict:.2f})")
    elif raw_support >= t.entail_bar and support_score(e, t) < t.entail_bar:
        aligned = [u for u in e.pairs() if u.claim is None and u.entail >= t.entail_bar]
        if aligned and all(u.overlap < t.support_overlap for u in aligned):
            unmatched = f" (unmatched: {', '.join(e.unmatched)})" if e.unmatched else ""
            support_text = (f"entail p={raw_support:.2f} not counted: it shares too few of the claim's words "
                            f"(alignment < {t.support_overlap:.2f}){unmatched}")
        else:
            support_text = f"entail p={raw_support:.2f} not counted: the model finds contradiction likelier"
    else:
        support_text = f"entail p={raw_support:.2f} < {t.entail_bar:.2f}"
    parts = [support_text, against_text]
    if (e.p_neutral or 0) >= 0.5:
        parts.insert(0, f"related but neutral (p={e.p_neutral:.2f}): it neither supports nor denies the claim")
    return "; ".join(parts)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "\u2026"
