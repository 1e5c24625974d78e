"""Who said each sentence: quotes, reported speech, "according to", transcripts, narration;
the speakers table, the official side, and the desk's corrections.

Unit cases use hand-written documents; the seed cases read ../shared/seeds, where
official statements are news reports that quote both sides.
"""
from __future__ import annotations

import pytest

from verify.pipeline.attribute import affiliation, attribute, quote_spans, reattribute
from verify.pipeline.ingest import build_document, ingest_paths, normalise_text
from verify.pipeline.segment import segment

from conftest import SEEDS, FakeEmbedder, FakeNLI, make_document, needs_shared


def attributed(text: str, **kw) -> list[tuple[str, str | None, str]]:
    text = normalise_text(text)
    spans = segment(text, kw.get("default_speaker"))
    return [(s.text, a.speaker, a.kind) for s, a in zip(spans, attribute(text, spans, **kw))]


def speaker_of(rows, fragment: str) -> str | None:
    (found,) = [who for text, who, _ in rows if fragment in text]
    return found


# --- affiliations -----------------------------------------------------------------------------

@pytest.mark.parametrize("role, side", [
    ("the US ambassador to NATO", "US"),
    ("NATO Secretary General", "NATO"),
    ("Russia's ambassador to the Organization for Security and Cooperation in Europe", "Russia"),
    ("White House spokeswoman", "US"),
    ("U.S. Department of State", "US"),
    ("Ukraine's foreign minister", "Ukraine"),
    ("a deputy foreign minister", None),
    ("Western and Russian diplomats", None),  # two sides: no single affiliation
    (None, None),
])
def test_affiliation_from_role_words(role, side):
    assert affiliation(role) == side


def test_quote_spans_pair_curly_quotes_and_run_an_unclosed_quote_to_the_end():
    line = "“We are ready,” she said. “And we will wait"
    assert [line[a:b] for a, b in quote_spans(line)] == ["“We are ready,”", "“And we will wait"]
    slip = "it is done,” he said."
    assert [slip[a:b] for a, b in quote_spans(slip)] == ["it is done,”"]


# --- the rules, on hand-written documents ----------------------------------------------------------

NEWS = (
    "Ministers met in Geneva on Monday.\n"
    "“We are ready to talk about missiles,” the US envoy to the talks, Mary Jones, said after the meeting.\n"
    "“The offer stands. We expect an answer within a week,” she added.\n"
    "“And we will keep our allies informed at every step.\n"
    "The meeting ended without agreement.\n"
    "Russia's deputy foreign minister, Ivan Petrov, said the proposals were not serious.\n"
    "He described the talks as a waste of time.\n"
    "The delegation will return next month, according to Peter Hall, a NATO spokesman.\n"
    "While the allies urged more meetings, the Russian side refused to commit.\n"
)


@pytest.fixture(scope="module")
def news():
    return attributed(NEWS, publisher="The Daily Record")


def test_a_quote_with_a_reporting_verb_is_the_speakers(news):
    assert speaker_of(news, "ready to talk about missiles") == "Mary Jones"


def test_every_sentence_of_a_quotation_and_a_continued_quote_paragraph_is_the_speakers(news):
    assert speaker_of(news, "The offer stands") == "Mary Jones"
    assert speaker_of(news, "answer within a week") == "Mary Jones"
    assert speaker_of(news, "keep our allies informed") == "Mary Jones"  # the next paragraph opens a quote


def test_reported_speech_and_a_resolved_pronoun(news):
    assert speaker_of(news, "proposals were not serious") == "Ivan Petrov"
    assert speaker_of(news, "waste of time") == "Ivan Petrov"


def test_according_to_with_a_role(news):
    assert speaker_of(news, "return next month") == "Peter Hall"


def test_narration_belongs_to_the_publisher_and_subordinate_clauses_do_not_attribute(news):
    assert [who for t, who, kind in news if "Ministers met" in t or "ended without" in t] == [None, None]
    assert speaker_of(news, "refused to commit") is None  # "while the allies urged" is not what they said
    assert {kind for t, who, kind in news if who is None} == {"narration"}


