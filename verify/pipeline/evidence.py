"""Features of a (claim, official sentence) pair beyond NLI: mismatches and quotes.

A small NLI model often misses "10,000 troops" vs "100,000 troops" or "will" vs "will
not" on otherwise identical sentences. These checks are cheap, exact and explainable:
each mismatch is shown side by side ("claim: 10,000 troops / official: 100,000 troops").
"No" is a number too, of the thing it qualifies: "no OSCE country" against "one OSCE
country" (``none_against_count``).
A bound is a range, of numbers ("more than 18 million") or of dates ("before 2017"): one the
official sentence meets is written as the official's value before NLI (``fill_bounds``), and
a bound that no official number or date meets is a mismatch (``number_bound_mismatch``,
``date_bound_mismatch``).
Named entities (people, places, organisations) come from spaCy's small English model,
loaded on first use and only for sentences that contain a capitalised name.
"""
from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from verify.pipeline.thresholds import Thresholds

_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40,
                 "fifty": 50, "hundred": 100, "thousand": 1000, "dozen": 12}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
# The counted word follows a space ("10,000 troops") or a hyphen ("a 16-year-old": "year").
_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion))?"
                  r"(?:\s+([a-z][a-z\-]+)|-([a-z]+)(?:-[a-z]+)*)?", re.I)
_WORDNUM = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")(?:\s+(hundred|thousand|million|billion|trillion))?"
                      r"\s+([a-z][a-z\-]+)", re.I)
_MONTHS = ("january february march april may june july august september october november december").split()
# The day is never the first digits of a year ("January 2016" is 2016, not January 20); its
# year may follow a spaced comma, as in tokenised text ("May 16 , 2019").
_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(?!\d)(?:st|nd|rd|th)?(?:\s?,?\s+(\d{4}))?"
                   r"|\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?("
                   + "|".join(_MONTHS) + r")\b(?:\s+(\d{4}))?|\b(19\d\d|20\d\d)\b", re.I)
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|can't|won't|"
                       r"n't|refuse[sd]?|refusing|reject(?:s|ed)?|rule[sd]? out|deny|denie[sd]|"
                       r"declin(?:e|es|ed|ing))\b|n't\b",
                       re.I)
_QUOTE = re.compile(r"[\"“”„«»]([^\"“”„«»]{8,400})[\"“”„«»]")


@dataclass
class Mismatch:
    kind: str  # number | date | entity | polarity
    claim: str
    official: str

    def __str__(self) -> str:
        return f"{self.kind}: claim {self.claim} / official {self.official}"


# "more than 13,000" agrees with "more than 1,300" and with "20,000": a number after a bound
# is not an exact quantity, so it is never a mismatch. Bounds by direction (``Quantity``);
# "nearly" and "almost" approximate: neither exact nor a bound. A currency sign may stand
# between: "less than $ 102.5 million".
_BOUNDS = {"gt": "more than|greater than|higher than|over|above|exceeding|upwards of",
           "ge": "at least|as many as|no (?:fewer|less) than|not (?:fewer|less) than",
           "lt": "less than|fewer than|lower than|under|below", "le": "at most|up to|as few as|no more than|not more than"}
