"""The hard-case generators of scripts/hard_cases.py: each edit, and the label it implies.

They use spaCy's small English model (a verify dependency) and, for antonyms, WordNet from
Debian's wordnet-base (installed by .ci/run; those tests skip where it is absent).
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import hard_cases as hc  # noqa: E402

HAS_WORDNET = (hc.WORDNET / "data.adj").exists()
needs_wordnet = pytest.mark.skipif(not HAS_WORDNET, reason="WordNet (Debian wordnet-base) not installed")


@pytest.fixture(scope="module")
def nlp():
    return hc.nlp()


def rng():
    return random.Random(3)


# --- numbers and dates --------------------------------------------------------------------------

def test_number_swap_changes_only_a_number_the_premise_states():
    p = "There are approximately 100,000 soldiers on the border."
    out = hc.number_swaps(p, "About 100,000 soldiers are on the border.", rng())
    (premise, hyp, label) = out[0]
    assert premise == p and label == "contradiction"
    assert "100,000" not in hyp and hyp.replace(hyp.split()[1], "X") == "About X soldiers are on the border."
    assert hc.number_swaps(p, "About 40 soldiers are on the border.", rng()) == []  # 40 is not in the premise


@pytest.mark.parametrize("hypothesis", [
    "More than 13,000 people have died.",   # after a bound a smaller number is still true
    "The war began in 2014 and 13000 died.",  # years are not quantities; 13000 is not written in the premise
])
def test_number_swap_leaves_bounded_numbers_and_years_alone(hypothesis):
    assert hc.number_swaps("More than 13,000 people have died since 2014.", hypothesis, rng()) == []


def test_a_number_written_out_is_still_entailed():
    found = []
    for seed in range(20):
        found += [t for t in hc.number_swaps("The 5 ministers met.", "5 ministers met.", random.Random(seed))
                  if t[2] == "entailment"]
    assert found and {h for _, h, _ in found} == {"Five ministers met."}


def test_date_swap_changes_the_day_month_or_year():
    out = hc.date_swaps("Talks began on January 26, 2022.", "Talks began on January 26.", rng())
    assert out and out[0][2] == "contradiction" and out[0][1] != "Talks began on January 26."
    assert "January 26" not in out[0][1] or out[0][1].count("January") == 1
    assert hc.date_swaps("Russia annexed Crimea in 2014.", "Crimea was annexed in 2014.", rng())[0][1] \
        .startswith("Crimea was annexed in 20")
    assert hc.date_swaps("It happened in 2014.", "It has happened since 2014.", rng()) == []  # "since" is a bound


# --- names --------------------------------------------------------------------------------------

def test_name_swap_names_someone_the_premise_does_not(nlp):
    pool = {"person": ["Angela Merkel", "Boris Johnson"], "place": ["Poland", "Romania", "Georgia"]}
    premise = "The troops were sent to Romania by the alliance."
    hyp = nlp("Troops were sent to Romania.")
    (p, h, label) = hc.name_swaps(premise, hyp, pool, rng())[0]
    assert label == "contradiction" and h in ("Troops were sent to Poland.", "Troops were sent to Georgia.")


# --- antonyms -----------------------------------------------------------------------------------

@needs_wordnet
def test_wordnet_antonyms_are_read_from_the_data_files():
    ant = hc.wordnet_antonyms(str(hc.WORDNET))
    assert "low" in ant[("high", "a")] and "decrease" in ant[("increase", "v")]


@needs_wordnet
def test_antonym_swap_prefers_adjectives_shared_with_the_premise(nlp):
    ant = hc.wordnet_antonyms(str(hc.WORDNET))
    out = hc.antonym_swaps("Prices rose because taxes are high.", nlp("Taxes are high."), ant, rng())
    assert out == [("Prices rose because taxes are high.", "Taxes are low.", "contradiction")]
    verb = hc.antonym_swaps("Prices increased sharply.", nlp("Prices increased."), ant, rng())
    assert verb == [("Prices increased sharply.", "Prices decreased.", "contradiction")]


@pytest.mark.parametrize("lemma, tag, form", [
    ("stop", "VBD", "stopped"), ("open", "VBD", "opened"), ("release", "VBN", "released"),
    ("write", "VBN", "written"), ("carry", "VBZ", "carries"), ("make", "VBG", "making"),
])
def test_inflect(lemma, tag, form):
    assert hc.inflect(lemma, tag) == form


def test_inflect_needs_no_wordnet(monkeypatch, tmp_path):
    # A fresh machine without Debian's wordnet-base still spells stressed endings and irregulars.
    monkeypatch.setattr(hc, "WORDNET", tmp_path / "no-wordnet")
    assert [hc.inflect("commit", "VBD"), hc.inflect("withdraw", "VBN"), hc.inflect("be", "VBD")] == [
        "committed", "withdrawn", "was"]
    assert hc.refusal_pairs("Russian officials refused to commit.")[1][1] == "Russian officials committed."


# --- negation and voice --------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, negated", [
    ("Washington will release the document.", "Washington will not release the document."),
    ("The United States released the documents.", "The United States did not release the documents."),
    ("He signs the treaty.", "He does not sign the treaty."),
    ("The ministers can meet in Geneva.", "The ministers cannot meet in Geneva."),
    ("The government is committed to dialogue.", "The government is not committed to dialogue."),
    ("Washington would not release the document.", None),  # already negated
    ("Nobody released the document.", None),  # a quantified subject: negation changes its scope
])
def test_negate(nlp, sentence, negated):
    assert hc.negate(nlp(sentence)) == negated


@pytest.mark.parametrize("sentence, passive", [
    ("Washington will release the document publicly.", "The document will be released by Washington publicly."),
    ("They did not publish their written response.", "Their written response was not published by them."),
    ("The allies signed the treaties.", "The treaties were signed by the allies."),
    ("The allies pledged to preserve the policy.", None),  # no direct object
])
def test_passive(nlp, sentence, passive):
    assert hc.passive(nlp(sentence)) == passive


def test_negation_pairs_teach_that_two_agreeing_negations_entail(nlp):
    pairs = hc.negation_pairs(nlp("Washington would not release the document publicly."), rng())
    assert ("Washington would not release the document publicly.", "The document was not released publicly.",
            "entailment") in pairs
    assert all(label == "entailment" for _, _, label in pairs)
    mixed = hc.negation_pairs(nlp("The United States released the documents on Tuesday."), rng())
    labels = {(("not" in p) == ("not" in h), label) for p, h, label in mixed}
    assert labels <= {(True, "entailment"), (False, "contradiction")}  # one negated side: contradiction
    assert (True, "entailment") in labels and (False, "contradiction") in labels


def test_refusal_entails_not_doing_and_contradicts_doing():
    assert hc.refusal_pairs("Russian officials refused to commit.") == [
        ("Russian officials refused to commit.", "Russian officials did not commit.", "entailment"),
        ("Russian officials refused to commit.", "Russian officials committed.", "contradiction")]


# --- same topic ----------------------------------------------------------------------------------

def test_same_topic_pairs_share_the_topic_but_not_the_fact():
    group = ["NATO sent more troops to Poland in March.",
             "NATO troops held exercises near the Baltic coast last spring.",
             "NATO sent more troops to Poland in March this year.",  # a restatement: never paired as neutral
             "The alliance was founded in 1949 by twelve countries."]
    out = hc.same_topic_pairs([group] * 30, random.Random(1), limit=100, min_shared=2)
    assert out and all(label == "neutral" for _, _, label in out)
    for a, b, _ in out:
        assert 0 < hc.overlap(a, b) <= 0.4 and len(hc.content_words(a) & hc.content_words(b)) >= 2


def test_subject_groups_drop_names_too_common_to_be_a_topic(nlp):
    docs = list(nlp.pipe([f"Paris hosted event number {i}." for i in range(50)]
                         + ["Angela Merkel met the press.", "Angela Merkel left Berlin."]))
    groups = hc.subject_groups(docs, max_size=40)
    assert ["Angela Merkel met the press.", "Angela Merkel left Berlin."] in groups
    assert not any(len(g) == 50 for g in groups)


# --- the whole script ------------------------------------------------------------------------------

def test_generate_is_deterministic_and_labels_every_kind(tmp_path, nlp):
    pairs = [
        {"premise": "There are about 100,000 troops near the border of Ukraine.",
         "hypothesis": "About 100,000 troops are near the border.", "label": "entailment"},
        {"premise": "The summit opened on January 26, 2022 in Geneva.",
         "hypothesis": "The summit opened on January 26.", "label": "entailment"},
        {"premise": "The troops were sent to Romania by the alliance in spring.",
         "hypothesis": "Troops were sent to Romania.", "label": "entailment"},
        {"premise": "Washington will release the document publicly next week.",
         "hypothesis": "The document is public.", "label": "neutral"},
    ] * 3
    a = hc.generate(pairs, seed=5, per_kind=50, antonyms=None)
    b = hc.generate(pairs, seed=5, per_kind=50, antonyms=None)
    assert a == b and a
    kinds = {r["source"] for r in a}
    assert {"hard:number_swap", "hard:date_swap", "hard:negation"} <= kinds
    assert all(r["label"] in ("entailment", "neutral", "contradiction") and r["premise"] != r["hypothesis"] for r in a)
    out = tmp_path / "cases.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in a))
    assert all(set(json.loads(line)) == {"premise", "hypothesis", "label", "source"} for line in out.open())
