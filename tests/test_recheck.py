"""Nightly rechecks: incremental work, drift with its cause, reviews, exit codes."""
import sqlite3

import pytest
from typer.testing import CliRunner

from verify.cli import app
from verify.errors import CorpusError
from verify.pipeline.check import Checker
from verify.pipeline.recheck import recheck

from conftest import FakeEmbedder, FakeNLI, make_document

SETUP_KEYS = ("embed_model", "nli_model", "k", "retrieval", "scope", "thresholds")
CONFIRMATION = ("MR PRICE: A secret tunnel was dug under the embassy garden last spring, "
                "the spokesman confirmed.\n")
UNRELATED = "The weather office said heavy snow will fall across the northern valleys tonight.\n"


@pytest.fixture
def checked(populated, corpus):
    """A checked report; returns (report id, first run, a factory counting checker builds)."""
    built = []

    def make_checker():
        built.append(1)
        return Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)

    run = make_checker().check_document(populated)
    built.clear()
    setup = {k: run.manifest[k] for k in SETUP_KEYS}
    return populated, run, make_checker, built, setup


def by_claim(run):
    return {r.claim_id: r for r in run.results}


def test_no_new_statements_does_no_model_work(checked, corpus):
    _, run, make_checker, built, setup = checked
    result = recheck(corpus, make_checker, setup=setup)
    assert built == [] and not result.model_loaded
    assert (result.rescored, result.carried, result.drift) == (0, len(run.results), [])
    # The recheck is a complete run: every claim has a verdict in it, equal to the old one.
    rows = dict(corpus.db.execute("select claim_id, label from verdicts where run_id = ?", [result.run_id]).fetchall())
    assert rows == {r.claim_id: r.verdict.label for r in run.results}
    assert corpus.run(result.run_id)["status"] == "ok"


def test_a_confirming_statement_flips_a_novel_claim_and_is_named_as_cause(checked, corpus):
    report, run, make_checker, built, setup = checked
    tunnel = next(r for r in run.results if "tunnel" in r.text)
    assert tunnel.verdict.label == "novel"
    corpus.add_document(make_document("official", CONFIRMATION, speaker="Ned Price", published="2022-02-03"))
    result = recheck(corpus, make_checker, setup=setup)
    assert built == [1] and result.model_loaded
    assert 1 <= result.rescored < len(run.results) + 1
    drift = {d.claim_id: d for d in result.drift}
    assert tunnel.claim_id in drift
    d = drift[tunnel.claim_id]
    assert (d.old_label, d.new_label) == ("novel", "consistent")
    assert any("tunnel" in c["text"] and c["speaker"] == "Ned Price" and c["date"] == "2022-02-03"
               for c in d.causes)
    # Unchanged claims were carried, not re-scored, and keep their labels.
    labels = dict(corpus.db.execute("select claim_id, label from verdicts where run_id = ?", [result.run_id]).fetchall())
    for r in run.results:
        if r.claim_id != tunnel.claim_id:
            assert labels[r.claim_id] == r.verdict.label


def test_an_unrelated_statement_affects_no_claim(checked, corpus):
    _, run, make_checker, built, setup = checked
    corpus.add_document(make_document("official", UNRELATED, published="2022-02-03"))
    result = recheck(corpus, make_checker, setup=setup)
    assert result.new_sentences == 1
    assert result.drift == []
    assert result.rescored < len(run.results)  # the FAISS neighbourhood of most claims is unchanged


def test_changed_models_rescore_everything(checked, corpus):
    _, run, make_checker, built, setup = checked
    result = recheck(corpus, make_checker, setup=setup | {"nli_model": "another-nli@123"})
    assert result.rescored == len(run.results) and result.model_loaded


def test_a_failed_recheck_leaves_the_previous_run_intact(checked, corpus):
    _, run, make_checker, built, setup = checked
    corpus.add_document(make_document("official", CONFIRMATION, published="2022-02-03"))

    class Broken(FakeNLI):
        def score(self, pairs):
            raise RuntimeError("model crashed")

    def broken_checker():
        return Checker(corpus, embedder=FakeEmbedder(), nli=Broken(), k=3)

    with pytest.raises(RuntimeError):
        recheck(corpus, broken_checker, setup=setup)
    failed = corpus.db.execute("select id, status from runs order by id desc limit 1").fetchone()
    assert failed[1] == "failed"
    for r in run.results:
        assert corpus.latest_verdict(r.claim_id)["run_id"] == run.run_id


