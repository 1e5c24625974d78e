"""Sentence splitting: exact offsets, boilerplate, speaker labels, abbreviations."""
from __future__ import annotations

import pytest

from verify.pipeline.ingest import normalise_text
from verify.pipeline.segment import is_boilerplate, segment, word_count

from conftest import SEEDS, needs_shared

SEED_FILES = sorted(SEEDS.glob("*.txt"))
BOILERPLATE_LINES = [
    "Back to top button",
    "Back to top",
    "This post is also available in: ქართული (Georgian) Русский (Russian)",
    "This article is also available in: Français",
    "Share this article",
    "Related Articles",
    "Read more:",
    "Follow us on Twitter",
    "Subscribe to our newsletter",
    "© 2022 Reuters. All rights reserved",
    "Skip to main content",
]


def _assert_exact(text, sentences):
    assert sentences, "no sentences found"
    previous_end = -1
    for s in sentences:
        assert text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.start >= previous_end  # in order, never overlapping
        previous_end = s.end


@needs_shared
def test_seed_files_are_present():
    assert len(SEED_FILES) == 5


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_offsets_are_exact_on_seed_files(path):
    raw = path.read_text(encoding="utf-8")
    for text in (raw, normalise_text(raw)):
        sentences = segment(text)
        _assert_exact(text, sentences)
        for s in sentences:
            assert not is_boilerplate(s.text)
            assert any(ch.isalpha() for ch in s.text)


@needs_shared
def test_leak_report_seed_drops_its_page_furniture():
    text = normalise_text((SEEDS / "002_ab1dd8fec3c35067.txt").read_text(encoding="utf-8"))
    assert "Back to top button" in text and "This post is also available in" in text
    sentences = [s.text for s in segment(text)]
    assert not any("Back to top" in s for s in sentences)
    assert not any("also available in" in s for s in sentences)
    # real content around the furniture is kept
    assert any("El País" in s for s in sentences)


@pytest.mark.parametrize("line", BOILERPLATE_LINES)
def test_boilerplate_lines_never_become_sentences(line):
    text = f"The talks continue today in Geneva.\n{line}\nBoth sides met for six hours."
    out = segment(text)
    assert [s.text for s in out] == ["The talks continue today in Geneva.", "Both sides met for six hours."]
    _assert_exact(text, out)


@pytest.mark.parametrize("line", [
    "The back to top button is broken on the embassy website.",
    "Russia said the proposal is also available in writing.",
    "Printing presses in Moscow ran all night.",
])
def test_sentences_that_merely_mention_boilerplate_words_are_kept(line):
    assert [s.text for s in segment(line)] == [line]


def test_speaker_label_resolves_to_the_documents_speaker():
    text = "SECRETARY BLINKEN: We will not compromise on principles. We are ready to talk."
    out = segment(text, default_speaker="Antony Blinken")
    assert [s.text for s in out] == ["We will not compromise on principles.", "We are ready to talk."]
    assert {s.speaker for s in out} == {"Antony Blinken"}
    _assert_exact(text, out)


def test_speaker_labels_without_a_matching_default_are_titled():
    text = ("MR. PRICE: Good afternoon everyone.\n"
            "QUESTION: Can you confirm the report?\n"
            "SECRETARY BLINKEN: We delivered our response today.")
    out = segment(text, default_speaker="Ned Price")
    assert [(s.text, s.speaker) for s in out] == [
        ("Good afternoon everyone.", "Ned Price"),          # surname agrees with the default
        ("Can you confirm the report?", None),              # a journalist, not an official
        ("We delivered our response today.", "Secretary Blinken"),
    ]
    _assert_exact(text, out)


def test_speaker_carries_over_to_unlabelled_lines_of_the_same_turn():
    text = "SECRETARY BLINKEN: We delivered our response.\nIt sets out a serious diplomatic path."
    out = segment(text)
    assert [s.speaker for s in out] == ["Secretary Blinken", "Secretary Blinken"]


