"""Unit tests of verify.pipeline.evidence: numbers, dates, negation, mismatches, entities and quotes."""
from __future__ import annotations

import pytest

from verify.pipeline import evidence
from verify.pipeline.evidence import (
    Mismatch,
    dates,
    entities,
    entity_mismatches,
    fill_bounds,
    meets,
    mismatches,
    negated,
    normalise,
    numbers,
    quantities,
    quote_match,
    quotes,
    whens,
)


def kinds(found: list[Mismatch]) -> list[str]:
    return [m.kind for m in found]


# --- numbers ----------------------------------------------------------------------------------

def test_numbers_reads_thousands_separators():
    assert numbers("NATO will send 10,000 troops.") == {10000.0: "10,000 troops"}
    assert numbers("a budget of 1,250,000 euros") == {1250000.0: "1,250,000 euros"}


def test_numbers_applies_scale_words():
    assert numbers("2 million people fled") == {2_000_000.0: "2 million people"}
    assert numbers("a 1.5 billion dollars package")[1.5e9] == "1.5 billion dollars"
    assert 5000.0 in numbers("5 thousand soldiers")


def test_numbers_reads_word_numbers():
    assert numbers("Russia sent three battalions.") == {3.0: "three battalions"}
    assert numbers("a dozen ships sailed") == {12.0: "dozen ships"}


def test_numbers_excludes_years():
    assert numbers("In 2022 the alliance sent 40 jets.") == {40.0: "40 jets"}
    assert numbers("The 1999 enlargement was debated.") == {}


def test_numbers_does_not_count_dates():
    assert numbers("They met on January 26 in Geneva.") == {}
    assert numbers("They met on 26 January 2022.") == {}
    assert numbers("On January 26 they offered 12 inspections.") == {12.0: "12 inspections"}


def test_numbers_needs_a_standalone_number():
    assert numbers("No quantity here at all.") == {}
    assert numbers("model T34x2") == {}


def test_word_number_with_a_scale_word():
    assert 10000.0 in numbers("Russia massed ten thousand troops.")
    assert "number" not in kinds(mismatches("Russia massed ten thousand troops.", "Russia massed 10,000 troops."))


def test_digit_with_scale_word_is_not_also_a_word_number():
    assert numbers("5 thousand troops") == {5000.0: "5 thousand troops"}
    assert "number" in kinds(mismatches("Russia massed 5 thousand troops.", "Russia massed 1,000 troops."))


# --- dates --------------------------------------------------------------------------------------

def test_dates_keys_month_day_and_years():
    assert dates("They met on January 26.") == {"january 26": "January 26"}
    assert dates("They met on 26 January.") == {"january 26": "26 January"}
    assert dates("They met on January 26th, 2022.") == {"january 26 2022": "January 26th, 2022"}
    assert dates("They met on 26 January 2022.") == {"january 26 2022": "26 January 2022"}
    assert dates("Talks began in 2021.") == {"2021": "2021"}
    assert dates("No date in this sentence.") == {}


def test_day_first_date_with_ordinal():
    assert dates("They met on 26th January.") == {"january 26": "26th January"}
    assert numbers("They met on 26th January.") == {}


def test_dates_in_either_order_are_the_same_date():
    assert set(dates("on 5 March")) == set(dates("on March 5th")) == {"march 5"}


# --- negation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "We will not halt the enlargement.", "We won't halt the enlargement.", "We don't accept that.",
    "NATO never agreed.", "Washington cannot accept it.", "The United States rules out a moratorium.",
    "Washington ruled out a moratorium.", "Moscow rejected the offer.", "The ministry refused to comment.",
    "Nobody signed the text.",
])
def test_negated(text):
    assert negated(text)


@pytest.mark.parametrize("text", [
    "We will halt the enlargement.", "The alliance door remains open.", "A notable Nobel laureate spoke.",
    "Another round of talks is planned.", "They know the rules.",
])
def test_not_negated(text):
    assert not negated(text)


def test_declines_is_a_negation():
    assert negated("The ministry declines to comment on the proposal.")


# --- mismatches -----------------------------------------------------------------------------------

def test_number_mismatch_is_shown_side_by_side():
    found = mismatches("NATO will send 10,000 troops to the region.", "NATO will send 100,000 troops to the region.")
    assert found == [Mismatch("number", "10,000 troops", "100,000 troops")]
    assert str(found[0]) == "number: claim 10,000 troops / official 100,000 troops"