def test_reviews_are_append_only_and_flag_disagreeing_drift(checked, corpus):
    _, run, make_checker, built, setup = checked
    tunnel = next(r for r in run.results if "tunnel" in r.text)
    rid = corpus.add_review(tunnel.claim_id, "novel", "no one has confirmed it", "ana")
    review = corpus.latest_review(tunnel.claim_id)
    assert (review["id"], review["machine_label"], review["by"]) == (rid, "novel", "ana")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        corpus.db.execute("update reviews set label = 'consistent' where id = ?", [rid])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        corpus.db.execute("delete from reviews where id = ?", [rid])
    corpus.add_document(make_document("official", CONFIRMATION, published="2022-02-03"))
    drift = {d.claim_id: d for d in recheck(corpus, make_checker, setup=setup).drift}
    assert drift[tunnel.claim_id].against_review  # human said novel, machine now says consistent


def test_recheck_of_unknown_claims_is_refused(checked, corpus):
    _, _, make_checker, _, setup = checked
    with pytest.raises(CorpusError, match="no claim with id 999"):
        recheck(corpus, make_checker, [999], setup=setup)


# --- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def cli_corpus(tmp_path, monkeypatch, register_models):
    import verify.pipeline.embed

    register_models(embedder=FakeEmbedder)
    monkeypatch.setattr(verify.pipeline.embed, "DEFAULT_EMBED_MODEL", FakeEmbedder.model_id)
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    from conftest import OFFICIAL_TEXT, REPORT_TEXT

    (tmp_path / "official.txt").write_text(OFFICIAL_TEXT)
    (tmp_path / "leak.txt").write_text(REPORT_TEXT)
    (tmp_path / "confirm.txt").write_text(CONFIRMATION)
    db = tmp_path / "c.db"
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a] + ["--db", str(db)])  # noqa: E731
    assert run("ingest", "official", tmp_path / "official.txt").exit_code == 0
    assert run("check", tmp_path / "leak.txt", "--nli-model", "none", "-q", "-f", "json").exit_code == 0
    return tmp_path, run


def test_cli_recheck_exit_codes_and_drift_report(cli_corpus):
    tmp_path, run = cli_corpus
    same = run("recheck", "--all", "--nli-model", "none")
    assert same.exit_code == 0, same.output
    assert "0 changed" in same.output and "no model work" in same.output
    assert run("ingest", "official", tmp_path / "confirm.txt").exit_code == 0
    changed = run("recheck", "--all", "--nli-model", "none", "-f", "json")
    assert changed.exit_code == 1, changed.output
    import json

    report = json.loads(changed.stdout)
    assert report["drift"] and all(d["causes"] for d in report["drift"])
    assert run("recheck", "--all", "--nli-model", "none", "-f", "markdown").exit_code == 0


def test_cli_runs_diff_history_review(cli_corpus):
    tmp_path, run = cli_corpus
    assert run("ingest", "official", tmp_path / "confirm.txt").exit_code == 0
    assert run("recheck", "--all", "--nli-model", "none").exit_code == 1
    assert "2 " in run("runs").output or "    2" in run("runs").output
    d = run("diff", "1", "2")
    assert d.exit_code == 0 and "changed" in d.output
    r = run("review", "3", "--label", "consistent", "--note", "spokesman confirmed it", "--by", "ana")
    assert r.exit_code == 0 and "review 1 recorded for claim 3" in r.output
    h = run("history", "3")
    assert "review" in h.output and "ana" in h.output and "run    1" in h.output


@pytest.mark.parametrize("args, message", [
    (("review", "3", "--label", "maybe", "--note", "x"), "'maybe' is not one of"),
    (("review", "999", "--label", "novel", "--note", "x"), "no claim with id 999"),
    (("diff", "1", "99"), "no run with id 99"),
    (("history", "999"), "no claim with id 999"),
    (("recheck",), "pass --all"),
    (("recheck", "abc"), "not a report id"),
])
def test_cli_recheck_bad_input(cli_corpus, args, message):
    _, run = cli_corpus
    result = run(*args)
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output
