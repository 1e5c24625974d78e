"""The desk-case generators of scripts/desk_cases.py: each edit keeps the fact, and the
label it implies.

They use spaCy's small English model (a verify dependency), lemminflect and, for the
paraphrase generators, WordNet from Debian's wordnet-base (installed by .ci/run; those
tests skip where it is absent).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import desk_cases as dc  # noqa: E402

from verify.pipeline.aliases import Aliases  # noqa: E402

needs_wordnet = pytest.mark.skipif(not (dc.WORDNET / "data.noun").exists(),
                                   reason="WordNet (Debian wordnet-base) not installed")


@pytest.fixture(scope="module")
def nlp():
    return dc.nlp()


@pytest.fixture(scope="module")
def aliases():
    return Aliases.default()


def options(aliases, nlp, text, alias):
    doc = nlp(text)
    [m] = [m for m in aliases.mentions(text) if m.text.endswith(alias)]
    return dc.alias_options(aliases, m, doc)


def test_a_capital_becomes_its_state_and_a_state_that_acts_its_capital(aliases, nlp):
    assert options(aliases, nlp, "Moscow rejected the proposal on Tuesday.", "Moscow") == ["Russia"]
    acting = options(aliases, nlp, "Russia rejected the proposal on Tuesday.", "Russia")
    assert "Moscow" in acting and "the Kremlin" in acting


def test_a_state_as_a_place_never_becomes_its_capital(aliases, nlp):
    assert "Moscow" not in options(aliases, nlp, "He spent ten years living in Russia.", "Russia")


def test_an_adjective_use_takes_a_short_form_not_a_capital(aliases, nlp):
    got = options(aliases, nlp, "American officials met the delegation.", "American")
    assert got and all("Washington" not in o for o in got) and "U.S." in got


def test_alias_swaps_keep_the_label_and_change_one_side(aliases, nlp):
    p, h = "Washington offered talks to Moscow.", "The United States offered talks."
    docs = {t: nlp(t) for t in (p, h)}
    out = dc.alias_swaps(aliases, p, h, "entailment", docs, random.Random(1))
    assert out and all(label == "entailment" for _, _, label in out)
    assert all((a == p) != (b == h) for a, b, _ in out)  # exactly one side edited


def test_a_name_inside_a_longer_name_is_never_swapped(aliases, nlp):
    text = "The Washington Treaty binds the allies."
    assert [m for m in aliases.mentions(text) if m.text == "Washington"] == []


def test_title_drop_writes_the_person_as_their_title(nlp):
    premise = nlp("President Ana Silva said the border would stay open.")
    [(p, h, label)] = dc.title_drops(premise, "Ana Silva said the border would stay open.")
    assert h == "The President said the border would stay open." and label == "entailment"


def test_frames_wrap_the_sentence_and_keep_the_label(nlp):
    p, h = "The talks resumed in Geneva on Monday morning.", "The talks resumed in Geneva this week."
    docs = {t: nlp(t) for t in (p, h)}
    for seed in range(6):
        [(a, b, label)] = dc.frame_pairs(p, h, "entailment", docs, ["Jane Doe"], random.Random(seed))
        assert label == "entailment"
        edited = b if a == p else a
        assert edited != (h if a == p else p)
        assert "talks resumed in geneva" in edited.lower()
    quoted = nlp('He said "no" to them.')
    assert dc.framed(quoted, "Jane Doe", random.Random(0)) is None


def test_modifier_drop_says_less_and_never_under_negation(nlp):
    assert dc.modifier_drop(nlp("Large Russian exercises took place near the border.")) == \
        "Large Russian exercises took place."
    assert dc.modifier_drop(nlp("The large exercises did not take place near the border.")) is None
    # "former" changes who is meant: it stays, and something else goes
    assert dc.modifier_drop(nlp("The former minister spoke at length to reporters.")) == "The former minister spoke."


@needs_wordnet
def test_paraphrase_uses_a_common_synonym_inflected_as_the_original(nlp):
    synonyms = dc.wordnet_synonyms()
    doc = nlp("The ministry bought two cars.")
    out = dc.synonym_rewrite(doc, synonyms, {"purchase", "automobile"}, random.Random(0), most=2)
    assert out == "The ministry purchased two automobiles."
    assert dc.synonym_rewrite(doc, synonyms, set(), random.Random(0)) is None  # no common synonym


@needs_wordnet
def test_held_out_cases_come_from_other_texts_with_another_seed(nlp):
    train = [{"premise": "Washington offered talks to Moscow on Monday.", "hypothesis": "The United States offered talks.",
              "label": "entailment"}] * 3
    held = [{"premise": "Paris rejected the plan in Brussels on Friday.", "hypothesis": "France rejected the plan.",
             "label": "entailment"}] * 3
    a = dc.generate(train, seed=13, per_kind=5, vocabulary=set(), synonyms=None)
    b = dc.generate(held, seed=14, per_kind=5, vocabulary=set(), synonyms=None)
    assert a and b
    train_texts = {t for r in a for t in (r["premise"], r["hypothesis"])}
    assert not any("Washington" in t or "Moscow" in t for r in b for t in (r["premise"], r["hypothesis"]))
    assert all(r["source"].startswith("desk:") for r in a + b)
    assert dc.generate(train, seed=13, per_kind=5, vocabulary=set(), synonyms=None) == a  # a pure function
    assert train_texts