def test_a_department_or_an_office_is_a_group_not_a_person_named_after_it():
    rows = attributed("The State Department said the reply was delivered on January 26.\n"
                      "The Foreign Office said talks would continue.\n", publisher="The Daily Record")
    assert rows[0][1] == "State Department" and rows[1][1] == "Foreign Office"


def test_a_passive_reporting_verb_names_no_speaker():
    rows = attributed("Truth be told, the talks failed.\nRussia was told that the answer would come soon.\n",
                      publisher="The Daily Record")
    assert speaker_of(rows, "the talks failed") is None
    assert speaker_of(rows, "answer would come soon") is None  # Russia heard it; it did not say it


def test_the_document_speaker_is_a_default_for_unattributed_sentences_only():
    rows = attributed("The talks went well.\nAccording to Peter Hall, the talks will resume.\n",
                      default_speaker="Mary Jones")
    assert rows[0][1:] == ("Mary Jones", "document speaker")
    assert rows[1][1] == "Peter Hall"


def test_transcript_turns_keep_their_speakers_and_questions_have_none():
    rows = attributed("QUESTION: Will you publish it?\nSECRETARY JONES: We will not publish it.\n",
                      default_speaker="Mary Jones")
    assert [r[1:] for r in rows] == [(None, "transcript"), ("Mary Jones", "transcript")]


def test_a_paragraph_ending_with_said_x_is_x_s():
    rows = attributed("It is a good moment for talks. We must use it, said Peter Hall, NATO spokesman.\n")
    assert [r[1] for r in rows] == ["Peter Hall", "Peter Hall"]


# --- the corpus: speakers, corrections, the official side ------------------------------------------

def ingest_news(corpus):
    return corpus.add_document(build_document("official", NEWS, {"publisher": "The Daily Record"},
                                              source="news.txt", fmt="txt"))


def test_ingest_records_speakers_with_the_side_their_role_names(corpus):
    ingest_news(corpus)
    speakers = {r["name"]: r for r in corpus.speakers()}
    assert speakers["Mary Jones"]["affiliation"] == "US"
    assert speakers["Ivan Petrov"]["affiliation"] == "Russia"
    assert speakers["Peter Hall"]["affiliation"] == "NATO"
    assert speakers["The Daily Record"]["affiliation"] is None and speakers["The Daily Record"]["role"] == "publisher"
    assert "inferred from" in speakers["Mary Jones"]["source"]
    assert speakers["Mary Jones"]["sentences"] == 3  # pysbd keeps a quotation with its attribution
    stored = {r["text"]: r for r in corpus.sentences(speaker="Mary Jones")}
    assert all(r["attribution"] in ("quote", "quote (continued)") and r["cue"] for r in stored.values())


def test_a_desk_correction_is_kept_when_later_documents_say_otherwise(corpus):
    ingest_news(corpus)
    corpus.set_speaker("Ivan Petrov", affiliation="OSCE", by="ana")
    corpus.add_document(build_document(
        "official", "Russia's deputy foreign minister, Ivan Petrov, said talks would go on.\n", {},
        source="more.txt", fmt="txt"))
    row = {r["name"]: r for r in corpus.speakers()}["Ivan Petrov"]
    assert row["affiliation"] == "OSCE" and row["source"] == "set by ana"


