"""Provenance through a real corpus with fake models: quotes, attribution frames, scope, trails, relations."""
from __future__ import annotations

import json

import pytest

from verify.pipeline.check import Checker, evidence_trail, relation
from verify.pipeline.claims import split_frame
from verify.pipeline.evidence import normalise
from verify.pipeline.retrieve import Scope, find_quote, fts_query

from conftest import FakeEmbedder, FakeNLI, make_document

LIMITS = "Washington is ready to discuss reciprocal limits on military exercises in Europe."
NOT_FOUND = "quote not found in any official statement"


def make_checker(corpus, nli=None, **kwargs) -> Checker:
    return Checker(corpus, embedder=FakeEmbedder(), nli=nli or FakeNLI(), k=3, **kwargs)


def stored_details(corpus, run_id: int, claim_id: int) -> dict:
    (details,) = corpus.db.execute("select details from verdicts where run_id = ? and claim_id = ?",
                                   [run_id, claim_id]).fetchone()
    return json.loads(details)


# --- find_quote -------------------------------------------------------------------------------------

def test_find_quote_gives_the_provenance_of_a_present_quote(corpus, populated):
    found = find_quote(corpus, "the alliance door remains open")
    assert found["ratio"] == 1.0 and found["quote"] == "the alliance door remains open"
    doc = corpus.document(found["document_id"])
    assert doc["kind"] == "official" and doc["title"] == "Remarks to the press" == found["title"]
    assert found["speaker"] == "Antony Blinken" and found["date"] == "2022-01-26"
    sentence = doc["text"][found["start"]:found["end"]]
    assert sentence == "We will not halt the enlargement of NATO, and the alliance door remains open."
    assert corpus.sentences_by_id([found["sentence_id"]])[found["sentence_id"]]["text"] == sentence
    assert normalise(found["quote"]) in normalise(sentence)


def test_find_quote_of_an_absent_quote(corpus, populated):
    found = find_quote(corpus, "we will build a secret tunnel")
    assert found["ratio"] == 0.0
    assert found["sentence_id"] is None and found["document_id"] is None
    assert found["start"] is None and found["end"] is None and found["speaker"] is None


def test_find_quote_never_matches_a_report(corpus, populated):
    # The report repeats these words verbatim; only official statements may be quoted.
    found = find_quote(corpus, "a secret tunnel was dug under the embassy garden")
    assert found["document_id"] is None or corpus.document(found["document_id"])["kind"] == "official"
    assert found["ratio"] < 0.9


def test_find_quote_respects_the_scope(corpus, populated):
    found = find_quote(corpus, "the alliance door remains open", Scope(speaker="Stoltenberg"))
    assert found["speaker"] == "Jens Stoltenberg" and found["ratio"] < 0.9


def test_find_quote_with_query_syntax_in_the_quote(corpus, populated):
    found = find_quote(corpus, 'door" OR remains* NEAR(open) AND NOT "alliance')
    assert found["sentence_id"] is not None  # no FTS5 syntax error
    assert fts_query('door" OR NEAR(open)') == '"door" OR "near" OR "open"'


# --- quotes in verdicts -----------------------------------------------------------------------------

def test_a_quote_found_nowhere_is_flagged(corpus, populated):
    checker = make_checker(corpus)
    run = checker.check_text('Blinken said "we will build a secret tunnel" under the embassy garden.')
    (result,) = run.results
    flag = f"{NOT_FOUND}: \u201cwe will build a secret tunnel\u201d"
    assert flag in result.verdict.flags
    assert result.verdict.quotes[0]["ratio"] == 0.0
    assert flag in stored_details(corpus, run.run_id, result.claim_id)["flags"]
    assert flag in result.to_dict()["flags"]


def test_a_quote_found_verbatim_is_not_flagged(corpus, populated):
    run = make_checker(corpus).check_text('Blinken said "the alliance door remains open" to everyone.')
    (result,) = run.results
    assert not any(f.startswith(NOT_FOUND) for f in result.verdict.flags)
    (q,) = result.verdict.quotes
    assert q["ratio"] == 1.0 and q["speaker"] == "Antony Blinken" and q["date"] == "2022-01-26"
    assert stored_details(corpus, run.run_id, result.claim_id)["quotes"][0]["sentence_id"] == q["sentence_id"]


def test_quotes_are_looked_up_within_the_checker_scope(corpus, populated):
    run = make_checker(corpus, scope=Scope(speaker="Stoltenberg")).check_text(
        'Blinken said "the alliance door remains open" to everyone.')
    (result,) = run.results
    assert f"{NOT_FOUND}: \u201cthe alliance door remains open\u201d" in result.verdict.flags


