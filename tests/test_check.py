"""The checking pipeline end to end with fake models: runs, verdicts, evidence, offsets."""
from __future__ import annotations

import json

import pytest

from verify.errors import CorpusError, InputError
from verify.pipeline.check import Checker, evidence_trail

from conftest import REPORT_TEXT, FakeEmbedder, FakeNLI, make_document

MANIFEST_KEYS = {"command", "time", "code_version", "embed_model", "nli_model", "mode", "k", "thresholds",
                 "corpus_fingerprint", "official_sentences"}


def by_text(run, fragment):
    (r,) = [r for r in run.results if fragment in r.text]
    return r


def test_check_document_stores_a_complete_run(corpus, populated, checker):
    run = checker.check_document(populated)
    row = corpus.run(run.run_id)
    assert row["status"] == "ok" and row["finished_at"] and row["started_at"] <= row["finished_at"]
    manifest = json.loads(row["manifest"])
    assert MANIFEST_KEYS <= set(manifest) and MANIFEST_KEYS <= set(run.manifest)
    assert manifest["embed_model"] == row["embed_model"] == "fake-embed"
    assert manifest["nli_model"] == row["nli_model"] == "fake-nli"
    assert manifest["mode"] == "nli" and manifest["k"] == 3
    assert manifest["corpus_fingerprint"] == row["corpus_fingerprint"] == corpus.fingerprint()
    assert json.loads(row["thresholds"]) == manifest["thresholds"] == checker.thresholds.as_dict()
    assert manifest["code_version"].startswith("verify ")


def test_manifest_counts_official_sentences(corpus, populated, checker):
    assert checker.check_document(populated).manifest["official_sentences"] == 6


def test_verdicts_and_evidence_rows_are_stored(corpus, populated, checker):
    run = checker.check_document(populated)
    assert len(run.results) == 3  # the headline and "Back to top button" are not claims
    assert corpus.execute("select count(*) from verdicts where run_id = ?", [run.run_id]).fetchone()[0] == 3
    for r in run.results:
        (v,) = corpus.db.execute("select id, label, score, reason from verdicts where run_id = ? and claim_id = ?",
                                 [run.run_id, r.claim_id])
        assert (v[1], v[2], v[3]) == (r.verdict.label, r.verdict.score, r.verdict.reason)
        stored = corpus.evidence_for(v[0])
        assert [e["rank"] for e in stored] == list(range(1, len(r.evidence) + 1))
        assert [e["sentence_id"] for e in stored] == [e.sentence["id"] for e in r.evidence]
        assert 1 <= len(stored) <= 3
        for e in stored:
            assert e["p_entail"] is not None and e["relation"] == "before"
            assert isinstance(json.loads(e["flags"]), list)
    assert run.counts() == {"consistent": 1, "novel": 1, "contradictory": 1}


def test_claim_offsets_map_into_the_report(corpus, populated, checker):
    report = corpus.document(populated)
    run = checker.check_document(populated)
    for r in run.results:
        assert r.document_id == populated
        assert report["text"][r.start:r.end] == r.text
        claim = corpus.claim(r.claim_id)
        assert (claim["start"], claim["end"], claim["text"], claim["document_id"]) == (r.start, r.end, r.text, populated)
        d = r.to_dict()
        assert report["text"][d["start"]:d["end"]] == d["text"]


def test_labels_from_fake_models(corpus, populated, checker):
    run = checker.check_document(populated)
    consistent = by_text(run, "reciprocal limits on military exercises")
    assert consistent.verdict.label == "consistent"
    assert "Antony Blinken" in consistent.verdict.reason
    contradictory = by_text(run, "will halt the enlargement of NATO")
    assert contradictory.verdict.label == "contradictory"
    decisive = contradictory.evidence[contradictory.verdict.decisive]
    assert decisive.sentence["text"].startswith("We will not halt the enlargement of NATO")
    assert decisive.p_contradict == pytest.approx(0.9)
    assert by_text(run, "secret tunnel").verdict.label == "novel"
    for r in run.results:
        assert 0.0 <= r.verdict.score <= 1.0
        assert all(e.sentence["kind"] == "official" for e in r.evidence)


def test_evidence_comes_only_from_official_statements(corpus, populated, checker):
    run = checker.check_document(populated)
    report_ids = {s["id"] for s in corpus.sentences(document_id=populated)}
    assert not report_ids & {e.sentence["id"] for r in run.results for e in r.evidence}


