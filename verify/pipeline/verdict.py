"""The decision: consistent, contradictory or novel, with a score, a reason, and a
``needs review`` flag where the evidence is weak or split.

Inputs per claim are its retrieved evidence sentences, each with a cosine similarity
and, when an NLI model is present, P(entail), P(neutral), P(contradict) with the
official sentence as premise and the claim as hypothesis; long sentences are also scored
clause by clause (``units``: every clause of the official sentence against the whole
claim and each of its clauses, SummaC-style).

Rules (thresholds in ``Thresholds``, recorded in every run's manifest):

* Only *counted* evidence decides: statements of the official side (``counted``; other
  statements are shown, marked, never decisive) that are related (similarity >= ``related``).
* **Support** is real entailment: a pair whose P(entail) beats its P(contradict) and
  reaches ``entail`` (never below ``ENTAIL_FLOOR``), either for the whole claim, or for
  every clause of the claim (possibly from different official sentences). When some
  clauses are supported and others not, the claim is novel and needs review ("partly
  supported").
* **Against** is NLI contradiction from one of the ``contradict_top`` most similar counted
  sentences, on a pair about the same subject (at least ``subject_overlap`` of the claim's
  content words are in the official words). NLI models call contradiction on merely
  topic-adjacent pairs; a contradiction accuses an official of saying the opposite.
* A **number, date or name mismatch** on closely related (similarity >= ``mismatch_sim``),
  same-subject official evidence makes the claim contradictory whatever the NLI model
  says ("10,000 troops" / "100,000 troops"). This is a rule, not a threshold: calibration
  cannot switch it off. Negation differences are not such a mismatch: "will not release"
  and "were not released" agree, and the NLI model judges polarity.
* consistent if support >= ``entail`` and support >= against (and no forced mismatch);
  contradictory if forced, or against >= ``contradict`` and against > support; otherwise
  novel. When both pass, the verdict is ``conflicting`` and the reason names both sides.
* **Needs review** when: support and contradiction both pass; the claim is partly
  supported; the deciding probability is within ``review_margin`` of its threshold (or a
  novel claim is that close to one); or a statement outside the official side would have
  decided otherwise.
* Score = how sure we are of the chosen label: support or against for the first two,
  1 - max(support, against) for novel; calibrated per label (``score_steps``) into the
  share of such verdicts that were right on the labelled development data.
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


# Entailment below this is never support, whatever a calibration fits: on the seed case a
# fitted 0.3 let generic sentences "support" specific claims.
ENTAIL_FLOOR = 0.5


@dataclass
class Thresholds:
    entail: float = 0.5
    contradict: float = 0.5
    related: float = 0.35
    sim_consistent: float = 0.8
    mismatch_sim: float = 0.6
    mismatch_p: float = 0.6  # runs before forced mismatches: the strength a mismatch added against
    quote: float = 0.9
    contradict_top: int = 2  # how many of the most similar related sentences may contradict
    subject_overlap: float = 0.5  # share of the claim's content words an official sentence must have to contradict it
    review_margin: float = 0.1  # a deciding probability this close to its threshold needs review
    forced_mismatch: bool = True  # number/date/name mismatches decide (False only when explaining older runs)
    shared_negation: bool = True  # two negative sentences never contradict (False only when explaining older runs)
    source: str = "built-in defaults"
    # label -> isotonic steps [(upper raw score, calibrated score)], from `verify calibrate`
    score_steps: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def entail_bar(self) -> float:
        return max(self.entail, ENTAIL_FLOOR)


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
    overlap: float = 1.0  # share of the claim (clause)'s content words in the official one (evidence.subject_overlap)
    both_negative: bool = False  # both sides carry a negation (evidence.negated): see against_score


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
    mismatches: list = field(default_factory=list)  # every mismatch on the pair, shown side by side
    counted: bool = True  # an official-side statement (others are shown, never decisive)
    overlap: float = 1.0  # share of the claim's content words in the sentence (evidence.subject_overlap)
    both_negative: bool = False  # the claim and the sentence both carry a negation (evidence.negated)
    forced: list = field(default_factory=list)  # number/date/name mismatches on same-subject clauses: decisive
    units: list[Unit] = field(default_factory=list)  # clause-level NLI, when either side has clauses

    def pairs(self) -> list[Unit]:
        """Every scored pair: the whole sentence against the whole claim, then the clauses."""
        whole = [Unit("", None, self.p_entail, self.p_neutral or 0.0, self.p_contradict or 0.0,
                      self.overlap, self.both_negative)] if self.p_entail is not None else []
        return whole + self.units


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


def apply_steps(steps, x: float) -> float:
    """Map a raw score through isotonic calibration steps [(upper raw score, value)]."""
    for upper, value in steps:
        if x <= upper:
            return value
    return steps[-1][1] if steps else x


def _entails(u: Unit, t: Thresholds) -> float:
    """P(entail) of a pair, if entailment is what the model actually says (beats contradiction)."""
    return u.entail if u.entail > u.contradict else 0.0


def _negation_echo(u: Unit, t: Thresholds) -> bool:
    """A pair whose sides are both negative, which small NLI models read as contradiction.

    "None of the documents were released" against "Washington would not release the
    document" scores contradiction 0.89: the model learnt "a negation in one sentence means
    they disagree", and cannot tell a shared negation from an opposed one. Such a pair may
    support a claim but never contradict it.
    """
    return t.shared_negation and u.both_negative


def against_score(e: Evidence, t: Thresholds) -> float:
    """Strength of evidence against the claim: NLI contradiction on same-subject pairs,
    where not both sides are negative (``_negation_echo``).

    Runs recorded before forced mismatches (``forced_mismatch`` False) let any mismatch
    raise it to ``mismatch_p``; kept so their trails explain what they decided.
    """
    p = max((u.contradict for u in e.pairs() if u.overlap >= t.subject_overlap and not _negation_echo(u, t)),
            default=0.0)
    if not t.forced_mismatch and e.mismatches and e.similarity >= t.mismatch_sim \
            and (e.p_entail or 0.0) < t.entail:
        p = max(p, t.mismatch_p)
    return p


def support_score(e: Evidence, t: Thresholds) -> float:
    """Strength of support for the whole claim: the best real entailment of any of its pairs."""
    return max((_entails(u, t) for u in e.pairs() if u.claim is None), default=0.0)


def may_contradict(evidence: list[Evidence], t: Thresholds) -> list[int]:
    """Indices of the evidence whose contradiction counts: the ``contradict_top`` most similar counted related ones."""
    related = [(i, e) for i, e in enumerate(evidence) if e.similarity >= t.related and e.counted]
    closest = sorted(related, key=lambda ie: (-ie[1].similarity, ie[0]))[:max(1, t.contradict_top)]
    return [i for i, _ in closest]


def shortfall(e: Evidence, t: Thresholds, nli: bool, counts_against: bool = True) -> str:
    """Why this evidence did not decide the claim (shown for novel verdicts).

    Args:
        counts_against: whether its contradiction could count (see ``may_contradict``).
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
    if not counts_against and raw_against >= t.contradict:
        against_text = (f"contradict p={raw_against:.2f} not counted: only the {t.contradict_top} most "
                        "similar sentences may contradict")
    elif raw_against >= t.contradict and against_score(e, t) < t.contradict:
        echo = any(_negation_echo(u, t) and u.contradict >= t.contradict for u in e.pairs())
        against_text = (f"contradict p={raw_against:.2f} not counted: "
                        + ("both sentences are negative, which the model mistakes for disagreement" if echo
                           else "not about the same subject"))
    else:
        against_text = f"contradict p={raw_against:.2f} < {t.contradict:.2f}"
    if raw_support >= t.entail_bar and support_score(e, t) < t.entail_bar:
        support_text = f"entail p={raw_support:.2f} not counted: the model finds contradiction likelier"
    else:
        support_text = f"entail p={raw_support:.2f} < {t.entail_bar:.2f}"
    parts = [support_text, against_text]
    if (e.p_neutral or 0) >= 0.5:
        parts.insert(0, f"related but neutral (p={e.p_neutral:.2f}): it neither supports nor denies the claim")
    return "; ".join(parts)


