"""Split a document's text into sentences with exact character offsets.

Every sentence satisfies ``text[start:end] == sentence.text``, so any claim or piece of
evidence can be shown in its source. Work is line by line: a line break always ends a
sentence in the formats we read (paragraphs, transcript turns, list items), and a line is
where boilerplate ("Back to top") and speaker labels ("SECRETARY BLINKEN:") live.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .corpus import SentenceSpan

# Lines that are page furniture, never statements. Matched against a whole stripped line.
BOILERPLATE = re.compile(
    r"^(back to top( button)?|leave a (comment|reply)|share( this( article| post)?)?( on \w+)?[:.]?|"
    r"read (more|for background|next)[:.]?|related( articles| posts)?[:.]?|print( this page)?|"
    r"this (post|article|page) is also available in\b.*|(also )?available in:.*|translations?:.*|"
    r"(sign up|subscribe)( to| for)?\b.{0,60}|follow us\b.*|click here\b.*|tweet|email|facebook|"
    r"linkedin|whatsapp|telegram|reddit|(skip|jump) to (main )?content|advertisement|"
    r"(©|copyright)\s.*|all rights reserved\.?|cookies?( policy| settings)?\b.{0,80})$",
    re.IGNORECASE,
)

# "SECRETARY BLINKEN:", "MR. PRICE:", "QUESTION:" at the start of a transcript turn.
SPEAKER_LABEL = re.compile(r"^([A-Z](?:[A-Z.'\- ]{0,40}[A-Z.])?):(?:\s+|$)")

# pysbd splits after these titles although a name always follows them.
_TITLE_ABBREV = re.compile(r"\b(Amb|Sec|Gen|Sen|Rep|Gov|Lt|Col|Adm|Maj|Capt|Sgt|Prof|Dr|St|Ft|No)\.$")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def is_boilerplate(line: str) -> bool:
    return bool(BOILERPLATE.match(line.strip()))


def _split_line(line: str) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets within one line, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in _segmenter().segment(line):
        piece = piece.strip()
        if not piece:
            continue
        start = line.find(piece, cursor)
        if start < 0:  # pysbd altered the text; fall back to the rest of the line
            start = cursor
            piece = line[cursor:].strip()
            start = line.find(piece, cursor)
        end = start + len(piece)
        cursor = end
        if spans and (_TITLE_ABBREV.search(line[spans[-1][0]:spans[-1][1]]) or piece[:1].islower()):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def segment(text: str, default_speaker: str | None = None) -> list[SentenceSpan]:
    """Split ``text`` into sentences.

    Args:
        text: the document's stored text.
        default_speaker: speaker for sentences outside any labelled transcript turn.

    Returns:
        Sentences in order, boilerplate lines and letter-less fragments dropped.
    """
    out: list[SentenceSpan] = []
    speaker = default_speaker
    offset = 0
    for line in text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        stripped = line.strip()
        if not stripped or is_boilerplate(stripped):
            continue
        body_start = 0
        m = SPEAKER_LABEL.match(line.lstrip())
        if m:
            label = m.group(1).strip().rstrip(".")
            speaker = None if label.upper() in {"QUESTION", "Q", "MODERATOR"} else _resolve(label, default_speaker)
            body_start = len(line) - len(line.lstrip()) + m.end()
        for s, e in _split_line(line[body_start:]):
            start, end = line_start + body_start + s, line_start + body_start + e
            sent = text[start:end]
            if not any(ch.isalpha() for ch in sent):
                continue
            out.append(SentenceSpan(start, end, sent, speaker))
    return out


def _resolve(label: str, default_speaker: str | None) -> str:
    """"SECRETARY BLINKEN" is the document's "Antony Blinken" when the surnames agree."""
    if default_speaker and label.split()[-1].lower() == default_speaker.split()[-1].lower():
        return default_speaker
    return _titled(label)


def _titled(label: str) -> str:
    return " ".join(w.capitalize() if w.isupper() and len(w) > 2 else w.title() for w in label.split())


def word_count(text: str) -> int:
    return sum(1 for w in text.split() if any(ch.isalpha() for ch in w))
