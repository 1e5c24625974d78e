"""Calibration: the threshold grid, what it may not switch off, isotonic scores, and which
calibration a check uses."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from verify.pipeline.evidence import Mismatch
from verify.pipeline.verdict import ENTAIL_FLOOR, Evidence, Thresholds, decide
from verify.quality.calibrate import (
    CONTRADICT_BARS,
    GRID,
    GRID_SIMILARITY,
    expected_calibration_error,
    fit,
    isotonic,
    load_thresholds,
    thresholds_from,
)


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


def test_the_fitted_decision_is_validated_across_files_and_beats_the_rules():
    record = fit(labelled(), nli=True, groups=["a.jsonl"] * 150 + ["b.jsonl"] * 150)
    f = record["fit"]
    from verify.pipeline.assess import FEATURES
    assert f["features"] == list(FEATURES) and sorted(f["labels"]) == sorted(("consistent", "novel", "contradictory"))
    assert len(f["coef"]) == 3 and all(len(row) == len(FEATURES) for row in f["coef"])
    before, held_out = record["metrics"]["before"], record["metrics"]["held_out"]
    assert held_out["macro_f1"] > 0.8 and held_out["macro_f1"] >= before["macro_f1"] - 0.02
    assert set(record["per_file"]) == {"a.jsonl", "b.jsonl"}
    assert record["per_file"]["a.jsonl"]["n"] == 150 and "held_out" in record["per_file"]["a.jsonl"]
    assert record["thresholds"]["forced_mismatch"] is True


def test_a_fitted_decision_scores_with_its_probability_and_says_so():
    t = thresholds_from(fit(labelled(), nli=True), "test")
    v = decide([ev(0.8, 0.93, 0.05, 0.02)], t, nli=True)
    assert v.label == "consistent" and v.code == "entailed"
    assert v.score == v.probabilities["consistent"] and v.probabilities["consistent"] > 0.5
    assert sum(v.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_a_fitted_decision_never_says_consistent_without_support():
    """Whatever the fit learnt, consistent needs real entailment above the floor."""
    record = fit(labelled(), nli=True)
    f = record["fit"]
    i = f["labels"].index("consistent")
    f["intercept"][i] = 50.0  # a fit that would call everything consistent
    t = thresholds_from(record, "test")
    assert decide([ev(0.8, 0.3, 0.6, 0.1)], t, nli=True).label == "novel"


def test_a_fitted_record_still_forces_mismatches():
    record = fit(labelled(), nli=True)
    t = thresholds_from(record, "test")
    e = ev(0.9, 0.95, 0.03, 0.02)
    e.forced = [Mismatch("number", "10,000 troops", "100,000 troops")]
    v = decide([e], t, nli=True)
    assert v.label == "contradictory" and v.code == "mismatch"


def test_the_similarity_only_fit_chooses_its_bar_from_the_grid():
    def sim_only(seed=3, n=120):
        rng = random.Random(seed)
        out = []
        for i in range(n):
            gold = ("consistent", "novel")[i % 2]
            e = ev(rng.uniform(0.7, 0.95) if gold == "consistent" else rng.uniform(0.3, 0.72), None, None, None)
            out.append((gold, decide([e], Thresholds(), nli=False), [e]))
        return out

    record = fit(sim_only(), nli=False)
    assert record["thresholds"]["sim_consistent"] in GRID_SIMILARITY
    assert record["metrics"]["after"]["macro_f1"] >= record["metrics"]["before"]["macro_f1"]


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
    assert t.contradict == 0.95 and t.source == f"corpus calibration {cid}" and t.fit == record["fit"]
    assert load_thresholds(corpus, "another-model").source in ("built-in defaults",
                                                               "shipped calibration (verify/calibration.json)")


def test_the_fit_never_buys_f1_with_false_contradictions():
    """The model's contradiction is right 40 times and wrong 30 times on look-alike
    evidence: calling all 70 contradictory is better macro-F1 than calling none, and worse
    for a desk. The held-out contradiction precision may not fall below the rules'."""
    def contradicted(gold, rng):
        evs = [ev(0.85, 0.05, 0.1, rng.uniform(0.6, 0.7), 1)]
        return (gold, decide(evs, Thresholds(), nli=True), evs)

    rng = random.Random(5)
    scored = labelled(n=300) + [contradicted("contradictory", rng) for _ in range(40)] \
        + [contradicted("novel", rng) for _ in range(30)]
    groups = (["a"] * 150 + ["b"] * 150) + ["a", "b"] * 35
    record = fit(scored, nli=True, groups=groups)
    floor = record["contradiction_precision_floor"]
    assert floor == record["metrics"]["before"]["per_label"]["contradictory"]["precision"]
    assert record["metrics"]["held_out"]["per_label"]["contradictory"]["precision"] >= floor
    assert record["fit"]["contradict_bar"] in CONTRADICT_BARS