def test_equal_numbers_give_no_mismatch():
    assert mismatches("NATO will send 10,000 troops.", "NATO will send 10,000 troops to the east.") == []
    assert mismatches("They sent 10 thousand troops.", "They sent 10,000 troops.") == []


def test_a_number_on_one_side_only_is_no_mismatch():
    assert "number" not in kinds(mismatches("They sent 10,000 troops.", "They sent troops."))


def test_none_of_a_thing_the_other_side_counts_is_a_number_mismatch():
    official = "Only one OSCE country has invaded two of its neighbors, and that is Russia."
    assert Mismatch("number", "No OSCE", "one OSCE") in mismatches("No OSCE country has invaded its neighbours.", official)
    # either side may say none, and digits count as words do
    assert Mismatch("number", "100,000 troops", "no troops") in mismatches(
        "Russia has 100,000 troops near Ukraine.", "Russia has no troops near Ukraine.")
    assert mismatches("There are no new proposals.", "The US made two new proposals.")[0] == \
        Mismatch("number", "no new proposals", "two new proposals")


def test_none_is_no_mismatch_with_a_count_of_something_else():
    assert "number" not in kinds(mismatches("NATO has no plans to deploy.", "NATO will deploy two brigades."))
    assert "number" not in kinds(mismatches("There are no new troops.", "There are two new brigades."))
    # "no one", "no longer", "no more than" are not counts of none
    assert "number" not in kinds(mismatches("No one saw three ships.", "One officer saw three ships."))
    assert "number" not in kinds(mismatches("No more than 5 ships came.", "5 ships came."))
    assert "number" not in kinds(mismatches("It is no longer two talks.", "There are two talks."))
    # the thing counted is said differently ("votes against" / "votes in favour"), or the
    # other sentence says none of something itself
    claim = "The resolution was adopted with no votes against."
    assert "number" not in kinds(mismatches(claim, "It was adopted with 20 votes in favour and 12 abstentions."))
    assert "number" not in kinds(mismatches(claim, "It was adopted with 13 votes in favour, none against."))


def test_date_mismatch_of_the_same_kind():
    assert mismatches("The talks happened on January 26.", "The talks happened on January 27.") == \
        [Mismatch("date", "January 26", "January 27")]
    assert mismatches("The talks happened in 2021.", "The talks happened in 2022.") == \
        [Mismatch("date", "2021", "2022")]


def test_dates_of_different_kinds_do_not_disagree():
    assert mismatches("The talks happened on January 26.", "The talks happened in 2022.") == []
    assert mismatches("The talks happened on 26 January.", "The talks happened on January 26.") == []


def test_same_day_of_different_years_disagrees():
    assert "date" in kinds(mismatches("The talks are on January 26, 2022.", "The talks are on January 26, 2023."))


def test_polarity_mismatch():
    assert mismatches("We will halt the enlargement.", "We will not halt the enlargement.") == \
        [Mismatch("polarity", "affirmed", "negated")]
    assert mismatches("We will not halt the enlargement.", "We will halt the enlargement.") == \
        [Mismatch("polarity", "negated", "affirmed")]


def test_rules_out_is_a_polarity_mismatch():
    assert "polarity" in kinds(mismatches("Washington will consider a moratorium.",
                                          "Washington rules out a moratorium."))


def test_same_polarity_gives_no_mismatch():
    assert mismatches("We will not halt the enlargement.", "We won't halt the enlargement.") == []


def test_several_mismatches_at_once():
    found = kinds(mismatches("They will send 5 ships on March 3.", "They will not send 7 ships on March 9."))
    assert found == ["number", "date", "polarity"]


# --- entities (spaCy) ------------------------------------------------------------------------------

def test_entities_by_kind_with_canonical_names():
    found = entities("NATO will deploy troops to Romania.")
    assert found["place"] == {"romania": "Romania"}
    assert found["organisation"] == {"nato": "NATO"}


def test_aliases_share_a_canonical_name():
    assert set(entities("The alliance offered talks to Moscow.")["place"]) == {"russia"}
    assert set(entities("The alliance offered talks to Russia.")["place"]) == {"russia"}


def test_different_places_are_an_entity_mismatch():
    found = entity_mismatches("NATO will deploy troops to Romania.", "NATO will deploy troops to Poland.")
    assert found == [Mismatch("entity", "Romania", "Poland")]
    assert "entity" in kinds(mismatches("NATO will deploy troops to Romania.", "NATO will deploy troops to Poland."))