# --- attribution frames -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, frame, proposition", [
    ("The supposed U.S. response says that Washington is ready to talk about limits.",
     "The supposed U.S. response says that", "Washington is ready to talk about limits."),
    ("According to the leak, the United States will halt the enlargement of NATO.",
     "According to the leak", "The United States will halt the enlargement of NATO."),
    ("the document highlights that the alliance door remains open.",
     "the document highlights that", "The alliance door remains open."),
    ("According to the leak, the text stresses that the alliance door remains open.",
     "According to the leak \u2026 the text stresses that", "The alliance door remains open."),
    ("Washington is ready to talk about limits, the document says.",
     "the document says", "Washington is ready to talk about limits."),
    # the comma closes the quotation, not the claim
    ("\u201cWe reaffirm our commitment to the Open Door Policy,\u201d the text reads.",
     "the text reads", "\u201cWe reaffirm our commitment to the Open Door Policy\u201d."),
])
def test_split_frame(text, frame, proposition):
    assert split_frame(text) == (frame, proposition)


@pytest.mark.parametrize("text", [
    "Washington is ready to talk about limits.",
    "The response proposes transparency measures on force posture in Ukraine.",  # "response" as subject
    "According to the leak, yes.",  # too little left to be a proposition
])
def test_split_frame_leaves_unframed_claims_alone(text):
    assert split_frame(text) == ("", text)


@pytest.mark.parametrize("text", [
    "The documents show that Washington is ready to talk about limits.",
    "The papers claim that Washington is ready to talk about limits.",
])
def test_split_frame_plural_sources(text):
    assert split_frame(text)[1] == "Washington is ready to talk about limits."


@pytest.mark.parametrize("frame", [
    "The supposed U.S. response says that",
    "According to the leak,",
    "the document highlights that",
])
def test_checker_scores_the_proposition_and_keeps_the_frame(corpus, populated, frame):
    embedder, nli = FakeEmbedder(), FakeNLI()
    checker = Checker(corpus, embedder=embedder, nli=nli, k=3)
    text = f"{frame} {LIMITS[0].lower()}{LIMITS[1:]}"
    run = checker.check_text(text)
    (result,) = run.results
    assert result.text == text and result.proposition == LIMITS
    assert result.verdict.label == "consistent"
    # NLI reads the proposition with names canonical (Washington -> the United States), in
    # both directions: never the frame.
    read_as = "The United States is ready to discuss reciprocal limits on military exercises in Europe."
    assert result.read_as == read_as
    assert {h for p, h in nli.seen if p != read_as} == {read_as}
    assert all(frame.rstrip(",") not in p + h for p, h in nli.seen)
    assert text not in embedder.seen and LIMITS in embedder.seen
    claim = corpus.claim(result.claim_id)
    assert claim["text"] == text and claim["frame"] == frame.rstrip(",") and claim["proposition"] == LIMITS
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["claim"]["text"] == text and trail["claim"]["proposition"] == LIMITS
    assert trail["verdict"]["label"] == "consistent"


def test_a_heavy_frame_would_dilute_the_claim(corpus, populated):
    # Four frame words against four content words: scored whole, the fake NLI would see no
    # entailment; scored as the proposition, it does.
    text = "The supposed confidential U.S. response says that Washington is ready to discuss limits."
    assert split_frame(text)[1] == "Washington is ready to discuss limits."
    assert FakeNLI().score([(LIMITS, text)])[0][0] < 0.5
    (result,) = make_checker(corpus).check_text(text).results
    assert result.verdict.label == "consistent"


def test_report_claims_keep_their_frame_in_storage(corpus, populated):
    run = make_checker(corpus).check_document(populated)
    (result,) = [r for r in run.results if r.text.startswith("The leaked text says")]
    claim = corpus.claim(result.claim_id)
    assert claim["frame"] == "The leaked text says" and claim["proposition"] == LIMITS
    assert corpus.document(populated)["text"][claim["start"]:claim["end"]] == claim["text"] == result.text
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["claim"]["frame"] == "The leaked text says"
    assert trail["evidence"][0]["text"] == LIMITS and trail["verdict"]["label"] == "consistent"


# --- scope ---------------------------------------------------------------------------------------------

