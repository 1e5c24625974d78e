"""Every constant the decision reads, and which ones a check decides with.

``Thresholds`` holds them all, so a run's manifest records exactly what decided it and
``Thresholds.from_manifest`` explains an older run by the rules it ran under. A check
decides with the newest calibration fitted in the corpus for its NLI model, else the one
shipped with verify for that model (``verify/calibration.json``), else the defaults.

Kept apart from ``calibrate`` (which fits them, and checks claims to do so) so that
checking never imports fitting.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "calibration.json"

# Entailment below this is never support, whatever a calibration fits: on the seed case a
# fitted 0.3 let generic sentences "support" specific claims.
ENTAIL_FLOOR = 0.5


@dataclass
class Thresholds:
    """The decision's constants. ``verify calibrate`` fits some (``calibrate.GRID`` and
    ``fit``); the rest are design choices, recorded so that a run can be explained."""

    entail: float = 0.5  # P(entail) that counts as support (never below ``entail_floor``)
    contradict: float = 0.5  # P(contradict) that counts as opposition
    related: float = 0.35  # cosine similarity below which a sentence is not about the claim at all
    sim_consistent: float = 0.8  # similarity-only runs: the similarity that counts as support
    mismatch_sim: float = 0.6  # a number/date/name mismatch decides only on sentences this similar
    mismatch_p: float = 0.6  # runs before forced mismatches: the strength a mismatch added against
    quote: float = 0.9  # a quoted passage counts as found at this match ratio
    contradict_top: int = 2  # how many of the most similar related sentences may contradict
    # When the most similar sentence leans to support the claim (entail >= ``lean_support``,
    # above its contradiction, below the support bar), a sentence ``lean_gap`` less similar
    # may not contradict it: the sentence most about the claim agrees, and the far one's
    # "contradiction" is the model talking about something else ("does not accept that third
    # countries can decide on Ukraine's relationship with NATO" against "offering Russia a
    # diplomatic path").
    lean_support: float = 0.3
    lean_gap: float = 0.15
    # Share of the claim's content words an official sentence must match (align.Aligner:
    # names, lemmas, word meaning) for its contradiction to count: a contradiction between
    # sentences about different things is the model talking past the claim.
    subject_overlap: float = 0.5
    # ... and for its entailment of the whole claim to count as support: a sentence that
    # shares almost none of the claim's words and "entails" it is the model reading a mood
    # ("we are open to dialogue" for "NATO does not seek confrontation").
    support_overlap: float = 0.15
    review_margin: float = 0.1  # a deciding probability this close to its threshold needs review
    forced_mismatch: bool = True  # number/date/name mismatches decide (False only when explaining older runs)
    shared_negation: bool = True  # two negative sentences never contradict (False only when explaining older runs)
    entail_floor: float = ENTAIL_FLOOR
    forcing_overlap: float = 0.6  # a number/date mismatch decides when this much of the rest of the claim matches
    entity_subject: float = 0.6  # a name mismatch needs this much of the claim besides its names matched
    clause_min_similarity: float = 0.3  # clause pairs are scored for evidence at least this similar
    word_similarity: float = 0.6  # two words mean the same at this embedding cosine (alignment)
    reverse_entail_veto: float = 0.5  # a claim that entails the sentence back this strongly cannot contradict it
    # ... and a sentence of opposite polarity that the claim contradicts back this strongly cannot support it
    reverse_contradict_veto: float = 0.6
    other_side_contradict: float = 0.8  # a non-official statement this contradictory flags a verdict for review
    other_side_support: float = 0.8  # ... or this entailing, against a contradictory verdict
    source: str = "built-in defaults"
    # label -> isotonic steps [(upper raw score, calibrated score)], from `verify calibrate`
    score_steps: dict = field(default_factory=dict)
    # The fitted decision (`verify calibrate`): a multinomial logistic regression over
    # ``assess.FEATURES``, stored as plain numbers so checking needs no scikit-learn:
    # {"features", "labels", "mean", "scale", "coef", "intercept", "contradict_bar", ...}.
    fit: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def entail_bar(self) -> float:
        return max(self.entail, self.entail_floor, ENTAIL_FLOOR)

    def probabilities(self, features: dict[str, float]) -> dict[str, float] | None:
        """P(label) from the fitted decision over measured ``features`` (``Assessment.features``),
        or None when there is no fit, or it was fitted over features not measured here."""
        f = self.fit
        if not f or any(name not in features for name in f["features"]):
            return None
        z = [(features[name] - m) / s for name, m, s in zip(f["features"], f["mean"], f["scale"])]
        logits = [b + sum(w * x for w, x in zip(row, z)) for row, b in zip(f["coef"], f["intercept"])]
        top = max(logits)
        exp = [math.exp(v - top) for v in logits]
        return {label: e / sum(exp) for label, e in zip(f["labels"], exp)}

    @classmethod
    def from_manifest(cls, manifest: dict) -> Thresholds:
        """The thresholds a run decided with, read back from its manifest.

        Runs from before a rule existed are explained by the rules they ran under: no
        ``contradict_top`` let every related sentence contradict, no ``forced_mismatch`` let a
        mismatch only raise the contradiction, no ``subject_overlap`` did not ask for one.
        """
        recorded = manifest.get("thresholds") or {}
        t = cls(**{k: v for k, v in recorded.items() if k in cls.__dataclass_fields__})
        if "contradict_top" not in recorded:
            t.contradict_top = 10**6
        if "forced_mismatch" not in recorded:
            t.forced_mismatch = False
        if "subject_overlap" not in recorded:
            t.subject_overlap = 0.0
        if "shared_negation" not in recorded:
            t.shared_negation = False
        if "reverse_entail_veto" not in recorded:
            t.reverse_entail_veto = 2.0  # no veto: runs before it never scored the other way
        if "reverse_contradict_veto" not in recorded:
            t.reverse_contradict_veto = 2.0
        if "support_overlap" not in recorded:
            t.support_overlap = 0.0
        if "lean_gap" not in recorded:
            t.lean_gap = 2.0  # no similarity gap is that wide: every one of the closest may contradict
        return t


def thresholds_from(record: dict, source: str) -> Thresholds:
    t = Thresholds(**{k: v for k, v in record["thresholds"].items() if k in Thresholds.__dataclass_fields__})
    t.source = source
    t.score_steps = record.get("score_steps") or {}
    t.fit = record.get("fit")
    return t


def load_thresholds(corpus=None, nli_model_id: str | None = None) -> Thresholds:
    """The newest calibration stored in the corpus for this NLI model, else the shipped one."""
    found = corpus.latest_calibration(nli_model_id) if corpus is not None else None
    if found:
        return thresholds_from(found[1], f"corpus calibration {found[0]}")
    if SHIPPED.exists():
        record = json.loads(SHIPPED.read_text())
        if record["provenance"].get("nli_model") == nli_model_id:
            return thresholds_from(record, "shipped calibration (verify/calibration.json)")
    return Thresholds()