def test_only_the_official_side_decides_and_others_are_shown_marked(corpus):
    from verify.pipeline.check import Checker

    ingest_news(corpus)
    corpus.add_document(make_document("report", "The US envoy said the proposals were not serious at all.\n"))
    corpus.set_official_side(["US", "NATO"])
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)
    assert checker.scope.side == ("NATO", "US")
    (result,) = checker.check_text("Officials said the proposals were not serious.").results
    counted = [e for e in result.evidence if e.counted]
    shown = [e for e in result.evidence if not e.counted]
    assert all(e.sentence["affiliation"] in ("US", "NATO") for e in counted)
    assert any(e.sentence["speaker"] == "Ivan Petrov" for e in shown)  # the closest match, by the other side
    assert all("not an official-side statement" in " ".join(e.flags) for e in shown)
    assert result.verdict.decisive is None or result.evidence[result.verdict.decisive].counted
    # --side any: every speaker counts again
    wide = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3, side=None)
    (r2,) = wide.check_text("Officials said the proposals were not serious.").results
    assert all(e.counted for e in r2.evidence)
    assert any(e.sentence["speaker"] == "Ivan Petrov" for e in r2.evidence)


def test_reattribute_fixes_a_corpus_ingested_before_attribution(corpus):
    ingest_news(corpus)
    corpus.conn.execute("update sentences set speaker = 'Somebody', attribution = null")
    changed = reattribute(corpus)
    assert changed == corpus.count("sentences")
    assert {r["speaker"] for r in corpus.sentences(containing="offer stands")} == {"Mary Jones"}


def test_speakers_cli_lists_corrects_and_sets_the_side(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from verify.cli import app

    monkeypatch.setenv("VERIFY_DB", str(tmp_path / "c.db"))
    news = tmp_path / "news.txt"
    news.write_text(NEWS, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "official", str(news), "--publisher", "The Daily Record"]).exit_code == 0
    out = runner.invoke(app, ["speakers", "side", "US", "NATO"])
    assert out.exit_code == 0 and "official side: NATO, US" in out.output
    listing = runner.invoke(app, ["speakers"]).output
    assert "Mary Jones" in listing and "* Mary Jones" in listing and "  Ivan Petrov" in listing
    fixed = runner.invoke(app, ["speakers", "set", "Ivan Petrov", "--affiliation", "NATO", "--by", "ana"])
    assert fixed.exit_code == 0 and "set by ana" in fixed.output
    assert "* Ivan Petrov" in runner.invoke(app, ["speakers"]).output
    assert runner.invoke(app, ["speakers", "set", "Ivan Petrov"]).exit_code != 0  # nothing to set
    assert "not set" in runner.invoke(app, ["speakers", "side", "--clear"]).output


# --- the seed case ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_corpus(tmp_path_factory):
    from verify.store.corpus import Corpus

    corpus = Corpus(tmp_path_factory.mktemp("seeds") / "corpus.db")
    publishers = {"000": "Euronews", "001": "U.S. Department of State", "003": "Euronews", "004": "POLITICO"}
    for path in sorted(SEEDS.glob("*.txt")):
        if path.name[:3] in publishers:
            (r,) = ingest_paths(corpus, "official", [path], {"publisher": publishers[path.name[:3]]})
            assert r.error is None
    return corpus


def seed_speaker(corpus, fragment: str) -> dict:
    (row,) = corpus.sentences(containing=fragment)
    return row


@needs_shared
@pytest.mark.parametrize("fragment, speaker", [
    ("talks could discuss reciprocal restrictions on exercises", "Julianne Smith"),
    ("broad themes of Wednesday's talks as risk reduction", "Julianne Smith"),
    ("committed to working in lockstep with our allies", "Wendy Sherman"),
    ("would not release the document publicly", "Antony Blinken"),
    ("approximately 100,000 soldiers on the Russian side", "Michael Carpenter"),
    ("And we addressed other areas where we see potential", "Antony Blinken"),
    ("We will push for a concrete, substantive", "Alexander Grushko"),
    ("We have not received any adequate response", "Alexander Lukashevich"),
])
def test_seed_sentences_are_attributed_to_whoever_said_them(seed_corpus, fragment, speaker):
    assert seed_speaker(seed_corpus, fragment)["speaker"] == speaker


