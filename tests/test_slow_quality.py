"""Verdict quality with the real models: the seed leak report and written probes.

The seed articles in ../shared/seeds are read from there (never copied into the repo):
002 is the leak report; 000, 001, 003 and 004 carry the official statements. They are
ingested as a desk would: each with its publisher and date, and the official side set to
the US and NATO (the authors of the leaked replies). What an editor expects of each claim
is in tests/seed_expectations.py; `python scripts/seed_report.py` prints every verdict
and probe against it, including the probes that only a stronger NLI model gets right.
"""
import pytest

from verify.pipeline.check import Checker
from verify.pipeline.nli import default_nli_path
from verify.store.corpus import Corpus

from conftest import SEEDS, SHARED, require_shared
from seed_expectations import (
    CONFIRMATION,
    EXPECTED,
    MODEL_PROBES,
    RECHECK_CLAIM,
    RULE_PROBES,
    SUPPORTED,
    ingest_seed_case,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(default_nli_path() is None, reason="shipped NLI model missing")]


@pytest.fixture(scope="module")
def real_embedder():
    from verify.pipeline.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, real_embedder):
    require_shared()
    corpus = Corpus(tmp_path_factory.mktemp("quality") / "corpus.db")
    report = ingest_seed_case(corpus, SEEDS)
    checker = Checker(corpus, embedder=real_embedder, nli="auto")
    return checker, checker.check_document(report)


def verdict_for(run, fragment):
    [r] = [r for r in run.results if fragment.lower() in r.text.lower()]
    return r


def test_every_seed_claim_has_an_editors_expectation(seed_run):
    _, run = seed_run
    assert len(run.results) == len(EXPECTED) == 24
    for fragment in EXPECTED:
        verdict_for(run, fragment)  # exactly one claim each


# Targets of the issue "The checker abstains" that the shipped model does not reach yet
# (measured: README, "How good it is"). Strict: the day one passes, its marker must go.
NOT_YET = "target not reached with the shipped NLI model (README: How good it is)"


def test_no_seed_claim_is_falsely_contradicted(seed_run):
    _, run = seed_run
    wrong = [f"{r.text[:70]}: {r.verdict.reason}" for r in run.results if r.verdict.label == "contradictory"]
    assert not wrong, "\n".join(wrong)


def test_at_least_20_of_24_seed_claims_get_a_label_an_editor_would_publish(seed_run):
    _, run = seed_run
    wrong = []
    for fragment, (labels, why) in EXPECTED.items():
        r = verdict_for(run, fragment)
        if r.verdict.label not in labels:
            wrong.append(f"{fragment}: {r.verdict.label} ({r.verdict.reason}); expected {'/'.join(sorted(labels))}: {why}")
    assert len(EXPECTED) - len(wrong) >= 20, "\n".join(wrong)


def test_seed_verdicts_rest_on_official_side_evidence(seed_run):
    _, run = seed_run
    for r in run.results:
        if r.verdict.label != "novel" and r.verdict.decisive is not None:
            e = r.evidence[r.verdict.decisive]
            assert e.counted and e.sentence["affiliation"] in ("US", "NATO"), (r.text[:60], e.sentence)


def test_novel_seed_verdicts_name_the_nearest_official_sentence_and_why_it_fell_short(seed_run):
    _, run = seed_run
    for r in run.results:
        if r.verdict.label == "novel" and r.evidence:
            assert "nearest, " in r.verdict.reason and "similarity" in r.verdict.reason, r.verdict.reason
        if r.verdict.needs_review:
            assert len(r.verdict.needs_review) > 10


@pytest.mark.xfail(strict=True, reason=NOT_YET + ": 2 of the 5 (the right to choose security arrangements and "
                   "the two Open Door claims read as neutral)")
def test_what_officials_plainly_said_in_public_is_consistent(seed_run):
    _, run = seed_run
    assert len(SUPPORTED) >= 4
    wrong = [f"{f}: {verdict_for(run, f).verdict.label} ({verdict_for(run, f).verdict.reason})"
             for f in SUPPORTED if verdict_for(run, f).verdict.label != "consistent"]
    assert not wrong, "\n".join(wrong)


def test_a_confirmation_turns_a_novel_claim_consistent_in_the_nightly_recheck(tmp_path, monkeypatch):
    """The drift the nightly job exists for: exit 1, the new statement named."""
    import json

    from typer.testing import CliRunner

    from verify.cli import app

    require_shared()
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    db = tmp_path / "corpus.db"
    corpus = Corpus(db)
    ingest_seed_case(corpus, SEEDS)
    corpus.close()
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a] + ["--db", str(db)])  # noqa: E731
    first = run("claim", RECHECK_CLAIM, "--save", "-f", "json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["claims"][0]["label"] == "novel"
    (tmp_path / "confirm.txt").write_text(CONFIRMATION + "\n")
    assert run("ingest", "official", tmp_path / "confirm.txt", "--publisher", "U.S. Department of State",
               "--date", "2022-02-03").exit_code == 0
    again = run("recheck", "--all", "-f", "json")
    assert again.exit_code == 1, again.output
    [drift] = json.loads(again.stdout)["drift"]
    assert (drift["old_label"], drift["new_label"]) == ("novel", "consistent"), drift
    assert "incidents at sea" in json.dumps(drift["causes"]).lower()


@pytest.mark.parametrize("claim, label, words", RULE_PROBES + [
    pytest.param(*probe, marks=pytest.mark.xfail(strict=True, reason=NOT_YET + ": publish / release"))
    if "publish its written response" in probe[0] else probe for probe in MODEL_PROBES])
def test_every_written_probe_gets_the_label_an_editor_would_publish(seed_run, claim, label, words):
    checker, _ = seed_run
    [r] = checker.check_text(claim, save=False).results
    assert r.verdict.label == label, r.verdict.reason
    best = r.evidence[r.verdict.decisive].sentence["text"].lower()
    assert all(w in best for w in words), best


# --- desk_dev: 48 claims written against the seeds' official statements ---------------------
# No calibration is fitted on it (the shipped one never saw it: test_calibrate.py); the
# shipped NLI model's averaging weight was picked on it (README), so it is not held out for
# the model. The targets are those of the issue "The checker abstains".

@pytest.fixture(scope="module")
def desk_dev(real_embedder):
    from verify.quality.evaluate import evaluate

    require_shared()
    return evaluate(str(SHARED / "eval/desk_dev.jsonl"), str(SHARED / "eval/desk_dev_pool.jsonl"),
                    embedder=real_embedder, per_claim=True)


def _recall(figures, label):
    return figures["per_label"][label]["recall"]


def test_desk_dev_macro_f1_reaches_0_75(desk_dev):
    assert desk_dev["n"] == 48
    assert desk_dev["macro_f1"] >= 0.75, desk_dev["macro_f1"]


def test_desk_dev_finds_most_contradictions(desk_dev):
    assert _recall(desk_dev, "contradictory") >= 0.60


def test_desk_dev_confirms_what_officials_said(desk_dev):
    assert _recall(desk_dev, "consistent") >= 0.70


def test_desk_dev_accuses_at_most_once_falsely(desk_dev):
    false = [c["id"] for c in desk_dev["claims"] if c["predicted"] == "contradictory" and c["gold"] != "contradictory"]
    assert len(false) <= 1, false