def test_surname_and_full_name_are_one_person():
    assert entity_mismatches("Blinken said the door remains open.", "Antony Blinken said the door remains open.") == []


def test_capital_and_country_are_one_place():
    assert entity_mismatches("The alliance offered talks to Moscow.", "The alliance offered talks to Russia.") == []


def test_a_kind_named_on_one_side_only_is_no_mismatch():
    assert entity_mismatches("NATO will deploy troops to Romania.", "NATO will deploy more troops.") == []


def test_no_capitalised_name_skips_the_model(monkeypatch):
    def refuse():
        raise AssertionError("spaCy was loaded for a sentence without names")

    monkeypatch.setattr(evidence, "_spacy", refuse)
    monkeypatch.setattr(evidence, "_ENTITIES", {})
    assert entities("the alliance door remains open.") == {}
    assert entities("The door remains open. However, it is not.") == {}
    assert entity_mismatches("the door remains open.", "The door is closed.") == []
    # The stand-in is really in use: a sentence with a name does reach it.
    with pytest.raises(AssertionError, match="spaCy was loaded"):
        entities("Blinken said the door remains open.")


def counting_spacy(monkeypatch) -> list[int]:
    """Count the texts the model tags, one call or one batch at a time."""
    real, seen = evidence._spacy(), []

    class Counting:
        def __call__(self, text):
            seen.append(1)
            return real(text)

        def pipe(self, texts, batch_size=128):
            texts = list(texts)
            seen.extend([1] * len(texts))
            return real.pipe(texts, batch_size=batch_size)

    monkeypatch.setattr(evidence, "_spacy", Counting)
    monkeypatch.setattr(evidence, "_ENTITIES", {})
    return seen


def test_entities_are_cached(monkeypatch):
    seen = counting_spacy(monkeypatch)
    first = entities("Stoltenberg spoke in Brussels.")
    assert entities("Stoltenberg spoke in Brussels.") == first
    assert len(seen) == 1


def test_a_batch_tags_each_new_sentence_once_and_feeds_the_cache(monkeypatch):
    seen = counting_spacy(monkeypatch)
    texts = ["Stoltenberg spoke in Brussels.", "Blinken flew to Geneva.", "no names here at all.",
             "Stoltenberg spoke in Brussels."]
    evidence.warm_entities(texts)
    assert len(seen) == 2  # duplicates and name-less sentences are not tagged
    evidence.warm_entities(texts)
    assert len(seen) == 2  # already known
    assert "geneva" in entities("Blinken flew to Geneva.")["place"]
    assert len(seen) == 2  # served from the batch, not tagged again
    monkeypatch.setattr(evidence, "_ENTITY_CACHE", 2)
    evidence.warm_entities(["Sullivan met Lavrov in Vienna."])
    assert len(evidence._ENTITIES) == 1  # the cache was full: emptied, not grown without end


# --- quotes ---------------------------------------------------------------------------------------

def test_quotes_straight_and_curly():
    text = 'He said "we will never accept that" and added \u201cthe door remains open\u201d today.'
    assert quotes(text) == ["we will never accept that", "the door remains open"]


def test_quotes_guillemets_and_trailing_punctuation_stripped():
    assert quotes("He wrote \u00abthe alliance stays united,\u00bb then left.") == ["the alliance stays united"]
    assert quotes('She said "the talks will continue."') == ["the talks will continue"]


def test_quotes_need_enough_words():
    text = 'He said "never again, ever" today.'
    assert quotes(text) == ["never again, ever"]
    assert quotes(text, min_words=4) == []
    assert quotes('He said "no way" and "nope".') == []  # too short to be a quote at all
    assert quotes("No quotation marks here at all.") == []


# --- normalise and quote_match --------------------------------------------------------------------

def test_normalise():
    assert normalise("  The Door, REMAINS \u201copen\u201d!  ") == "the door remains open"
    assert normalise("NATO\u2019s \uff2e\uff21\uff34\uff2f") == "nato's nato"  # curly apostrophe, full-width letters
    assert normalise("...!!!") == ""


def test_quote_match_verbatim():
    assert quote_match("the alliance door remains open",
                       "We will not halt the enlargement of NATO, and the alliance door remains open.") == 1.0


def test_quote_match_ignores_case_and_punctuation():
    assert quote_match("The Door -- remains, OPEN!", "We say: the door remains open, always.") == 1.0


def test_quote_match_fuzzy_is_below_one():
    ratio = quote_match("the door remained open", "We say: the door remains open, always.")
    assert 0.8 < ratio < 1.0
    assert quote_match("a secret tunnel under the garden", "We say: the door remains open, always.") < 0.7


