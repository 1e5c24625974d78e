"""Features of a (claim, official sentence) pair beyond NLI: mismatches and quotes.

A small NLI model often misses "10,000 troops" vs "100,000 troops" or "will" vs "will
not" on otherwise identical sentences. These checks are cheap, exact and explainable:
each mismatch is shown side by side ("claim: 10,000 troops / official: 100,000 troops").
Named-entity mismatches are limited to capitalised names (no NER model is loaded).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40,
                 "fifty": 50, "hundred": 100, "thousand": 1000, "dozen": 12}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion))?"
                  r"(?:\s+([a-z][a-z\-]+))?", re.I)
_WORDNUM = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\s+([a-z][a-z\-]+)", re.I)
_MONTHS = ("january february march april may june july august september october november december").split()
_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?|\b(\d{1,2})\s+("
                   + "|".join(_MONTHS) + r")(?:\s+(\d{4}))?|\b(19\d\d|20\d\d)\b", re.I)
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|can't|won't|"
                       r"n't|refuse[sd]?|refusing|reject(?:s|ed)?|rule[sd]? out|deny|denie[sd]|declined?)\b|n't\b",
                       re.I)
_QUOTE = re.compile(r"[\"“”„«»]([^\"“”„«»]{8,400})[\"“”„«»]")


@dataclass
class Mismatch:
    kind: str  # number | date | polarity
    claim: str
    official: str

    def __str__(self) -> str:
        return f"{self.kind}: claim {self.claim} / official {self.official}"


def numbers(text: str) -> dict[float, str]:
    """Quantities in ``text`` (years excluded: they are dates), value -> as written."""
    out: dict[float, str] = {}
    text = _DATE.sub(lambda m: " " * len(m.group(0)), text)  # "January 26" is a date, not a count
    for m in _NUM.finditer(text):
        raw, scale = m.group(1), m.group(2)
        value = float(raw.replace(",", ""))
        if not scale and "," not in raw and 1900 <= value <= 2100 and "." not in raw:
            continue
        if scale:
            value *= _SCALE[scale.lower()]
        out[value] = m.group(0).strip()
    for m in _WORDNUM.finditer(text):
        out.setdefault(float(_WORD_NUMBERS[m.group(1).lower()]), m.group(0))
    return out


def dates(text: str) -> dict[str, str]:
    out = {}
    for m in _DATE.finditer(text):
        if m.group(1):
            key = f"{m.group(1).lower()} {int(m.group(2))}"
        elif m.group(5):
            key = f"{m.group(5).lower()} {int(m.group(4))}"
        else:
            key = m.group(7)
        out[key] = m.group(0)
    return out


def negated(text: str) -> bool:
    # Any cue negates: news prose stacks negations for emphasis ("did not, and never would")
    # far more often than it cancels them.
    return bool(_NEGATION.search(text))


def mismatches(claim: str, official: str) -> list[Mismatch]:
    """Disagreements of number, date or polarity between a claim and an official sentence.

    Only meaningful for pairs about the same thing: the caller applies them to closely
    related evidence only.
    """
    out = []
    cn, on = numbers(claim), numbers(official)
    if cn and on and not set(cn) & set(on):
        out.append(Mismatch("number", ", ".join(cn.values()), ", ".join(on.values())))
    cd, od = dates(claim), dates(official)
    if cd and od and not set(cd) & set(od):
        # "January 26" vs "2022" is not a disagreement: compare like with like.
        same_kind = {k for k in cd if k[0].isdigit()} and {k for k in od if k[0].isdigit()} or \
            {k for k in cd if not k[0].isdigit()} and {k for k in od if not k[0].isdigit()}
        if same_kind:
            out.append(Mismatch("date", ", ".join(cd.values()), ", ".join(od.values())))
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