@pytest.fixture
def dated(corpus, populated):
    """``populated`` plus the same statement made later, on the report's day, and undated."""
    later = corpus.add_document(make_document("official", LIMITS[:-1] + " and Asia.\n", speaker="Wendy Sherman",
                                              published="2022-03-01", title="Later remarks")).document_id
    same = corpus.add_document(make_document("official", LIMITS[:-1] + " and Africa.\n", speaker="Ned Price",
                                             published="2022-02-02", title="Same-day briefing")).document_id
    undated = corpus.add_document(make_document("official", LIMITS[:-1] + " and beyond.\n",
                                                title="Undated note")).document_id
    return {"report": populated, "later": later, "same": same, "undated": undated}


def limits_result(run):
    (result,) = [r for r in run.results if r.proposition == LIMITS]
    return result


def test_without_scope_later_statements_are_evidence(corpus, dated):
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=5).check_document(dated["report"])
    docs = {e.sentence["document_id"] for e in limits_result(run).evidence}
    assert {dated["later"], dated["undated"]} <= docs


def test_scope_as_of_excludes_later_and_undated_statements(corpus, dated):
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=5, scope=Scope(as_of="2022-02-01"))
    run = checker.check_document(dated["report"])
    assert run.manifest["scope"] == {"speaker": None, "as_of": "2022-02-01"}
    for result in run.results:
        assert result.evidence
        for e in result.evidence:
            assert e.sentence["published"] is not None and e.sentence["published"] <= "2022-02-01"
            assert e.sentence["document_id"] not in (dated["later"], dated["same"], dated["undated"])
    assert limits_result(run).verdict.label == "consistent"


def test_scope_as_of_is_inclusive(corpus, dated):
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=5, scope=Scope(as_of="2022-02-02"))
    docs = {e.sentence["document_id"] for e in limits_result(checker.check_document(dated["report"])).evidence}
    assert dated["same"] in docs and dated["later"] not in docs


def test_scope_speaker_restricts_to_one_speaker(corpus, populated):
    unscoped = make_checker(corpus).check_document(populated)
    assert limits_result(unscoped).evidence[0].sentence["speaker"] == "Antony Blinken"
    run = make_checker(corpus, scope=Scope(speaker="stoltenberg")).check_document(populated)
    assert run.manifest["scope"] == {"speaker": "stoltenberg", "as_of": None}
    for result in run.results:
        assert result.evidence
        assert {e.sentence["speaker"] for e in result.evidence} == {"Jens Stoltenberg"}
    assert limits_result(run).verdict.label == "novel"


# --- why each sentence fell short ----------------------------------------------------------------------

def test_novel_verdict_explains_every_shortfall(corpus, populated):
    # Shares "Washington is ready to discuss" with an official sentence: related, but neutral.
    run = make_checker(corpus).check_text("Washington is ready to discuss a secret tunnel under the embassy garden.")
    (result,) = run.results
    assert result.verdict.label == "novel"
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["verdict"]["label"] == "novel" and len(trail["evidence"]) == 3
    related = 0.35
    for e in trail["evidence"]:
        assert e["why_not"]
        if e["similarity"] < related:
            assert e["why_not"].startswith("not closely related")
        else:
            why = e["why_not"]
            assert "entail p=0.05 < 0.50" in why and "contradict p=0.05 < 0.50" in why
            assert why.startswith("related but neutral (p=0.90)")
    assert trail["evidence"][0]["text"] == LIMITS and trail["evidence"][0]["similarity"] >= related
    as_dict = result.to_dict()["evidence"]
    assert [e["why_not"] for e in as_dict] == [e["why_not"] for e in trail["evidence"]]


def test_trail_says_which_contradictions_were_not_counted(corpus, populated):
    from verify.pipeline.verdict import Thresholds

    # The closest sentence (reciprocal limits) is neutral; a less similar one (negated
    # enlargement) contradicts, but only the most similar sentence may contradict.
    run = make_checker(corpus, thresholds=Thresholds(contradict_top=1, related=0.1, subject_overlap=0, entail=0.95),
                       nli=FakeNLI(overlap=0.4)).check_text("Washington will halt the enlargement of NATO office in Moscow.")
    (result,) = run.results
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["verdict"]["label"] == "novel"
    whys = [e["why_not"] for e in trail["evidence"]]
    contradicting = [e for e in trail["evidence"][1:] if e["p_contradict"] >= 0.5]
    assert contradicting and "not counted" not in whys[0]
    assert all("not counted: only the 1 most similar" in e["why_not"] for e in contradicting)
    assert [e["why_not"] for e in result.to_dict()["evidence"]] == whys
    # A run recorded before the limit existed let every related sentence contradict.
    manifest = json.loads(corpus.run(run.run_id)["manifest"])
    del manifest["thresholds"]["contradict_top"]
    corpus.db.execute("update runs set manifest = ? where id = ?", [json.dumps(manifest), run.run_id])
    assert not any("not counted" in e["why_not"] for e in evidence_trail(corpus, result.claim_id)["evidence"])