def test_rechecking_reuses_cached_vectors_and_scores(corpus, populated, checker, fake_embedder, fake_nli):
    first = checker.check_document(populated)
    encoded, scored = fake_embedder.texts_encoded, fake_nli.pairs_scored
    assert encoded > 0 and scored > 0
    again = Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=3).check_document(populated)
    assert fake_embedder.texts_encoded == encoded and fake_nli.pairs_scored == scored
    assert again.run_id != first.run_id
    assert [r.claim_id for r in again.results] == [r.claim_id for r in first.results]
    assert [r.verdict.label for r in again.results] == [r.verdict.label for r in first.results]
    assert corpus.count("claims") == 3
    assert corpus.latest_verdict(first.results[0].claim_id)["run_id"] == again.run_id


def test_check_documents_checks_several_reports_in_one_run(corpus, populated, checker):
    other = corpus.add_document(make_document(
        "report", "The alliance offered to reopen its office in Moscow, a source said.\n")).document_id
    run = checker.check_documents([populated, other])
    assert {r.document_id for r in run.results} == {populated, other}
    assert len(run.results) == 4


def test_report_without_claims_is_an_input_error(corpus, populated, checker):
    doc = corpus.add_document(make_document("report", "Leaked replies\n\nWhat did they say?\n")).document_id
    with pytest.raises(InputError, match="no check-worthy sentences"):
        checker.check_document(doc)


def test_the_same_report_twice_in_one_run(corpus, populated, checker):
    run = checker.check_documents([populated, populated])
    assert corpus.run(run.run_id)["status"] == "ok"
    assert len({r.claim_id for r in run.results}) == 3


def test_check_text_stores_a_free_claim(corpus, populated, checker):
    run = checker.check_text("  Washington is ready to discuss   reciprocal limits on military exercises in Europe. ")
    (r,) = run.results
    assert r.text == "Washington is ready to discuss reciprocal limits on military exercises in Europe."
    assert r.verdict.label == "consistent" and r.document_id is None and r.start is None
    claim = corpus.claim(r.claim_id)
    assert claim["sentence_id"] is None and claim["text"] == r.text
    assert checker.check_text(r.text).results[0].claim_id == r.claim_id  # same text, same claim


@pytest.mark.parametrize("text", ["NATO", "", "   ", "  enlargement  ", "42 NATO"])
def test_check_text_rejects_one_word_claims(corpus, populated, checker, text):
    with pytest.raises(InputError):
        checker.check_text(text)
    assert corpus.count("runs") == 0 and corpus.count("claims") == 0


def test_no_official_statements_is_a_corpus_error(corpus, checker):
    doc = corpus.add_document(make_document("report", REPORT_TEXT)).document_id
    with pytest.raises(CorpusError, match="no official statements"):
        checker.check_document(doc)
    with pytest.raises(CorpusError, match="no official statements"):
        checker.check_text("NATO will reopen its office in Moscow.")
    assert corpus.execute("select count(*) from runs where status = 'ok'").fetchone()[0] == 0


def test_a_run_that_fails_is_marked_failed_and_ignored(corpus, populated, fake_embedder):
    class BrokenNLI(FakeNLI):
        def score(self, pairs):
            raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        Checker(corpus, embedder=fake_embedder, nli=BrokenNLI(), k=3).check_document(populated)
    (status,) = corpus.db.execute("select status from runs").fetchone()
    assert status == "failed"
    claim_id = corpus.db.execute("select id from claims order by id").fetchone()[0]
    assert corpus.latest_verdict(claim_id) is None
    with pytest.raises(CorpusError, match="no verdict yet"):
        evidence_trail(corpus, claim_id)


def test_similarity_only_checker(corpus, populated, fake_embedder):
    run = Checker(corpus, embedder=fake_embedder, nli=None, k=3).check_document(populated)
    assert run.manifest["mode"] == "similarity-only" and run.manifest["nli_model"] is None
    assert all(r.verdict.label != "contradictory" for r in run.results)
    assert all("similarity only" in r.verdict.reason for r in run.results)
    assert all(e.p_entail is None for r in run.results for e in r.evidence)


def test_k_controls_the_evidence_and_must_be_positive(corpus, populated, fake_embedder, fake_nli):
    run = Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=1).check_document(populated)
    assert all(len(r.evidence) == 1 for r in run.results)
    with pytest.raises(InputError):
        Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=0)