def test_quote_match_empty_is_zero():
    assert quote_match("", "the door remains open") == 0.0
    assert quote_match("the door remains open", "!!!") == 0.0


def test_a_day_with_a_year_agrees_with_the_same_day_without_one():
    assert mismatches("The talks are on January 26.", "The talks are on January 26, 2022.") == []
    assert "date" in kinds(mismatches("The talks are on January 27.", "The talks are on January 26, 2022."))


def test_different_names_in_otherwise_unrelated_sentences_are_not_a_mismatch():
    # Each names parties the other does not, but they say different things: not one subject.
    claim = "The United States, in consultation with NATO Allies, would notify exercises in advance."
    official = "At a press briefing in Washington, Jake Sullivan said diplomacy with Moscow would continue."
    assert entity_mismatches(claim, official) == []
    # The same sentence with one place swapped is one subject, and the swap is the mismatch.
    assert kinds(mismatches("NATO will station two battalions in Romania next spring.",
                            "NATO will station two battalions in Poland next spring.")) == ["entity"]


def test_only_same_subject_pairs_with_names_reach_the_model(monkeypatch):
    seen = counting_spacy(monkeypatch)
    evidence.warm_entity_pairs([
        ("NATO will station two battalions in Romania.", "Biden met Macron in Paris to discuss energy prices."),
        ("the battalions will stay until spring.", "NATO said the battalions will stay until spring."),
    ])
    assert seen == []  # one pair is about something else, the other claim names nobody
    evidence.warm_entity_pairs([("NATO will station two battalions in Romania.",
                                 "NATO will station two battalions in Poland.")])
    assert len(seen) == 2


# --- same subject, bounded numbers, mismatches that decide -------------------------------------------
from verify.pipeline.evidence import forced_mismatches, same_subject, subject_overlap  # noqa: E402


def test_numbers_after_a_bound_are_not_exact():
    assert numbers("more than 13,000 people and some 100,000 troops") == {100000.0: "100,000 troops"}
    assert numbers("at least five ships") == {}
    assert numbers("a total of less than $ 102.5 million") == {}  # a currency sign between
    assert numbers("a rating lower than 21 %") == {}
    assert numbers("one of the envoys") == {}  # counts nothing


def test_dates_after_a_bound_are_not_exact():
    assert dates("born before 1967") == {} and dates("signed before December 27, 2018") == {}
    assert not any(m.kind == "date" for m in mismatches("She was born before 1967.", "She was born on July 16, 1965."))
    assert any(m.kind == "date" for m in mismatches("The team won the cup in 2014.", "The team won the cup in 2006."))


def test_a_year_is_never_read_as_a_day():
    assert dates("Work began in January 2016.") == {"2016": "2016"}
    assert dates("They met on May 20, 2021.") == {"may 20 2021": "May 20, 2021"}
    assert dates("The 5 mayors met.") == {}
    assert dates("As of May 16 , 2019 , it had 23.9 million likes.") == {"may 16 2019": "May 16 , 2019"}


def test_whens_read_the_bound_of_a_date():
    before, by, after, plain = whens("before 2017, by March 5, after 12 May 2020 and on 26 January")
    assert (before.bound, before.year, before.month) == ("lt", 2017, None)
    assert (by.bound, by.month, by.day, by.year) == ("le", 3, 5, None)
    assert (after.bound, after.year, after.written) == ("gt", 2020, "12 May 2020")
    assert plain.bound is None and plain.written == "26 January"
    assert whens("in force until 2030 and since March 3") == []  # spans of time, not dates of events
    month, alone, verb = whens("began in January 2016, before June, and they may go by May 2020")
    assert (month.year, month.month, month.day, month.bound, month.written) == (2016, 1, None, None, "January 2016")
    assert (alone.year, alone.month, alone.bound) == (None, 6, "lt")
    assert (verb.month, verb.year, verb.bound) == (5, 2020, "le")  # "may" the verb is no month
    assert whens("The plan was criticised by May in parliament.") == []  # a person, not a month
    assert [w.month for w in whens("Troops will leave by June.")] == [6]


