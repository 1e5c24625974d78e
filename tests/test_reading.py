"""Reading as a desk reads: aliases to one canonical name, frames off, words aligned."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from verify.pipeline.aliases import Aliases
from verify.pipeline.align import Aligner, content_words, names
from verify.pipeline.reading import Reader, split_speech

SPEAKERS = [
    {"name": "Jens Stoltenberg", "affiliation": "NATO", "role": "Secretary General"},
    {"name": "Julianne Smith", "affiliation": "US", "role": "ambassador to NATO"},
    {"name": "Michael Carpenter", "affiliation": "US", "role": "the US ambassador to the OSCE"},
]


@pytest.fixture(scope="module")
def aliases():
    return Aliases.default().with_speakers(SPEAKERS)


@pytest.fixture(scope="module")
def reader(aliases):
    return Reader(aliases)


@pytest.mark.parametrize("alias, canonical", [
    ("Washington", "United States"), ("the U.S.", "United States"), ("America", "United States"),
    ("the White House", "United States"), ("Moscow", "Russia"), ("the Kremlin", "Russia"),
    ("Kyiv", "Ukraine"), ("Kiev", "Ukraine"), ("the Alliance", "NATO"), ("Beijing", "China"),
    ("Tokyo", "Japan"), ("Britain", "United Kingdom"),
])
def test_capitals_seats_and_short_forms_are_their_state(aliases, alias, canonical):
    assert aliases.entities(f"{alias} said so.") == {canonical}


def test_demonyms_and_country_names_come_from_the_country_package(aliases):
    # Not in verify's own data file: these come from countryinfo.
    assert aliases.entities("Mongolian officials met in Ulaanbaatar.") == {"Mongolia"}
    assert aliases.canonical("Japanese") == "Japan"


def test_a_capital_inside_a_longer_name_is_not_the_state(aliases):
    assert aliases.normalise("The Washington Treaty binds the allies.") == "The Washington Treaty binds the allies."


@pytest.mark.parametrize("text", ["Trade with North America grew.", "North America is one market.",
                                  "Latin American leaders met in Brasilia."])
def test_a_short_form_or_demonym_inside_a_region_is_not_the_state(aliases, text):
    assert aliases.normalise(text) == text
    assert "United States" not in aliases.entities(text)


def test_a_native_name_that_is_an_english_word_is_not_an_alias(aliases):
    # countryinfo spells Iceland "Island" and Réunion "Reunion"
    assert aliases.normalise("Tabarka Island is part of Tunisia.") == "Tabarka Island is part of Tunisia."
    assert aliases.entities("The Reunion Tour sold out.") == set()
    assert aliases.canonical("Iceland") == "Iceland"


def test_a_weekday_month_or_function_word_before_a_capital_does_not_make_a_longer_name(aliases):
    assert aliases.normalise("On Monday Moscow said no.") == "On Monday Russia said no."
    assert aliases.normalise("In January Washington replied.") == "In January the United States replied."
    # a short form is followed by what it qualifies; it is still the state
    assert aliases.entities("U.S. Secretary of State Antony Blinken spoke.") == {"United States"}
    # an English word that starts the sentence is no first name; a first name is
    assert aliases.normalise("Yesterday Moscow said no.") == "Yesterday Russia said no."
    assert aliases.normalise("George Washington was the first president.") == \
        "George Washington was the first president."


def test_roles_read_as_the_speaker_who_holds_them(aliases):
    assert aliases.entities("NATO's secretary general spoke.") == {"Jens Stoltenberg"}
    assert aliases.entities("America's ambassador to NATO spoke.") == {"Julianne Smith"}
    assert aliases.entities("The U.S. envoy to the OSCE spoke.") == {"Michael Carpenter"}


def test_a_title_two_people_share_names_nobody():
    shared = Aliases.default().with_speakers([
        {"name": "Ann One", "affiliation": "US", "role": "spokesperson"},
        {"name": "Bob Two", "affiliation": "US", "role": "spokesperson"}])
    assert "Ann One" not in shared.entities("The US spokesperson spoke.")


def test_metonymy_reads_as_the_state(reader):
    a = reader.claim("Washington is ready to discuss limits on military exercises in Europe.")
    b = reader.claim("The United States is ready to discuss limits on military exercises in Europe.")
    assert a.nli == b.nli


def test_document_frames_and_speech_frames_come_off(reader):
    r = reader.claim("The leaked reply says the Kremlin rejected the offer.")
    assert r.frame and r.nli == "Russia rejected the offer."
    assert split_speech("Sullivan said the risk of an invasion was high.") == (
        "Sullivan", "The risk of an invasion was high.")
    r = reader.claim("America's ambassador to NATO said the talks could cover mutual limits.")
    assert r.speaker_entity == "Julianne Smith" and r.nli == "The talks could cover mutual limits."


def test_a_document_as_agent_reads_as_its_author_or_the_side_it_is_compared_with(reader, aliases):
    assert reader.claim("The U.S. reply proposes new measures.").nli == "The United States proposes new measures."
    unnamed = reader.claim("The leaked reply also proposes new measures.")
    assert unnamed.author == ""
    assert unnamed.as_read_by("US", aliases) == "The United States proposes new measures."  # "also" is the report's
    assert unnamed.as_read_by(None, aliases) == unnamed.nli


def test_we_in_an_official_sentence_is_the_speakers_side(reader):
    r = reader.official("We will not release the document, Blinken said.", "Antony Blinken", "US")
    assert r.nli == "The United States will not release the document." and r.speaker == "Blinken"


class WordVectors:
    """Word embeddings that put listed synonyms together and everything else apart."""

    SAME = [{"limits", "restrictions"}, {"soldiers", "troops"}]

    def __call__(self, words):
        out = []
        for w in words:
            group = next((i for i, g in enumerate(self.SAME) if w in g), None)
            v = np.zeros(4096, dtype=np.float32)
            v[group if group is not None else 10 + zlib.crc32(w.encode()) % 4000] = 1.0
            out.append(v)
        return np.array(out)


def test_alignment_matches_names_lemmas_and_meaning():
    aligner = Aligner(WordVectors())
    full = aligner.align("The United States will discuss limits on exercises.",
                         "The United States is ready to talk about restrictions on military exercises.")
    assert "limits" not in full.unmatched and "exercises" not in full.unmatched
    assert full.unmatched == ["discuss"] and full.score == 0.75  # united states, limits, exercises of four
    lemma = aligner.align("Blinken talked to Lavrov.", "Antony Blinken talks with Sergei Lavrov.")
    assert lemma.score == 1.0
    apart = aligner.align("The reply was drafted without consulting Ukraine.",
                          "Washington's budget for farming rose.")
    assert apart.score < 0.5


class NearNames(WordVectors):
    """Two country names as close as a sentence embedder puts them (Ukraine / Russia: 0.75)."""

    SAME = WordVectors.SAME + [{"ukraine", "russia"}, {"decide", "choose"}]


def test_a_name_matches_only_itself_never_a_name_close_in_meaning():
    aligner = Aligner(NearNames())
    # "Ukraine" is not "Russia", however close the two are as words; "decide" is "choose"
    a = aligner.align("Third parties cannot decide on Ukraine.", "Only Russia can choose.")
    assert "ukraine" in a.unmatched and "decide" not in a.unmatched
    # a country the alias table knows is a name even where it is an English word
    assert {"china", "ukraine"} <= names("China and Ukraine talk.")
    # the first word of a sentence is capitalised anyway: no name unless the table knows it
    assert "evaluators" not in names("Evaluators had to settle for less.")
    assert "russia" in names("Russia wants a deal.")


def test_a_possessive_ends_a_name_and_hyphens_do_not_hide_one():
    assert content_words("NATO\u2019s Open Door Policy stands.") == ["nato", "open door policy", "stands"]
    a = Aligner(None).align("NATO\u2019s Open Door Policy stands.", "NATO keeps its open-door policy, which stands.")
    assert a.score == 1.0


def test_contracted_negations_and_pronouns_carry_no_subject():
    # "isn't" is a negation and "them" a pronoun: neither is a word the sentence must match
    assert content_words("This isn't how we feel about them.") == ["feel"]
    assert content_words("We won't have spheres of influence, you'll see.") == ["spheres", "influence", "see"]
    assert Aligner().align("Russia doesn't want them.", "Russia wants a deal.").score == 1.0


def test_without_word_vectors_only_names_and_lemmas_match():
    aligner = Aligner(None)
    assert aligner.align("limits on exercises", "restrictions on exercises").unmatched == ["limits"]
    words = content_words("The U.S. will not accept it.")
    assert "accept" in words and not {"will", "not", "the"} & set(words)


def test_what_a_speaker_said_of_itself_reads_as_the_speaker(reader):
    assert reader.claim("Washington says it favours diplomacy and is ready to move forward.").nli == \
        "The United States favours diplomacy and is ready to move forward."
    # "it" before "was" names nobody: left alone
    assert reader.claim("NATO said it was not the time to sit down with Russia.").nli == \
        "It was not the time to sit down with Russia."


def test_a_verb_with_a_plain_object_is_an_act_not_a_frame(reader):
    assert reader.claim("Washington announced new sanctions on Russian banks.").nli == \
        "The United States announced new sanctions on Russian banks."
    assert reader.claim("Washington announced that new sanctions would follow.").nli == "New sanctions would follow."
    # a document that suggests something proposes it; one that suggests that ... frames it
    assert reader.claim("The document suggests a joint working group with Russia.").as_read_by("US", reader.aliases) \
        == "The United States suggests a joint working group with Russia."
    assert reader.claim("The document suggests that talks will resume.").nli == "Talks will resume."


def test_a_possessive_document_reads_as_its_owner_and_a_verb_is_not_a_title(reader):
    assert reader.claim("Washington's reply asks Moscow to release detained citizens.").nli == \
        "The United States asks Russia to release detained citizens."
    assert reader.claim("Washington wrote its reply without consulting its allies.").nli == \
        "The United States wrote its reply without consulting its allies."


def test_a_capital_as_a_place_stays_a_place(aliases):
    assert aliases.normalise("Talks will be held in Helsinki, and Moscow agreed.") == \
        "Talks will be held in Helsinki, and Russia agreed."
    assert aliases.normalise("He met them at the Kremlin.") == "He met them at the Kremlin."


def test_a_role_beside_its_name_leaves_the_name_once(aliases):
    assert aliases.normalise("NATO Secretary General Jens Stoltenberg went over it.") == "Jens Stoltenberg went over it."
    assert aliases.normalise("It is a crisis, Michael Carpenter, the U.S. envoy to the OSCE, said.") == \
        "It is a crisis, Michael Carpenter said."
    assert aliases.normalise("It is a crisis, the U.S. envoy to the OSCE, Michael Carpenter, said.") == \
        "It is a crisis, Michael Carpenter said."


def test_contracted_we_reads_as_the_side(reader):
    assert reader.official("We've addressed it, and we're ready.", "Antony Blinken", "US").nli == \
        "The United States have addressed it, and the United States are ready."