@needs_shared
def test_seed_officials_have_the_right_side(seed_corpus):
    sides = {r["name"]: r["affiliation"] for r in seed_corpus.speakers()}
    for us in ("Antony Blinken", "Julianne Smith", "Wendy Sherman", "Michael Carpenter", "Jen Psaki", "Jake Sullivan"):
        assert sides[us] == "US", us
    assert sides["Jens Stoltenberg"] == "NATO"
    assert sides["U.S. Department of State"] == "US"
    for not_ours in ("Alexander Grushko", "Alexander Lukashevich"):
        assert sides[not_ours] not in ("US", "NATO"), not_ours
    assert sides["Alexander Lukashevich"] == "Russia"


@needs_shared
def test_seed_narration_is_the_publishers_not_an_officials(seed_corpus):
    row = seed_speaker(seed_corpus, "The West defends NATO's open-door policy")
    assert row["speaker"] is None and row["attribution"] == "narration" and row["publisher"] == "Euronews"
    assert row["affiliation"] is None


def test_a_recheck_rescores_when_the_side_or_an_affiliation_changes(corpus):
    from verify.pipeline.check import Checker
    from verify.pipeline.recheck import current_setup, recheck

    ingest_news(corpus)
    report = corpus.add_document(make_document("report", "The US envoy said the proposals were not serious.\n"))
    corpus.set_official_side(["US", "NATO"])

    def make_checker():
        return Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)

    run = make_checker().check_document(report.document_id)
    setup = current_setup(corpus, "fake-nli", 3, "hybrid", embed_model="fake-embed")
    assert {k: run.manifest[k] for k in ("scope", "affiliations")} == {k: setup[k] for k in ("scope", "affiliations")}
    assert recheck(corpus, make_checker, setup=setup).rescored == 0  # nothing changed: carried forward
    corpus.set_speaker("Ivan Petrov", affiliation="US", by="ana")  # a desk's correction
    setup = current_setup(corpus, "fake-nli", 3, "hybrid", embed_model="fake-embed")
    assert recheck(corpus, make_checker, setup=setup).rescored == len(run.results)


def test_transcript_speakers_speak_for_their_publisher_and_questions_for_nobody(corpus):
    corpus.add_document(build_document(
        "official", "QUESTION: Is it true the reply offers talks on missiles?\n"
                    "SECRETARY JONES: The reply offers talks on missiles in Europe.\n",
        {"publisher": "U.S. Department of State", "speaker": "Mary Jones"}, source="t.txt", fmt="txt"))
    sides = {r["name"]: (r["affiliation"], r["source"]) for r in corpus.speakers()}
    assert sides["Mary Jones"] == ("US", "inferred from the publisher, U.S. Department of State")
    corpus.set_official_side(["US"])
    rows = {r["text"]: r for r in corpus.sentences()}
    question = rows["Is it true the reply offers talks on missiles?"]
    assert question["speaker"] is None and question["affiliation"] is None  # not the publisher's voice
    from verify.pipeline.retrieve import Scope, allowed_ids

    allowed = set(allowed_ids(corpus, Scope(side=("US",))).tolist())
    assert question["id"] not in allowed and rows["The reply offers talks on missiles in Europe."]["id"] in allowed


def test_an_unnamed_spokesman_speaks_for_the_publisher_and_is_not_another_publishers(corpus):
    us = corpus.add_document(build_document(
        "official", "The spokesman confirmed that the United States offered Russia new talks on incidents at sea.\n",
        {"publisher": "U.S. Department of State"}, source="us.txt", fmt="text")).document_id
    ru = corpus.add_document(build_document(
        "official", "The spokesman confirmed that Russia rejected every proposal made by the United States.\n",
        {"publisher": "Ministry of Foreign Affairs of Russia"}, source="ru.txt", fmt="text")).document_id
    [a] = corpus.sentences(document_id=us)
    [b] = corpus.sentences(document_id=ru)
    assert a["speaker"] == "U.S. Department of State spokesman" and a["affiliation"] == "US"
    assert b["speaker"] != a["speaker"] and b["affiliation"] != "US"