def test_evidence_trail_returns_everything(corpus, populated, checker):
    run = checker.check_document(populated)
    target = by_text(run, "will halt the enlargement of NATO")
    trail = evidence_trail(corpus, target.claim_id)
    assert set(trail) >= {"claim", "verdict", "evidence", "run"}
    claim = trail["claim"]
    assert claim["id"] == target.claim_id and claim["text"] == target.text
    assert corpus.document(populated)["text"][claim["start"]:claim["end"]] == claim["text"]
    assert claim["document_title"] == "Leaked replies to Moscow"
    assert trail["verdict"]["label"] == "contradictory"
    assert trail["verdict"]["score"] == target.verdict.score and trail["verdict"]["reason"] == target.verdict.reason
    assert trail["verdict"]["conflicting"] is False
    assert [e["sentence_id"] for e in trail["evidence"]] == [e.sentence["id"] for e in target.evidence]
    for e in trail["evidence"]:
        doc = corpus.document(e["document_id"])
        assert doc["kind"] == "official" and doc["text"][e["start"]:e["end"]] == e["text"]
        assert e["date"] == "2022-01-26" and e["relation"] == "before" and e["speaker"]
        assert {"similarity", "p_entail", "p_neutral", "p_contradict", "flags", "title", "url", "rank"} <= set(e)
    assert trail["evidence"][0]["p_contradict"] == pytest.approx(0.9)
    assert trail["run"]["id"] == run.run_id and trail["run"]["status"] == "ok"
    assert MANIFEST_KEYS <= set(trail["run"])
    json.dumps(trail)  # serialisable as it is


def test_evidence_trail_for_a_given_run_and_errors(corpus, populated, checker):
    first = checker.check_document(populated)
    checker.check_document(populated)
    cid = first.results[0].claim_id
    assert evidence_trail(corpus, cid, first.run_id)["run"]["id"] == first.run_id
    assert evidence_trail(corpus, cid)["run"]["id"] == first.run_id + 1
    with pytest.raises(CorpusError, match="no verdict"):
        evidence_trail(corpus, cid, run_id=999)
    with pytest.raises(CorpusError, match="no claim with id 999"):
        evidence_trail(corpus, 999)


def test_evidence_trail_of_a_typed_claim(corpus, populated, checker):
    run = checker.check_text("The papers claim that a secret tunnel was dug under the embassy garden.")
    trail = evidence_trail(corpus, run.results[0].claim_id)
    assert trail["claim"]["document_id"] is None and "document_title" not in trail["claim"]
    assert trail["verdict"]["label"] == "novel"
    assert all(e["relation"] == "unknown" for e in trail["evidence"])


def test_official_document_added_later_changes_the_fingerprint_of_the_next_run(corpus, populated, checker):
    first = checker.check_document(populated)
    corpus.add_document(make_document("official", "The embassy garden has no tunnel under it, officials said.\n"))
    second = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_document(populated)
    assert first.manifest["corpus_fingerprint"] != second.manifest["corpus_fingerprint"]


def test_a_negative_claim_against_a_negative_statement_is_never_contradicted(corpus, fake_embedder):
    class NegationBlind(FakeNLI):
        """The small model's known error: any negation reads as disagreement."""

        def score(self, pairs):
            return [(0.05, 0.06, 0.89) if self.negated(h) else s for (p, h), s in zip(pairs, super().score(pairs))]

    corpus.add_document(make_document("official", "Washington would not release the document publicly.",
                                      speaker="Antony Blinken", published="2022-01-26"))
    checker = Checker(corpus, embedder=fake_embedder, nli=NegationBlind(), k=3)
    [r] = checker.check_text("The documents were not released publicly by Washington.", save=False).results
    assert r.verdict.label == "novel", r.verdict.reason
    assert "both negative" in r.verdict.needs_review
    assert r.evidence[0].both_negative
    [r] = checker.check_text("Washington released the documents publicly.", save=False).results
    assert not r.evidence[0].both_negative


def test_the_checker_leaves_the_callers_scope_as_given(corpus, fake_embedder, fake_nli):
    from verify.pipeline.check import Checker
    from verify.pipeline.retrieve import Scope

    corpus.set_official_side(["US", "NATO"])
    scope = Scope(speaker="blinken")
    checker = Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=3, scope=scope)
    assert checker.scope.side == ("NATO", "US") and checker.scope.speaker == "blinken"
    assert scope == Scope(speaker="blinken")  # not given the corpus's side behind the caller's back
    assert Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=3, scope=scope, side=None).scope.side is None
