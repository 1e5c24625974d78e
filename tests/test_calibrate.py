"""Calibration: the threshold grid, what it may not switch off, isotonic scores, and which
calibration a check uses."""
from __future__ import annotations

import json
import random

import pytest

from verify.pipeline.evidence import Mismatch
from verify.pipeline.verdict import ENTAIL_FLOOR, Evidence, Thresholds, decide
from verify.quality.calibrate import GRID, expected_calibration_error, fit, isotonic, load_thresholds, thresholds_from


def ev(sim, e, n, c, rank=1):
    return Evidence({"id": rank, "document_id": 1, "text": "s", "speaker": "Official", "published": "2022-01-26"},
                    rank, sim, e, n, c)


def labelled(seed: int = 7, n: int = 300):
    """Claims whose evidence says what their label is, with noise, as (gold, verdict, evidence)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        gold = ("consistent", "novel", "contradictory")[i % 3]
        p = rng.uniform(0.55, 0.95)
        e = {"consistent": ev(0.8, p, (1 - p) * 0.7, (1 - p) * 0.3),
             "contradictory": ev(0.8, (1 - p) * 0.3, (1 - p) * 0.7, p),
             "novel": ev(0.6, rng.uniform(0.1, 0.6), 0.3, rng.uniform(0.1, 0.6))}[gold]
        out.append((gold, decide([e], Thresholds(), nli=True), [e]))
    return out


def test_the_grid_never_offers_what_must_not_be_switched_off():
    assert min(GRID["entail"]) >= ENTAIL_FLOOR
    assert "mismatch_p" not in GRID and "forced_mismatch" not in GRID
    assert min(GRID["subject_overlap"]) > 0


def test_fit_chooses_thresholds_from_the_grid_and_does_not_get_worse():
    record = fit(labelled(), nli=True, groups=["a.jsonl"] * 150 + ["b.jsonl"] * 150)
    t = record["thresholds"]
    for key, values in GRID.items():
        assert t[key] in values or t[key] == getattr(Thresholds(), key)  # a default no grid value beat
    assert t["forced_mismatch"] is True
    before, after = record["metrics"]["before"], record["metrics"]["after"]
    assert after["macro_f1"] >= before["macro_f1"] and after["macro_f1"] > 0.8
    assert set(record["per_file"]) == {"a.jsonl", "b.jsonl"}
    assert record["per_file"]["a.jsonl"]["n"] == 150
    assert after["ece"] <= after["ece_raw"]


def test_a_fitted_record_still_forces_mismatches():
    record = fit(labelled(), nli=True)
    t = thresholds_from(record, "test")
    e = ev(0.9, 0.95, 0.03, 0.02)
    e.forced = [Mismatch("number", "10,000 troops", "100,000 troops")]
    assert decide([e], t, nli=True).label == "contradictory"


def test_isotonic_steps_never_decrease_and_ece_measures_the_gap():
    steps = isotonic([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 1, 1])
    values = [v for _, v in steps]
    assert values == sorted(values) and values[-1] == 1.0
    assert expected_calibration_error([0.9, 0.9], [True, False]) == pytest.approx(0.4)
    assert expected_calibration_error([], []) is None


def test_a_corpus_calibration_for_the_same_model_wins_over_the_shipped_one(corpus):
    record = fit(labelled(), nli=True)
    record["provenance"] = {"fitted_at": "2026-01-01T00:00:00+00:00", "nli_model": "fake-nli"}
    record["thresholds"]["contradict"] = 0.95
    cid = corpus.store_calibration(json.loads(json.dumps(record)))
    t = load_thresholds(corpus, "fake-nli")
    assert t.contradict == 0.95 and t.source == f"corpus calibration {cid}"
    assert load_thresholds(corpus, "another-model").source in ("built-in defaults",
                                                               "shipped calibration (verify/calibration.json)")


def test_the_fit_never_buys_f1_with_false_contradictions():
    """Letting the third most similar sentence contradict would find 40 more contradictions
    and 30 false ones: better macro-F1, worse for a desk. The fit must not take it."""
    def third_contradicts(gold):
        evs = [ev(0.9, 0.1, 0.85, 0.05, 1), ev(0.85, 0.1, 0.85, 0.05, 2), ev(0.8, 0.02, 0.08, 0.9, 3)]
        return (gold, decide(evs, Thresholds(), nli=True), evs)

    scored = labelled(n=300) + [third_contradicts("contradictory") for _ in range(40)] \
        + [third_contradicts("novel") for _ in range(30)]
    record = fit(scored, nli=True)
    before, after = record["metrics"]["before"], record["metrics"]["after"]
    assert after["per_label"]["contradictory"]["precision"] >= before["per_label"]["contradictory"]["precision"]
    assert record["thresholds"]["contradict_top"] < 3
    assert record["contradiction_precision_floor"] == before["per_label"]["contradictory"]["precision"]
    # without the floor the same data would have chosen the riskier setting
    loose = [decide(evs, Thresholds(contradict_top=50), nli=True).label for _, _, evs in scored]
    strict = [decide(evs, Thresholds(), nli=True).label for _, _, evs in scored]
    from verify.quality.evaluate import metrics
    gold = [g for g, _, _ in scored]
    assert metrics(gold, loose)["macro_f1"] > metrics(gold, strict)["macro_f1"]


def test_the_shipped_calibration_is_for_the_shipped_model_and_its_scores_spread():
    from verify.pipeline.nli import nli_model_id
    from verify.quality.calibrate import SHIPPED

    record = json.loads(SHIPPED.read_text())
    assert record["provenance"]["nli_model"] == nli_model_id(None)  # refit after every model change
    assert record["thresholds"]["forced_mismatch"] is True
    for name, m in record["per_file"].items():
        low, *_, high = m["score_deciles"]  # 10th and 90th percentile of the calibrated scores
        assert high - low >= 0.2, (name, m["score_deciles"])
    after = record["metrics"]["after"]["per_label"]["contradictory"]["precision"]
    assert after >= record["contradiction_precision_floor"]