def test_the_shipped_calibration_is_for_the_shipped_model_and_never_saw_desk_dev():
    from verify.pipeline.nli import nli_model_id
    from verify.quality.calibrate import SHIPPED

    record = json.loads(SHIPPED.read_text())
    assert record["provenance"]["nli_model"] == nli_model_id(None)  # refit after every model change
    assert record["thresholds"]["forced_mismatch"] is True
    # fitted on the project's own desk set and the dev sets, never on desk_dev, which judges it
    fitted_on = {Path(f["path"]).name for f in record["provenance"]["files"]}
    assert "desk_train.jsonl" in fitted_on and "desk_dev.jsonl" not in fitted_on
    held_out = record["metrics"]["held_out"]["per_label"]["contradictory"]["precision"]
    assert held_out >= record["contradiction_precision_floor"]
    assert set(record["per_file"]) == fitted_on


def _labelled_file(path, topics):
    """Claims against a pool file beside them (X_pool.jsonl), one of each label per topic."""
    pool, claims = [], []
    for i, (subject, act, place) in enumerate(topics):
        pool.append({"id": f"p{i}", "text": f"The {subject} {act} the {place} on Monday.", "speaker": "Ann Official",
                     "date": "2022-01-26"})
        claims += [
            {"id": f"c{i}", "claim": f"The {subject} {act} the {place}.", "label": "consistent"},
            {"id": f"x{i}", "claim": f"The {subject} never {act} the {place}.", "label": "contradictory"},
            {"id": f"n{i}", "claim": f"A tunnel number {i} was dug under the orchard wall.", "label": "novel"},
        ]
    path.write_text("".join(json.dumps(c) + "\n" for c in claims))
    path.with_name(path.stem + "_pool.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pool))
    return path


def test_cli_calibrate_validates_across_files_and_shows_what_it_was_fitted_on(tmp_path, monkeypatch, register_models):
    from typer.testing import CliRunner

    from verify.cli import app

    from fakes import FakeEmbedder, FakeNLI

    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    a = _labelled_file(tmp_path / "a.jsonl", [("ministry", "opened", "northern crossing"),
                                              ("navy", "closed", "eastern harbour"),
                                              ("council", "approved", "river bridge")])
    b = _labelled_file(tmp_path / "b.jsonl", [("army", "left", "southern base"),
                                              ("court", "reopened", "old archive"),
                                              ("bank", "sold", "central tower")])
    made = []

    def nli(spec):
        made.append(FakeNLI())
        return made[-1]

    register_models(embedder=lambda *a, **k: FakeEmbedder(), nli=nli)
    cache = tmp_path / "cache"
    args = ["calibrate", str(a), str(b), "--db", str(tmp_path / "c.db"), "-q", "--cache", str(cache)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert made[-1].calls > 0 and len(list(cache.glob("*.pickle"))) == 2
    again = CliRunner().invoke(app, args)  # a refit reuses the checked claims: no NLI at all
    assert again.exit_code == 0 and made[-1].calls == 0
    assert again.output.split("\n")[1:] == out.output.split("\n")[1:]  # the same figures (only the id differs)
    assert "a_pool.jsonl" in out.output and "b_pool.jsonl" in out.output  # each file with its pool
    assert "held out" in out.output and "a.jsonl" in out.output and "b.jsonl" in out.output
    shown = CliRunner().invoke(app, ["calibrate", "--show"])
    assert shown.exit_code == 0 and "shipped fit" in shown.output and "desk_train.jsonl" in shown.output
    bare = CliRunner().invoke(app, ["calibrate"])
    assert bare.exit_code != 0 and "--show" in bare.output


def test_a_fit_that_does_not_beat_the_rules_held_out_is_recorded_and_not_used():
    clean = []
    for i in range(120):  # evidence that says exactly what the label is: the rules are already right
        gold = ("consistent", "novel", "contradictory")[i % 3]
        e = {"consistent": ev(0.8, 0.95, 0.03, 0.02), "contradictory": ev(0.8, 0.02, 0.03, 0.95),
             "novel": ev(0.6, 0.1, 0.8, 0.1)}[gold]
        clean.append((gold, decide([e], Thresholds(), nli=True), [e]))
    record = fit(clean, nli=True, groups=["a"] * 60 + ["b"] * 60)
    assert record["fit"] is None and "does not beat the rules" in record["rejected_fit"]["why"]
    t = thresholds_from(record, "test")
    assert t.fit is None and decide(clean[0][2], t, nli=True).probabilities is None