_BEFORE_NUMBER = r")\s*(?:[$€£¥]\s*)?$"
_BOUND = re.compile(r"\b(?:" + "|".join([*_BOUNDS.values(), "nearly|almost"]) + _BEFORE_NUMBER, re.I)
_BOUND_KIND = re.compile(r"\b(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _BOUNDS.items()) + _BEFORE_NUMBER, re.I)
# "before December 27, 2018" agrees with "December 26": a date after a bound is not an exact date.
# Bounds by direction (``When``); "until", "till" and "since" bound a span of time, not the
# date of an event, so they are neither exact nor compared.
_DATE_BOUND = re.compile(r"\b(?:(?P<lt>before|prior to|earlier than)|(?P<gt>after|later than)|(?P<le>by)|"
                         r"until|till|since)\s*$", re.I)


@dataclass(frozen=True)
class Quantity:
    """A number as a range: exact ("20 million views": low = high), or a bound ("more than
    18 million records": above 18 million). ``unit`` says what is counted: a currency sign,
    "%", or the stem of the counted word; None when nothing says. ``start``/``end`` span
    the bound, the currency sign and the number as written; ``written`` is the number with
    the word after it ("100,000 troops"), as a mismatch shows it."""

    low: float
    high: float
    unit: str | None
    start: int
    end: int
    written: str
    low_open: bool = False
    high_open: bool = False

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def within(self, other: Quantity) -> bool:
        """Every value this range allows, ``other`` allows too."""
        above = self.low > other.low or self.low == other.low and (self.low_open or not other.low_open)
        below = self.high < other.high or self.high == other.high and (self.high_open or not other.high_open)
        return above and below


_CURRENCY = re.compile(r"[$€£¥]\s*$")
_PERCENT = re.compile(r"\s*(?:%|percent\b|per cent\b)", re.I)


def quantities(text: str) -> list[Quantity]:
    """Every number in ``text`` with what it counts, exact or bounded (dates, years and
    approximations excluded)."""
    out = []
    inf = float("inf")
    text = _DATE.sub(lambda m: " " * len(m.group(0)), text)
    for m in _NUM.finditer(text):
        raw, scale, word = m.group(1), m.group(2), m.group(3) or m.group(4)
        value = float(raw.replace(",", ""))
        if not scale and "," not in raw and 1900 <= value <= 2100 and "." not in raw:
            continue
        value *= _SCALE[scale.lower()] if scale else 1
        before, end = text[:m.start()], m.end(2) if scale else m.end(1)
        kind = _BOUND_KIND.search(before)
        if kind is None and _BOUND.search(before):
            continue  # "nearly 100"
        currency = _CURRENCY.search(before)
        if currency:
            unit = currency.group(0).strip()
        elif _PERCENT.match(text, end):
            unit = "%"
        else:
            unit = _stem(word.lower()) if word and word.lower() not in _FUNCTION_WORDS else None
        bound = next(k for k, v in kind.groupdict().items() if v) if kind else None
        low, high, low_open, high_open = {
            None: (value, value, False, False), "gt": (value, inf, True, False), "ge": (value, inf, False, False),
            "lt": (-inf, value, False, True), "le": (-inf, value, False, False)}[bound]
        start = kind.start() if kind else currency.start() if currency else m.start()
        out.append(Quantity(low, high, unit, start, end, m.group(0).strip(), low_open, high_open))
    return out


def numbers(text: str) -> dict[float, str]:
    """Exact quantities in ``text`` (years excluded: they are dates; "more than N" is not exact),
    value -> as written."""
    out = {q.low: q.written for q in quantities(text) if q.exact}
    for value, written, _, _ in _word_numbers(text):
        out.setdefault(value, written)
    return out


def _word_numbers(text: str):
    """(value, as written, start, end) of each number written in words: "two brigades"."""
    text = _DATE.sub(lambda m: " " * len(m.group(0)), text)  # "January 26" is a date, not a count
    text = _NUM.sub(lambda m: " " * len(m.group(0)), text)  # "5 thousand": "thousand" is its scale
    for m in _WORDNUM.finditer(text):
        if _BOUND.search(text[:m.start()]) or m.group(0).lower().startswith("one of"):
            continue  # "one of the artists" counts nothing
        value = float(_WORD_NUMBERS[m.group(1).lower()])
        if m.group(2):
            value *= 100 if m.group(2).lower() == "hundred" else _SCALE[m.group(2).lower()]
        yield value, m.group(0), m.start(), m.end(2) if m.group(2) else m.end(1)


# "No OSCE country has invaded" against "only one OSCE country has invaded": "no" counts too,
# zero, but only of the very thing the other sentence counts, said the same way: the counted
# word and the word after it must match ("no votes against" says nothing against "13 votes
# in favour"; "no plans" nothing against "two brigades"). Not "no one", "no longer", "no
# more than 5", "no doubt"; and not against a sentence that says "no" or "none" itself.
_NONE = re.compile(r"\bno(?=\s+[a-z])(?!\s+(?:one|longer|more|fewer|less|later|earlier|sooner|doubt|matter)\b)",
                   re.I)
_ZERO = re.compile(r"\b(?:no|none)\b", re.I)
_COUNTED = re.compile(r"\s+([a-z][a-z\-]+)(?:\s+([a-z][a-z\-]+))?(?:\s+([a-z][a-z\-]+))?", re.I)
_MODIFIERS = frozenset("new other further additional more single such major real serious".split())


def _counted(text: str, start: int, end: int) -> tuple[tuple[str, ...], str] | None:
    """What the number (or "no") at ``text[start:end]`` counts: the stems of the counted word
    and the word after it, past a modifier ("two new brigades left": brigade, left), and
    the count as written ("two new brigades")."""
    m = _COUNTED.match(text, end)
    if m is None:
        return None
    words = [(w or "").lower() for w in m.groups()]
    skip = 1 if words[0] in _MODIFIERS and words[1] else 0
    stems = tuple(_stem(w) for w in words[skip:skip + 2] if w)
    return stems, text[start:m.end(skip + 1)]


def none_against_count(none_side: str, count_side: str) -> tuple[str, str] | None:
    """("no X", "N X") when one text says there is no X and the other counts some X (the
    thing counted and the word after it compared by stem); None otherwise."""
    nones = [c for m in _NONE.finditer(none_side) if (c := _counted(none_side, m.start(), m.end()))]
    if not nones or _ZERO.search(count_side):
        return None  # most pairs: no "no", so the other side's numbers are not read again
    spans = [(q.start, q.end) for q in quantities(count_side) if q.exact and q.low > 0]
    spans += [(start, end) for value, _, start, end in _word_numbers(count_side) if value > 0]
    counted = [c for start, end in spans if (c := _counted(count_side, start, end))]
    for none_stems, none_written in nones:
        for stems, written in counted:
            if stems[0] == none_stems[0] and (len(stems) == 1 or len(none_stems) == 1 or stems[1] == none_stems[1]):
                return none_written, written
    return None


def fill_bounds(claim: str, official: str) -> str:
    """The claim with each bound the official sentence meets written as the official number:
    "grossed less than $ 31 million" against "a total of $ 30.1 million" reads "grossed $ 30.1
    million". A bound within the claim's is written with its bound: "sold more than 18 million
    records" against "sales of over 20 million records" reads "sold over 20 million records".

    NLI models compare numbers badly: they read "less than $ 31 million" against "$ 30.1
    million" as a contradiction. The filled claim says more than the claim (30.1 is less
    than 31), so a sentence that entails it entails the claim; the number itself is checked
    here, exactly. Of several numbers that meet a bound, the closest to it is written; none
    is when another number of the same unit breaks it.
    Dates likewise: "started before 2017" against "began in January 2016" reads "started in
    2016" (``meets``).
    """
    claim = _fill_dates(claim, official)
    out, last = [], 0

    def value(q: Quantity) -> float:
        return q.low if q.low != float("-inf") else q.high

    for q, same in _number_bounds(claim, official):
        met = [o for o in same if o.within(q)]
        # When the sentence also has a number of that unit that breaks the bound, which one
        # the claim means is for NLI to read: "earned less than $ 93.25 million worldwide"
        # against "$ 74.8 million at home, ... a worldwide total of $ 93.4 million".
        if not met or len(met) < len(same):
            continue
        best = min(met, key=lambda o: (not o.exact, abs(value(o) - value(q))))
        out += [claim[last:q.start], official[best.start:best.end]]
        last = q.end
    return "".join(out) + claim[last:] if out else claim


def _number_bounds(claim: str, official: str):
    """Each bound of the claim on a counted thing, with the official sentence's numbers of that thing."""
    theirs = [q for q in quantities(official) if q.unit]
    for q in quantities(claim):
        if not q.exact and q.unit:
            yield q, [o for o in theirs if o.unit == q.unit]


def number_bound_mismatch(claim: str, official: str) -> Mismatch | None:
    """A bound of the claim that no number of the same thing in the official sentence meets,
    where the sentence gives one: "sold more than 160,000 copies" against "has sold 159,500
    copies"."""
    for q, same in _number_bounds(claim, official):
        if not same or any(o.within(q) for o in same):
            continue
        # Two bounds that overlap ("more than 4,700" against "fewer than 4,800") do not disagree.
        if any(not o.exact and max(o.low, q.low) < min(o.high, q.high) for o in same):
            continue
        return Mismatch("number", claim[q.start:q.end], ", ".join(o.written for o in same))
    return None


def _parts(m: re.Match) -> tuple[int | None, int | None, str | None]:
    """(month, day, year as written) of a ``_DATE`` match: a day, with or without its year, or a year."""
    if m.group(1):
        return _MONTHS.index(m.group(1).lower()) + 1, int(m.group(2)), m.group(3)
    if m.group(5):
        return _MONTHS.index(m.group(5).lower()) + 1, int(m.group(4)), m.group(6)
    return None, None, m.group(7)


def dates(text: str) -> dict[str, str]:
    """Dates in ``text``: "january 26", "january 26 2022" when the year is given, or a bare "2022";
    not those after a bound ("before 1967")."""
    out = {}
    for m in _DATE.finditer(text):
        if _DATE_BOUND.search(text[:m.start()]):
            continue
        month, day, year = _parts(m)
        key = f"{_MONTHS[month - 1]} {day}" + (f" {year}" if year else "") if day is not None else year
        out[key] = m.group(0)
    return out


def _same_day(a: str, b: str) -> bool:
    """"january 26" agrees with "january 26 2022"; "january 26 2022" not with "january 26 2023"."""
    (am, ad, *ay), (bm, bd, *by) = a.split(), b.split()
    return (am, ad) == (bm, bd) and (not ay or not by or ay == by)


@dataclass(frozen=True)
class When:
    """A date as written: a day ("January 26", with or without its year), a month or a year, exact or
    after a bound ("before 2017": ``bound`` "lt"; "after": "gt"; "by": "le"). ``start``/``end``
    span the bound and the date; ``written`` is the date alone, as the text has it."""

    year: int | None
    month: int | None
    day: int | None
    bound: str | None
    start: int
    end: int
    written: str


# A month with its year ("January 2016"), or after a bound alone ("before June"): capitalised,
# so that "may" the verb is no month, and never "May" alone ("criticised by May" names a person).
_MONTH_BEFORE_YEAR = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+$", re.I)
_BARE_MONTH = re.compile(r"\b(" + "|".join(m.capitalize() for m in _MONTHS if m != "may") + r")\b(?!\s*\d)")


def whens(text: str) -> list[When]:
    """Every date in ``text`` with its bound, if any: days, months of a year, years, and months
    alone after a bound; dates after "until", "till" or "since" left out."""
    found = []  # (start, end, year, month, day, a month alone)
    for m in _DATE.finditer(text):
        start, (month, day, year) = m.start(), _parts(m)
        if month is None and (month_first := _MONTH_BEFORE_YEAR.search(text[:start])):
            month, start = _MONTHS.index(month_first.group(1).lower()) + 1, month_first.start()
        found.append((start, m.end(), year, month, day, False))
    taken = [(a, b) for a, b, *_ in found]
    found += [(m.start(), m.end(), None, _MONTHS.index(m.group(1).lower()) + 1, None, True)
              for m in _BARE_MONTH.finditer(text) if not any(a <= m.start() < b for a, b in taken)]
    out = []
    for start, end, year, month, day, alone in sorted(found):
        bound_found = _DATE_BOUND.search(text[:start])
        bound = next((k for k, v in bound_found.groupdict().items() if v), "span") if bound_found else None
        if bound == "span" or alone and bound is None:  # a month alone is a date only after a bound
            continue
        out.append(When(int(year) if year else None, month, day, bound, bound_found.start() if bound_found else start,
                        end, text[start:end]))
    return out


def _days(w: When, year: int) -> tuple[date, date] | None:
    """The first and last day ``w`` may mean, in ``year`` when it names none; None if no such day."""
    y = w.year or year
    try:
        if w.month is None:
            return date(y, 1, 1), date(y, 12, 31)
        if w.day is None:
            return date(y, w.month, 1), date(y, w.month, calendar.monthrange(y, w.month)[1])
        return (date(y, w.month, w.day),) * 2
    except ValueError:  # "February 30"
        return None


def meets(bound: When, exact: When) -> bool | None:
    """Whether the date ``exact`` falls within ``bound`` ("January 2016" within "before 2017"):
    True, False, or None when they cannot be compared (a day with no year against a year, or
    a year against a bound on a day within it)."""
    if (bound.month is None) != (exact.month is None) and (bound.year is None or exact.year is None):
        return None
    # A day with no year takes the other date's; two such days are compared in a leap year.
    year = bound.year or exact.year or 2000
    b, e = _days(bound, year), _days(exact, year)
    if b is None or e is None:
        return None
    if bound.bound == "lt":
        return True if e[1] < b[0] else False if e[0] >= b[0] else None
    if bound.bound == "gt":
        return True if e[0] > b[1] else False if e[1] <= b[1] else None
    return True if e[1] <= b[1] else False if e[0] > b[1] else None  # "by": on or before


def _fill_dates(claim: str, official: str) -> str:
    """The claim with each date bound the official sentence meets written as the official date:
    its year for a bound on a year ("in 2016"), else the day after the official's own
    preposition ("as of December 26, 2018") or "on"."""
    out, last = [], 0
    for w, theirs, said in _date_bounds(claim, official):
        met = [o for o, m in zip(theirs, said) if m]
        if not met or False in said:  # a date that breaks the bound: which one the claim means is for NLI
            continue
        if w.month is None:
            years = {o.year for o in met if o.year}
            if len(years) != 1:
                continue
            filled = f"in {years.pop()}"
        else:
            # Of several days the sentence gives, the one whose clause shares most of the claim's words.
            o = max(met, key=lambda o: len(content_stems(_around(official, theirs, o)) & content_stems(claim)))
            before = re.search(r"\b(as of|on|in|by|during)\s*$", official[:o.start], re.I)
            filled = f"{before.group(1).lower() if before else 'on'} {o.written}"
        out += [claim[last:w.start], filled[0].upper() + filled[1:] if claim[w.start].isupper() else filled]
        last = w.end
    return "".join(out) + claim[last:] if out else claim


def _around(text: str, found: list[When], w: When) -> str:
    """The part of ``text`` that is about the date ``w`` of the dates ``found`` in it: up to the
    dates either side, cut at the last punctuation between (else halfway)."""
    def cut(a: int, b: int) -> int:
        gap = text[a:b]
        stops = [i for i, ch in enumerate(gap) if ch in ",;:."]
        return a + (stops[-1] if stops else len(gap) // 2)

    i = found.index(w)
    start = cut(found[i - 1].end, w.start) if i else 0
    end = cut(w.end, found[i + 1].start) if i + 1 < len(found) else len(text)
    return text[start:end]


def _date_bounds(claim: str, official: str):
    """Each date bound of the claim, with the official sentence's dates and whether each meets it."""
    theirs = [w for w in whens(official) if w.bound is None]
    for w in whens(claim):
        if w.bound is not None:
            yield w, theirs, [meets(w, o) for o in theirs]


def date_bound_mismatch(claim: str, official: str) -> Mismatch | None:
    """A date bound of the claim that no date of the official sentence meets, where some can
    be compared with it: "retired before 2008" against "retired in 2008"."""
    for w, theirs, said in _date_bounds(claim, official):
        if False in said and True not in said:
            return Mismatch("date", claim[w.start:w.end], ", ".join(o.written for o, v in zip(theirs, said)
                                                                     if v is False))
    return None


# Entity types whose disagreement means a different subject or place, and spellings of one
# name that must not count as disagreeing.
_ENTITY_TYPES = {"PERSON": "person", "GPE": "place", "LOC": "place", "FAC": "place", "ORG": "organisation",
                 "NORP": "group"}
_ALIASES = {
    "united states": ("us", "u.s.", "usa", "u.s.a.", "america", "united states of america", "washington"),
    "united kingdom": ("uk", "u.k.", "britain", "great britain", "london"),
    "russia": ("russian federation", "moscow", "kremlin"),
    "nato": ("north atlantic treaty organization", "north atlantic alliance", "alliance"),
    "european union": ("eu", "e.u."),
    "ukraine": ("kyiv", "kiev"),
    "american": ("us", "u.s."),
}
_CANONICAL = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_CAPITALISED = re.compile(r"\b[A-Z][\w.'’\-]*")
_FUNCTION_WORDS = set("""a an the and or but if of to in on at by for with from as it its this that these those
there here he she they we you i his her their our your yes no so then also after before when while according
during despite however moreover meanwhile""".split())


def _spacy():
    from verify.loading import entity_tagger

    return entity_tagger()


def _canonical(name: str) -> str:
    name = re.sub(r"^the\s+|'s$|’s$", "", " ".join(name.lower().split()))
    return _CANONICAL.get(name, name)


def _needs_model(text: str) -> bool:
    return any(w.lower() not in _FUNCTION_WORDS for w in _CAPITALISED.findall(text))


def _from_doc(doc) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for ent in doc.ents:
        kind = _ENTITY_TYPES.get(ent.label_)
        if kind and any(c.isupper() for c in ent.text):  # the small model tags some common nouns
            out.setdefault(kind, {})[_canonical(ent.text)] = ent.text
    return out


_ENTITIES: dict[str, dict] = {}  # text -> entities; cleared when it grows past _ENTITY_CACHE
_ENTITY_CACHE = 50_000


def _remember(text: str, found: dict) -> dict:
    if len(_ENTITIES) >= _ENTITY_CACHE:
        _ENTITIES.clear()
    _ENTITIES[text] = found
    return found


def warm_entities(texts) -> None:
    """Tag many sentences in one spaCy batch, several times faster than one call each."""
    todo = [t for t in dict.fromkeys(texts) if t not in _ENTITIES and _needs_model(t)]
    if todo:
        for text, doc in zip(todo, _spacy().pipe(todo, batch_size=128)):
            _remember(text, _from_doc(doc))


def entities(text: str) -> dict[str, dict[str, str]]:
    """Named entities by kind (person, place, organisation, group): canonical name -> as written."""
    if not _needs_model(text):  # no capitalised name: skip the model
        return {}
    found = _ENTITIES.get(text)
    return found if found is not None else _remember(text, _from_doc(_spacy()(text)))


def _same_entity(a: str, b: str) -> bool:
    """"Blinken" and "Antony Blinken" name one person: one name's words inside the other's;
    "IPCC" and "Intergovernmental Panel on Climate Change" one body: the initials."""
    wa, wb = set(a.split()), set(b.split())
    return wa <= wb or wb <= wa or _acronym_of(a, b) or _acronym_of(b, a)


def _acronym_of(short: str, long: str) -> bool:
    short = short.replace(".", "")
    words = [w for w in long.split() if w not in _FUNCTION_WORDS]
    return " " not in short and len(short) >= 2 and len(words) >= 2 and short == "".join(w[0] for w in words)


_WORD = re.compile(r"[a-z0-9]+")


def _same_subject(claim: str, official: str, bar: float = Thresholds.entity_subject) -> bool:
    """Most of what the claim says besides its names is also in the official sentence.

    A different name means a different fact only when the rest agrees ("troops to Romania"
    vs "troops to Poland"); two long sentences that each name several parties almost
    always name different ones. Names are taken to be the capitalised words, so this runs
    before, and instead of, the entity model on most pairs.
    """
    names = {w.lower() for w in _CAPITALISED.findall(claim)}
    rest = {w for w in _WORD.findall(claim.lower()) if w not in names and w not in _FUNCTION_WORDS and len(w) > 2}
    if not rest:
        return True
    theirs = set(_WORD.findall(official.lower()))
    return len(rest & theirs) / len(rest) >= bar


def _entity_pair(claim: str, official: str, bar: float = Thresholds.entity_subject) -> bool:
    """Whether a pair can have an entity mismatch at all (both name something, same subject)."""
    return _needs_model(claim) and _needs_model(official) and _same_subject(claim, official, bar)


def warm_entity_pairs(pairs) -> None:
    """Tag, in one batch, the sentences of the (claim, official) pairs that need the model."""
    warm_entities(t for c, o in pairs if _entity_pair(c, o) for t in (c, o))


def entity_mismatches(claim: str, official: str, subject: float = Thresholds.entity_subject) -> list[Mismatch]:
    """Kinds of entity both sentences name, where no name of the claim's appears in the official one.

    A name found under another kind still counts as found: the small model calls some
    places people ("Kyiv") and some organisations places.
    """
    out = []
    if not _entity_pair(claim, official, subject):
        return out
    ce, oe = entities(claim), entities(official)
    official_names = [o for names in oe.values() for o in names]
    # A name written in the official sentence is there, whether or not the small model tags
    # it there ("Jones was one of many cameramen").
    official_words = set(_WORD.findall(official.lower()))
    for kind in sorted(set(ce) & set(oe)):
        missing = [c for c in ce[kind] if not any(_same_entity(c, o) for o in official_names)
                   and not set(_WORD.findall(c.lower())) <= official_words]
        if missing and len(missing) == len(ce[kind]):
            out.append(Mismatch("entity", ", ".join(ce[kind][c] for c in missing),
                                ", ".join(oe[kind].values())))
    return out


def _stem(word: str) -> str:
    """A crude English stem, enough to match "documents"/"document", "released"/"release"."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)] + repl
    return word.rstrip("e") if len(word) > 4 else word


# One subject, several names: "U.S.", "Washington" and "American" all mean the United States
# here. "US" only in capitals: lower-case "us" is the pronoun.
_SUBJECT_ALIASES = {a: ("united states" if name == "american" else name)
                    for name, aliases in _ALIASES.items() for a in aliases if a not in ("us", "u.s.")}
_SUBJECT_ALIASES["american"] = "united states"
_ALIAS_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(a) for a in sorted(_SUBJECT_ALIASES, key=len, reverse=True))
                       + r")(?![\w])", re.I)
_US = re.compile(r"(?<![\w.])(?:U\.S\.(?:A\.)?|USA?)(?![\w])")


def content_stems(text: str) -> set[str]:
    """Stemmed content words; "U.S." and "Washington" count as "united states", and so on (``_ALIASES``)."""
    text = _US.sub(" united states ", text)
    text = _ALIAS_RE.sub(lambda m: _SUBJECT_ALIASES[m.group(1).lower()], text.lower())
    return {_stem(w) for w in _WORD.findall(text) if w not in _FUNCTION_WORDS and len(w) > 2
            and w not in _NOT_CONTENT}


# Negations (the NLI model judges polarity) and auxiliaries carry no subject.
_NOT_CONTENT = {"not", "none", "never", "nobody", "nothing", "neither", "nor", "without", "cannot", "was", "were",
                "are", "been", "being", "has", "have", "had", "does", "did", "will", "would", "can", "could",
                "should", "may", "might", "must", "shall", "said", "says"}


def subject_overlap(claim: str, official: str) -> float:
    """Share of the claim's content words (stemmed; names included) that the official sentence also has."""
    mine = content_stems(claim)
    if not mine:
        return 1.0
    return len(mine & content_stems(official)) / len(mine)


def same_subject(claim: str, official: str, min_overlap: float = 0.5) -> bool:
    """Whether an official sentence is about what the claim is about, so that NLI
    contradiction between them means they disagree rather than talk past each other."""
    return subject_overlap(claim, official) >= min_overlap


FORCING_KINDS = ("number", "date", "entity")


def forced_mismatches(claim_units: list[str], official_units: list[str], *,
                      forcing_overlap: float = Thresholds.forcing_overlap,
                      entity_subject: float = Thresholds.entity_subject, overlap=None) -> list[Mismatch]:
    """Number, date and name mismatches between a claim and an official sentence on the same
    subject, clause against clause: these make a claim contradictory (see verdict).

    The numbers, dates and names themselves differ, so overlap is measured on the rest;
    names (the entity check's own rule) are left out of its overlap.

    Args:
        overlap: ``(claim, official) -> share of the claim matched``; the checker passes
            its word alignment (``align.Aligner``: "troops" matches "soldiers"), the default
            counts shared word stems.
    """
    overlap = overlap or subject_overlap
    found: list[Mismatch] = []
    for c in claim_units:
        for o in official_units:
            for m in mismatches(c, o, entity_subject):
                if m.kind not in FORCING_KINDS or any(str(m) == str(f) for f in found):
                    continue
                if m.kind == "entity" or overlap(_without_quantities(c), o) >= forcing_overlap:
                    found.append(m)
    return found


def _without_quantities(text: str) -> str:
    text = _DATE.sub(" ", text)
    text = _NUM.sub(lambda m: " " + (m.group(3) or m.group(4) or ""), text)  # keep the unit: "troops"
    return _WORDNUM.sub(lambda m: " " + (m.group(3) or ""), text)


def negated(text: str) -> bool:
    # Any cue negates: news prose stacks negations for emphasis ("did not, and never would")
    # far more often than it cancels them.
    return bool(_NEGATION.search(text))


def mismatches(claim: str, official: str, entity_subject: float = Thresholds.entity_subject) -> list[Mismatch]:
    """Disagreements of number, date, named entity or polarity between a claim and an official sentence.

    Only meaningful for pairs about the same thing: the caller applies them to closely
    related evidence only.
    """
    out = []
    cn, on = numbers(claim), numbers(official)
    if cn and on and not set(cn) & set(on):
        out.append(Mismatch("number", ", ".join(cn.values()), ", ".join(on.values())))
    elif none := none_against_count(claim, official):
        out.append(Mismatch("number", *none))
    elif none := none_against_count(official, claim):
        out.append(Mismatch("number", none[1], none[0]))
    elif bounded := number_bound_mismatch(claim, official):
        out.append(bounded)
    cd, od = dates(claim), dates(official)
    # "January 26" vs "2022" is not a disagreement: compare days with days, years with years.
    c_days, o_days = [k for k in cd if not k[0].isdigit()], [k for k in od if not k[0].isdigit()]
    c_years, o_years = {k for k in cd if k[0].isdigit()}, {k for k in od if k[0].isdigit()}
    if (c_days and o_days and not any(_same_day(a, b) for a in c_days for b in o_days)
            or c_years and o_years and not c_years & o_years):
        out.append(Mismatch("date", ", ".join(cd.values()), ", ".join(od.values())))
    elif bounded := date_bound_mismatch(claim, official):
        out.append(bounded)
    out += entity_mismatches(claim, official, entity_subject)
    if negated(claim) != negated(official):
        out.append(Mismatch("polarity", "negated" if negated(claim) else "affirmed",
                            "negated" if negated(official) else "affirmed"))
    return out


# --- quotes -----------------------------------------------------------------------------------

def quotes(text: str, min_words: int = 3) -> list[str]:
    """Quoted passages of at least ``min_words`` words (straight or curly quotes)."""
    return [q.strip(" ,.") for q in _QUOTE.findall(text) if len(q.split()) >= min_words]


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[‘’`´]", "'", text)
    text = re.sub(r"[^\w' ]+", " ", text)
    return " ".join(text.split())


def quote_match(quote: str, sentence: str) -> float:
    """How well ``quote`` appears inside ``sentence``, 0-1 (1: verbatim after normalising)."""
    from rapidfuzz import fuzz

    q, s = normalise(quote), normalise(sentence)
    if not q or not s:
        return 0.0
    if q in s:
        return 1.0
    return fuzz.partial_ratio(q, s) / 100.0