def cite(ev: Evidence) -> str:
    s = ev.sentence
    who = s.get("speaker") or s.get("publisher") or s.get("title") or f"document {s.get('document_id')}"
    when = s.get("published")
    return f"{who}, {when}" if when else who


def decide(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict] | None = None,
           clauses: list[str] | None = None) -> Verdict:
    """Label one claim from its evidence.

    Args:
        clauses: the claim's clauses when it was scored by parts (``Unit.claim`` indexes them).
    """
    v = _decide(evidence, t, nli=nli, quotes=quotes or [], clauses=clauses or [])
    if nli and evidence and v.needs_review is None:
        v.needs_review = _other_side_disagrees(evidence, v.label)
    if t.score_steps.get(v.label):
        v.score = apply_steps(t.score_steps[v.label], v.score)
    v.quotes = quotes or []
    v.clauses = clauses or []
    for q in v.quotes:
        if q["ratio"] < t.quote:
            v.flags.append(f"quote not found in any official statement: \u201c{q['quote']}\u201d")
    if any(e.truncated for e in evidence):
        v.flags.append("some evidence was truncated for NLI")
    return v


def _other_side_disagrees(evidence: list[Evidence], label: str) -> str | None:
    """A statement outside the official side that strongly says otherwise is worth a look."""
    for e in evidence:
        if e.counted or e.p_entail is None:
            continue
        if e.p_contradict >= 0.8 and e.overlap >= 0.5 and label != "contradictory":
            return f"{cite(e)} (not the official side) contradicts it, p={e.p_contradict:.2f}"
        if e.p_entail >= 0.8 and label == "contradictory":
            return f"{cite(e)} (not the official side) supports it, p={e.p_entail:.2f}"
    return None


