"""Documents a desk can correct: list, show, edit (audited), remove; stale verdicts re-scored."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from verify.errors import InUse
from verify.pipeline.attribute import edit_document
from verify.pipeline.check import Checker
from verify.pipeline.ingest import ingest_paths
from verify.pipeline.recheck import current_setup, recheck

from conftest import OFFICIAL_TEXT, FakeEmbedder, FakeNLI


def make_checker(corpus):
    return lambda: Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)


def test_listing_filters_and_leaves_removed_documents_out(corpus, populated):
    rows = corpus.documents()
    assert [r["kind"] for r in rows] == ["report", "official", "official"]  # newest first
    assert [r["speaker"] for r in corpus.documents(speaker="stoltenberg")] == ["Jens Stoltenberg"]
    assert corpus.documents(kind="report")[0]["id"] == populated
    assert all("text" not in r and r["sentences"] > 0 for r in rows)


def test_an_edit_is_recorded_and_marks_the_claims_that_rely_on_it_stale(corpus, populated):
    run = make_checker(corpus)().check_document(populated)
    blinken = corpus.documents(speaker="blinken")[0]["id"]
    relying = corpus.dependent_claims(blinken)
    assert relying and set(relying) <= {r.claim_id for r in run.results}
    result = edit_document(corpus, blinken, {"published": "2022-01-27", "speaker": "Ned Price"}, by="ana")
    assert result["changed"] == {"published": ("2022-01-26", "2022-01-27"), "speaker": ("Antony Blinken", "Ned Price")}
    assert sorted(result["stale"]) == relying
    history = corpus.document_history(blinken)
    assert {(e["field"], e["old"], e["new"], e["by"]) for e in history} == {
        ("published", "2022-01-26", "2022-01-27", "ana"), ("speaker", "Antony Blinken", "Ned Price", "ana")}
    # a transcript turn keeps its own speaker whatever the document's default
    assert {s["speaker"] for s in corpus.sentences(document_id=blinken)} == {"Secretary Blinken"}
    # elsewhere the new default applies to unattributed sentences only
    nato = corpus.documents(speaker="stoltenberg")[0]["id"]
    edit_document(corpus, nato, {"speaker": "Oana Lungescu"}, by="ana")
    assert [s["speaker"] for s in corpus.sentences(document_id=nato)] == ["Jens Stoltenberg", "Oana Lungescu"]
    with pytest.raises(Exception, match="append-only"):
        corpus.conn.execute("delete from document_edits")
    # the recheck re-scores exactly the stale claims and clears the mark
    setup = current_setup(corpus, "fake-nli", 3, "hybrid", embed_model="fake-embed")
    result = recheck(corpus, make_checker(corpus), setup=setup)
    assert result.rescored == len(set(relying) | set(corpus.dependent_claims(nato))) and corpus.stale_claims() == {}
    assert recheck(corpus, make_checker(corpus), setup=setup).rescored == 0


def test_removal_is_refused_while_verdicts_rely_on_it_unless_forced(corpus, populated):
    make_checker(corpus)().check_document(populated)
    blinken = corpus.documents(speaker="blinken")[0]["id"]
    with pytest.raises(InUse, match="relied on by") as refused:
        corpus.remove_document(blinken, by="ana")
    assert "--force" not in str(refused.value)  # the library says what is wrong; the CLI which flag fixes it
    stale = corpus.remove_document(blinken, by="ana", force=True)
    assert stale and corpus.document(blinken)["kind"] == "removed"
    assert blinken not in [r["id"] for r in corpus.documents()]
    setup = current_setup(corpus, "fake-nli", 3, "hybrid", embed_model="fake-embed")
    recheck(corpus, make_checker(corpus), setup=setup)
    # no verdict of the new run rests on the removed document
    (run_id,) = corpus.conn.execute("select max(id) from runs").fetchone()
    used = {r[0] for r in corpus.conn.execute(
        "select s.document_id from evidence e join verdicts v on v.id = e.verdict_id "
        "join sentences s on s.id = e.sentence_id where v.run_id = ?", [run_id])}
    assert blinken not in used and used


def test_a_removed_reports_claims_are_no_longer_rechecked(corpus, populated):
    make_checker(corpus)().check_document(populated)
    corpus.remove_document(populated, by="ana", force=True)
    assert corpus.live_claim_ids() == []


def test_reingesting_says_what_changed(corpus, tmp_path):
    path = tmp_path / "briefing.txt"
    path.write_text(OFFICIAL_TEXT, encoding="utf-8")
    (first,) = ingest_paths(corpus, "official", [path], {"speaker": "Antony Blinken"})
    (same,) = ingest_paths(corpus, "official", [path], {"speaker": "Ned Price", "date": "2022-01-26"})
    assert not same.created and "speaker 'Antony Blinken' stored, 'Ned Price' given" in same.note
    assert f"verify document {first.document_id} --speaker" in same.note
    path.write_text(OFFICIAL_TEXT + "The response was delivered by hand.\n", encoding="utf-8")
    (changed,) = ingest_paths(corpus, "official", [path], {"speaker": "Antony Blinken"})
    assert changed.created and f"changed version of document {first.document_id}" in changed.note


def test_document_commands(tmp_path, monkeypatch):
    from verify.cli import app

    monkeypatch.setenv("VERIFY_DB", str(tmp_path / "c.db"))
    path = tmp_path / "briefing.txt"
    path.write_text(OFFICIAL_TEXT, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "official", str(path)]).exit_code == 0
    listing = runner.invoke(app, ["documents", "--json"])
    (doc,) = json.loads(listing.stdout)
    edit = runner.invoke(app, ["document", str(doc["id"]), "--publisher", "U.S. Department of State", "--by", "ana"])
    assert edit.exit_code == 0 and "publisher None -> 'U.S. Department of State'" in edit.stdout
    shown = json.loads(runner.invoke(app, ["document", str(doc["id"]), "--json"]).stdout)
    assert shown["publisher"] == "U.S. Department of State" and shown["edits"][0]["by"] == "ana"
    assert runner.invoke(app, ["document", str(doc["id"]), "--date", "yesterday"]).exit_code != 0
    assert runner.invoke(app, ["remove", str(doc["id"])]).exit_code == 0
    assert json.loads(runner.invoke(app, ["documents", "--json"]).stdout) == []
    assert json.loads(runner.invoke(app, ["documents", "--kind", "removed", "--json"]).stdout)[0]["id"] == doc["id"]