def test_sentences_outside_transcript_turns_are_left_to_attribution():
    # The document's speaker is a default for unattributed sentences, applied by
    # verify.pipeline.attribute, not stamped on every sentence here.
    out = segment("The response was delivered. It is confidential.", default_speaker="Antony Blinken")
    assert [(s.speaker, s.attribution) for s in out] == [(None, None), (None, None)]
    turn = segment("QUESTION: Will it be released?\nSECRETARY BLINKEN: No.", default_speaker="Antony Blinken")
    assert [(s.speaker, s.attribution, s.cue) for s in turn] == [
        (None, "transcript", "QUESTION:"), ("Antony Blinken", "transcript", "SECRETARY BLINKEN:")]


@pytest.mark.parametrize("text,expected", [
    ("Amb. Smith met the delegation in Vienna. The talks ended late.",
     ["Amb. Smith met the delegation in Vienna.", "The talks ended late."]),
    ("The envoy met Amb. Smith and Gen. Milley on Monday. They spoke for an hour.",
     ["The envoy met Amb. Smith and Gen. Milley on Monday.", "They spoke for an hour."]),
    ("The U.S. Secretary of State met Dr. Jones in Kyiv. Nothing was agreed.",
     ["The U.S. Secretary of State met Dr. Jones in Kyiv.", "Nothing was agreed."]),
])
def test_titles_and_abbreviations_do_not_split(text, expected):
    out = segment(text)
    assert [s.text for s in out] == expected
    _assert_exact(text, out)


def test_every_line_break_ends_a_sentence_and_offsets_count_from_document_start():
    text = "First paragraph has one sentence\n\n  Second paragraph, indented.\nThird line."
    out = segment(text)
    assert [s.text for s in out] == ["First paragraph has one sentence", "Second paragraph, indented.", "Third line."]
    _assert_exact(text, out)


def test_fragments_without_letters_are_dropped():
    text = "***\n2022-01-26\nThe talks resumed.\n--- 12 ---"
    assert [s.text for s in segment(text)] == ["The talks resumed."]


def test_empty_text_has_no_sentences():
    assert segment("") == []
    assert segment("\n\n   \n") == []


def test_word_count_counts_words_with_letters():
    assert word_count("NATO offered 3 things -- talks, limits.") == 5
    assert word_count("") == 0


def test_q_label_marks_a_journalists_question():
    text = "SECRETARY BLINKEN: We are ready to talk.\nQ: Will you meet him next week?"
    out = segment(text, default_speaker="Antony Blinken")
    assert [(s.text, s.speaker) for s in out] == [
        ("We are ready to talk.", "Antony Blinken"),
        ("Will you meet him next week?", None),
    ]


def test_speaker_label_alone_on_its_line_sets_the_speaker():
    text = "SECRETARY BLINKEN:\nWe will not compromise on principles."
    out = segment(text)
    assert [(s.text, s.speaker) for s in out] == [("We will not compromise on principles.", "Secretary Blinken")]


# --- clauses ---------------------------------------------------------------------------------------
from verify.pipeline.segment import clauses  # noqa: E402


@pytest.mark.parametrize("text, expected", [
    ("While the Secretary General went over the contents of the reply in detail, the Secretary of State "
     "had largely left the specifics confidential.",
     ["The Secretary General went over the contents of the reply in detail.",
      "The Secretary of State had largely left the specifics confidential."]),
    ("While Washington is ready to engage with Moscow in dialogue, it continues to firmly support the "
     "alliance's open door.",
     ["Washington is ready to engage with Moscow in dialogue.",
      "Washington continues to firmly support the alliance's open door."]),
    ("Noting that “the alliance does not seek confrontation,” the paper says that the members “cannot and "
     "will not compromise on the principles of their security.”",
     ["The alliance does not seek confrontation.",
      "The members cannot and will not compromise on the principles of their security."]),
    ("The members have long insisted that membership is for sovereign states to decide for themselves, and "
     "they pledged to keep the door open on Tuesday.",
     ["The members have long insisted that membership is for sovereign states to decide for themselves.",
      "They pledged to keep the door open on Tuesday."]),
])
def test_long_sentences_split_into_readable_clauses(text, expected):
    assert clauses(text) == expected


@pytest.mark.parametrize("text", [
    "Washington would not release the document.",  # short: scored whole
    "The response calls on Moscow to withdraw its forces from Ukraine, Georgia and the Republic of Moldova "
    "where they are deployed without consent.",  # a list is not a clause boundary
])
def test_one_clause_sentences_are_not_split(text):
    assert clauses(text) == []