def _clause_support(evidence, related, t, clauses) -> tuple[list[tuple[float, int | None]], float]:
    """Per claim clause, the best real entailment and which evidence gave it; and their minimum."""
    best = []
    for j in range(len(clauses)):
        cands = [(_entails(u, t), i) for i, e in related for u in e.pairs() if u.claim == j]
        best.append(max(cands, default=(0.0, None)))
    return best, (min(p for p, _ in best) if best else 0.0)


def _decide(evidence: list[Evidence], t: Thresholds, *, nli: bool, quotes: list[dict], clauses: list[str]) -> Verdict:
    found = [q for q in quotes if q["ratio"] >= t.quote]
    quote_support = min(q["ratio"] for q in found) if found and len(found) == len(quotes) else 0.0
    if not evidence:
        return Verdict("novel", 1.0, "no official statements to compare with")
    counted = [(i, e) for i, e in enumerate(evidence) if e.counted]
    if not counted:
        i, best = max(enumerate(evidence), key=lambda ie: ie[1].similarity)
        return Verdict("novel", 1.0, "no official-side statement found; the nearest are by others, "
                       "shown but not counted", decisive=i)
    related = [(i, e) for i, e in counted if e.similarity >= t.related]
    if not nli:
        i, best = max(counted, key=lambda ie: ie[1].similarity)
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
        i, best = max(counted, key=lambda ie: ie[1].similarity)
        return Verdict("novel", round(1 - max(0.0, best.similarity), 4),
                       f"no closely related official statement (best similarity {best.similarity:.2f})", decisive=i)

    # support: the whole claim entailed by one sentence, or each of its clauses by some sentence
    si, sup = max(related, key=lambda ie: (support_score(ie[1], t), ie[1].similarity))
    support = support_score(sup, t)
    per_clause, clause_min = _clause_support(evidence, related, t, clauses)
    by_clauses = clause_min > support
    if by_clauses:
        support = clause_min
        si = min((pc for pc in per_clause), key=lambda pc: pc[0])[1]
        sup = evidence[si]
    by_quote = quote_support > support
    if by_quote:
        support = quote_support

    # against: same-subject contradiction among the closest, or a forced mismatch
    closest = [(i, evidence[i]) for i in may_contradict(evidence, t)]
    ci, con = max(closest, key=lambda ie: (against_score(ie[1], t), ie[1].similarity))
    against = against_score(con, t)
    forced = [(i, e) for i, e in related if t.forced_mismatch and e.forced and e.similarity >= t.mismatch_sim]

    conflicting = support >= t.entail_bar and (against >= t.contradict or bool(forced))
    # A mismatch forces contradiction whatever the model says about that pair (it cannot
    # read numbers), but not over another official sentence that entails the claim and
    # agrees with it on every number, date and name: that is a conflict for a desk to read.
    supported_elsewhere = (forced and support >= t.entail_bar and not by_quote and not by_clauses
                           and not sup.forced and support >= against)
    if forced and not supported_elsewhere:
        fi, fe = max(forced, key=lambda ie: ie[1].similarity)
        reason = (f"contradicted by {cite(fe)}: " + "; ".join(str(m) for m in fe.forced)
                  + f" (same subject, similarity {fe.similarity:.2f})")
        if conflicting:
            reason += f"; but entailed by {cite(sup)}, p={support:.2f}"
        v = Verdict("contradictory", round(max(against_score(fe, t), fe.similarity), 4), reason, conflicting, fi)
        if conflicting:
            v.needs_review = "an official statement supports it and another disagrees on a number, date or name"
        return v
    if support >= t.entail_bar and support >= against:
        if by_quote:
            q = found[0]
            reason = f"quoted words found in {q['speaker'] or q['title'] or 'an official statement'}" \
                     f"{', ' + q['date'] if q.get('date') else ''}, match {q['ratio']:.2f}"
        elif by_clauses:
            reason = "each part entailed: " + "; ".join(
                f"\u201c{_short(c)}\u201d by {cite(evidence[i])}, p={p:.2f}" for c, (p, i) in zip(clauses, per_clause))
        else:
            reason = f"entailed by {cite(sup)}, p={support:.2f}"
        if supported_elsewhere:
            fi, fe = max(forced, key=lambda ie: ie[1].similarity)
            reason += f"; but {cite(fe)} disagrees: " + "; ".join(str(m) for m in fe.forced)
        elif conflicting:
            reason += f"; but contradicted by {cite(con)}, p={against:.2f}"
        v = Verdict("consistent", round(support, 4), reason, conflicting, si)
        v.needs_review = (
            "another official statement disagrees on a number, date or name" if supported_elsewhere
            else _weak(v, support, t.entail_bar, t, "support")
            or ("support and contradiction both pass their thresholds" if conflicting else None))
        return v
    if against >= t.contradict and against > support:
        reason = f"contradicted by {cite(con)}, p={against:.2f}"
        if conflicting:
            reason += f"; but entailed by {cite(sup)}, p={support:.2f}"
        v = Verdict("contradictory", round(against, 4), reason, conflicting, ci)
        v.needs_review = ("support and contradiction both pass their thresholds" if conflicting
                          else _weak(v, against, t.contradict, t, "contradiction"))
        return v
    top = max(support, against)
    # Counted probabilities alone ("p=0.00") hide what the model said; name the nearest
    # related sentence and why it did not decide.
    ni, near = max(related, key=lambda ie: ie[1].similarity)
    v = Verdict("novel", round(1 - top, 4),
                f"no official statement supports or contradicts it "
                f"(best entail p={support:.2f}, contradict p={against:.2f}; nearest, {cite(near)}, "
                f"similarity {near.similarity:.2f}: {shortfall(near, t, nli, ni in {i for i, _ in closest})})",
                decisive=si)
    supported = [(c, p, i) for c, (p, i) in zip(clauses, per_clause) if p >= t.entail_bar]
    if supported and len(supported) < len(clauses):
        c, p, i = supported[0]
        v.needs_review = (f"partly supported: \u201c{_short(c)}\u201d entailed by {cite(evidence[i])}, p={p:.2f}; "
                          "the rest is not")
        v.reason = "partly supported, not as a whole " + v.reason[v.reason.index("("):]
    elif echo := [(i, u) for i, e in closest for u in e.pairs() if _negation_echo(u, t)
                  and u.contradict >= t.contradict and u.overlap >= t.subject_overlap]:
        i, u = max(echo, key=lambda iu: iu[1].contradict)
        v.needs_review = (f"{cite(evidence[i])} and the claim are both negative: the model reads contradiction "
                          f"(p={u.contradict:.2f}), which it cannot tell from agreement; read both")
    elif support >= t.entail_bar - t.review_margin:
        v.needs_review = f"close to consistent: entail p={support:.2f}, threshold {t.entail_bar:.2f}"
    elif against >= t.contradict - t.review_margin:
        v.needs_review = f"close to contradictory: contradict p={against:.2f}, threshold {t.contradict:.2f}"
    return v


def _weak(v: Verdict, p: float, bar: float, t: Thresholds, what: str) -> str | None:
    if p < bar + t.review_margin:
        return f"weak {what}: p={p:.2f}, threshold {bar:.2f}"
    return None


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "\u2026"