@pytest.mark.parametrize("bound, date, expected", [
    ("before 2017", "in January 2016", True),
    ("before 2008", "on 14 February 2008", False),
    ("after 2005", "in 2006", True),
    ("after 2005", "in 2005", False),
    ("by April 4", "on April 4", True),
    ("by April 4", "on April 5", False),
    ("before December 27, 2018", "as of December 26", True),  # the day takes the bound's year
    ("before March 5, 2016", "in 2016", None),  # a year against a day within it
    ("before June", "born 20 March 1963", True),  # a month alone takes the day's year
    ("before February 2016", "in January 2016", True),
    ("before January 2016", "in January 2016", False),
    ("before 2017", "in December 2016", True),
    ("before 2017", "on January 26", None),  # a day with no year against a year
])
def test_a_date_meets_a_bound_or_breaks_it_or_cannot_say(bound, date, expected):
    [b], [d] = whens(bound), whens(date)
    assert meets(b, d) is expected


def test_a_date_bound_the_official_sentence_meets_is_written_as_its_date():
    official = "The theme was released on 13 May 2016. The band began work on the album in January 2016."
    assert fill_bounds("The band started the album before 2017.", official) == "The band started the album in 2016."
    official = "As of December 26, 2018, the film has grossed $ 102.3 million worldwide."
    assert (fill_bounds("The film grossed less than $ 102.5 million before December 27, 2018.", official)
            == "The film grossed $ 102.3 million as of December 26, 2018.")
    # of several days, the one among the claim's words
    official = "The talks opened on January 10, and the reply was delivered on January 26."
    assert fill_bounds("The reply was delivered by January 31.", official) == "The reply was delivered on January 26."
    # a sentence with one date that meets the bound and one that breaks it is left to NLI
    claim = "The reply was delivered by January 20."
    assert fill_bounds(claim, official) == claim
    assert not [m for m in mismatches(claim, official) if m.kind == "date"]
    # a bound the sentence breaks stays, and is a date mismatch
    claim = "She retired before 2008."
    assert fill_bounds(claim, "She retired on 14 February 2008.") == claim
    [m] = [m for m in mismatches(claim, "She retired on 14 February 2008.") if m.kind == "date"]
    assert (m.claim, m.official) == ("before 2008", "14 February 2008")


def test_a_date_bound_is_no_mismatch_when_any_date_meets_it_or_none_compares():
    assert not [m for m in mismatches("England held the trophy before 2013.", "England won it in 2011 and 2013.")
                if m.kind == "date"]
    assert not [m for m in mismatches("The deal was signed after 2015.", "The deal was signed on March 3.")
                if m.kind == "date"]
    assert not [m for m in mismatches("The treaty is in force until 2030.", "The treaty was signed in 2031.")
                if m.kind == "date"]


def test_a_number_bound_no_official_number_of_the_same_thing_meets_is_a_mismatch():
    [m] = [m for m in mismatches("NATO will send more than 10,000 troops.", "NATO will send 5,000 troops.")
           if m.kind == "number"]
    assert (m.claim, m.official) == ("more than 10,000", "5,000 troops")
    def number_kinds(claim, official):
        return [m for m in mismatches(claim, official) if m.kind == "number"]
    # met by one of the sentence's numbers, of another thing, or by an overlapping bound: no mismatch
    assert not number_kinds("It sold more than 18 million records.", "It sold 20 million records and 3 million records.")
    assert not number_kinds("NATO will send more than 10,000 troops.", "NATO will send 5,000 tanks.")
    assert not number_kinds("Fewer than 4,800 deaths were recorded.", "More than 4,700 deaths were recorded.")
    assert not number_kinds("She played a student below 17 years.", "She played a 16-year-old student and a 32 year old.")
    assert number_kinds("Fewer than 4,800 deaths were recorded.", "More than 4,900 deaths were recorded.")


def test_a_name_written_in_the_official_sentence_is_not_missing_from_it():
    # the small model tags "Jones" in the claim but not in the official sentence
    claim = "Jones attended his father's 60th birthday party in 2001."
    official = ("Jones was one of several cameramen at his father's 60th birthday party, directed by Maria Olsen "
                "at the Royal Hall in 2001.")
    assert entities(claim) == {"person": {"jones": "Jones"}} and "jones" not in entities(official).get("person", {})
    assert entity_mismatches(claim, official) == []