def test_unrelated_evidence_says_so(corpus, populated):
    run = make_checker(corpus).check_document(populated)
    (result,) = [r for r in run.results if "secret tunnel" in r.text]
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["verdict"]["label"] == "novel"
    for e in trail["evidence"]:
        assert e["why_not"] == f"not closely related (similarity {e['similarity']:.2f} < 0.35)"


def test_decided_verdicts_have_no_shortfall(corpus, populated):
    run = make_checker(corpus).check_document(populated)
    for result in run.results:
        trail = evidence_trail(corpus, result.claim_id)
        if trail["verdict"]["label"] != "novel":
            assert all(e["why_not"] is None for e in trail["evidence"])
            assert all("why_not" not in e for e in result.to_dict()["evidence"])
    assert {evidence_trail(corpus, r.claim_id)["verdict"]["label"] for r in run.results} == \
        {"consistent", "contradictory", "novel"}


def test_trail_shows_mismatches_side_by_side(corpus, populated):
    run = make_checker(corpus).check_document(populated)
    (result,) = [r for r in run.results if "halt the enlargement" in r.text]
    trail = evidence_trail(corpus, result.claim_id)
    assert trail["verdict"]["label"] == "contradictory"
    assert {"kind": "polarity", "claim": "affirmed", "official": "negated"} in trail["evidence"][0]["mismatches"]
    assert "mismatch polarity: claim affirmed / official negated" in trail["evidence"][0]["flags"]


# --- evidence relative to the report date --------------------------------------------------------------

def test_relation():
    assert relation("2022-01-26", "2022-02-02") == "before"
    assert relation("2022-02-02", "2022-02-02") == "same day"
    assert relation("2022-03-01", "2022-02-02") == "after"
    assert relation(None, "2022-02-02") == relation("2022-01-26", None) == "unknown"


def test_evidence_carries_its_relation_to_the_report_date(corpus, dated):
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=5).check_document(dated["report"])
    result = limits_result(run)
    expected = {dated["later"]: "after", dated["same"]: "same day", dated["undated"]: "unknown"}
    by_doc = {e.sentence["document_id"]: e.sentence["relation"] for e in result.evidence}
    assert by_doc[dated["later"]] == "after" and by_doc[dated["undated"]] == "unknown"
    for doc_id, rel in by_doc.items():
        assert rel == expected.get(doc_id, "before")
    trail = evidence_trail(corpus, result.claim_id)
    assert {e["document_id"]: e["relation"] for e in trail["evidence"]} == by_doc
    assert {e["document_id"]: e["relation"] for e in result.to_dict()["evidence"]} == by_doc


def test_typed_claims_have_no_report_date(corpus, dated):
    (result,) = make_checker(corpus).check_text(LIMITS).results
    assert result.evidence and all(e.sentence["relation"] == "unknown" for e in result.evidence)


def test_the_trail_shows_the_canonical_reading_that_decided(corpus, populated):
    from verify.outputs.render import render_explain

    text = "The leaked reply says Washington is ready to discuss reciprocal limits on military exercises in Europe."
    (result,) = make_checker(corpus).check_text(text).results
    trail = evidence_trail(corpus, result.claim_id)
    top = trail["evidence"][0]
    assert top["claim_read_as"].startswith("The United States is ready") and "Washington" not in top["claim_read_as"]
    assert trail["verdict"]["code"] == result.verdict.code and trail["verdict"]["code"] is not None
    # stored with the verdict, not recomputed: the same as the run computed it
    assert [e["subject_overlap"] for e in trail["evidence"]] == [round(e.overlap, 4) for e in result.evidence]
    shown = render_explain(trail)
    assert "claim read as: \"The United States is ready" in shown and f"[{result.verdict.code}]" in shown


def test_the_trail_shows_a_met_bound_read_as_the_official_number(corpus):
    corpus.add_document(make_document("official", "The ministry has counted 2,013 deaths from the disease.\n",
                                      speaker="Ned Price", published="2022-01-27"))
    (result,) = make_checker(corpus).check_text("Fewer than 2,015 deaths from the disease were counted.").results
    [top] = [e for e in evidence_trail(corpus, result.claim_id)["evidence"] if "2,013" in e["text"]]
    assert "2,013 deaths" in top["claim_read_as"] and "Fewer than" not in top["claim_read_as"]
    assert top["similarity"] >= 0.35 and not any(m["kind"] == "number" for m in top["mismatches"])