def test_quantities_read_bounds_and_what_they_count():
    more, pct, money = quantities("more than 18 million records, under 55 % and at least $ 3.5 billion")
    assert (more.low, more.high, more.low_open, more.unit) == (18e6, float("inf"), True, "record")
    assert (pct.high, pct.high_open, pct.unit) == (55, True, "%")
    assert (money.low, money.low_open, money.unit) == (3.5e9, False, "$")
    assert quantities("nearly 100 ships") == []  # an approximation, not a bound
    [teen, adult] = quantities("a 16-year-old student and a 32 year old survivor")
    assert (teen.low, teen.unit, adult.unit) == (16, "year", "year")
    [most], [least] = quantities("no more than 5 ships"), quantities("not fewer than 5 ships")
    assert (most.low, most.high, least.low, least.high) == (float("-inf"), 5, 5, float("inf"))
    [exact] = quantities("2,013 deaths")
    assert exact.exact and exact.within(more) is False and exact.within(quantities("fewer than 2,015 deaths")[0])


def test_a_bound_the_official_sentence_meets_is_written_as_its_number():
    official = "The film has grossed $ 14.5 million at home and a total of $ 30.1 million, from 184 reviews."
    assert fill_bounds("It grossed less than $ 31 million.", official) == "It grossed $ 30.1 million."
    assert fill_bounds("It was rated on more than 68 reviews.", official) == "It was rated on 184 reviews."
    # a bound the sentence breaks, or a number of something else, stays for NLI and the mismatch rules
    assert fill_bounds("It grossed more than $ 31 million.", official) == "It grossed more than $ 31 million."
    assert fill_bounds("It had fewer than 20 cinemas.", official) == "It had fewer than 20 cinemas."
    # "approximately 100,000" is exact; "more than 100,000" is not met by it
    claim = "More than 100,000 soldiers are on the border."
    assert fill_bounds(claim, "Approximately 100,000 soldiers are on the border.") == claim
    # a bound within the claim's is written with its bound; an exact number is preferred to it
    assert fill_bounds("It sold more than 18 million records.", "Sales of over 20 million records.") == \
        "It sold over 20 million records."
    assert fill_bounds("It sold more than 18 million records.", "Over 20 million records, 19 million records.") == \
        "It sold 19 million records."
    assert fill_bounds("It sold more than 18 million records.", "Under 20 million records.") == \
        "It sold more than 18 million records."
    # a sentence with a number of that unit that breaks the bound leaves it to NLI
    official = "It grossed $ 74.8 million at home and $ 18.6 million abroad, a worldwide total of $ 93.4 million."
    assert fill_bounds("It earned less than $ 93.25 million worldwide.", official) == \
        "It earned less than $ 93.25 million worldwide."


def test_same_subject_is_the_share_of_the_claims_words_in_the_official_sentence():
    claim = "None of the documents were officially released publicly."
    official = "He explained that Washington would not release the document publicly."
    assert subject_overlap(claim, official) == pytest.approx(0.75)  # document, releas, public of 4
    assert same_subject(claim, official) and not same_subject(claim, "The talks resumed in Geneva on Monday.")


def test_forced_mismatches_need_the_rest_of_the_claim_in_the_official_sentence():
    found = forced_mismatches(["About 10,000 Russian soldiers are on the border with Ukraine."],
                              ["There are about 100,000 soldiers on the Russian side of the border with Ukraine."])
    assert [(m.kind, m.claim, m.official) for m in found] == [("number", "10,000 Russian", "100,000 soldiers")]
    # same number kind, different subject: an insurgency's dead are not the troops at the border
    assert forced_mismatches(["About 10,000 Russian soldiers are on the border with Ukraine."],
                             ["More than 13,000 people have died in the insurgency in eastern Ukraine."]) == []
    # polarity is for the NLI model to judge, never forced
    assert forced_mismatches(["Washington will release the document."],
                             ["Washington will not release the document."]) == []
    # "no" against a count of the same thing forces; against a count of something else it cannot
    official = "Only one OSCE country has invaded two of its neighbors and stationed forces on the territory of others."
    assert [(m.kind, m.claim, m.official) for m in forced_mismatches(
        ["No OSCE country has invaded its neighbours."], [official])] == [("number", "No OSCE", "one OSCE")]
    assert forced_mismatches(["No country has stationed troops abroad."], [official]) == []
    # a clause of a long official sentence can carry the mismatch
    assert forced_mismatches(["The talks began on January 26."],
                             ["The talks began on January 14.", "The talks began on January 14."])[0].kind == "date"


def test_an_acronym_and_its_spelled_out_name_are_one_entity():
    assert not entity_mismatches("The IPCC said warming is accelerating fast.",
                                 "The Intergovernmental Panel on Climate Change said warming is accelerating fast.")
    assert entity_mismatches("The IPCC said warming is accelerating fast.",
                             "The World Meteorological Organization said warming is accelerating fast.")
