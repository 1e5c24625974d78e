"""Split a document's text into sentences with exact character offsets.

Every sentence satisfies ``text[start:end] == sentence.text``, so any claim or piece of
evidence can be shown in its source. Work is line by line: a line break always ends a
sentence in the formats we read (paragraphs, transcript turns, list items), and a line is
where boilerplate ("Back to top") and speaker labels ("SECRETARY BLINKEN:") live.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from verify.store.corpus import SentenceSpan


def normalise_text(text: str) -> str:
    """Unicode NFC, unified newlines and spaces, trimmed lines, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\xa0", " ").replace("\u200b", "").replace("\t", " ")
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return unicodedata.normalize("NFC", text.strip())  # again: removing characters can un-compose

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
        default_speaker: the document's speaker; a transcript label with the same surname
            ("SECRETARY BLINKEN:") is resolved to this full name.

    Returns:
        Sentences in order, boilerplate lines and letter-less fragments dropped. Sentences
        in a labelled transcript turn carry its speaker (None for a question) and
        ``attribution="transcript"``; the rest are left for ``attribute`` to attribute.
    """
    out: list[SentenceSpan] = []
    speaker, label = None, None
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
            if label is None:
                out.append(SentenceSpan(start, end, sent))
            else:
                out.append(SentenceSpan(start, end, sent, speaker, "transcript", f"{label}:"))
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


# --- clauses -------------------------------------------------------------------------------------
# Long sentences join several propositions ("While Stoltenberg went over the contents in
# detail, Blinken kept the specifics confidential"). NLI judges a clause against a clause far
# better than a whole sentence against another (SummaC, Laban et al. 2022), so long claims
# and long evidence are also scored clause by clause.
CLAUSE_MIN_WORDS = 16  # shorter sentences are scored whole only
_SUBORDINATE_LEAD = re.compile(r"^(?:while|although|though|whereas|even though|even as)\s+", re.I)
_BOUNDARY = re.compile(
    r";\s+|,\s+(?=(?:but|yet|while|whereas|although|though|adding(?: that)?|noting(?: that)?|"
    r"stressing(?: that)?|saying(?: that)?)\b)|,\s+and\s+(?=(?:the|a|an|it|its|they|their|he|she|we|this|"
    r"these|those|[A-Z][\w.'’-]+)(?:\s+[\w.'’-]+){0,5}\s+(?:is|are|was|were|will|would|has|have|had|can|"
    r"could|should|must|may|might|did|does|do|[a-z][a-z]+(?:ed|es))\b)")
_CONNECTIVE = re.compile(r"^(?:and|but|yet|while|whereas|although|though|adding|noting|stressing|saying|"
                         r"also)\s+(?:that\s+)?", re.I)
_QUOTED = re.compile(r"[“\"]([^”\"]{12,})[”\"]")


def clauses(text: str) -> list[str]:
    """A long sentence's clauses, each a readable sentence of its own; [] if it has one.

    Splits after a leading "While/Although X," and at semicolons and clause-joining
    conjunctions (", but", ", while", ", adding", ", and" before a new subject and verb);
    a sentence made of several quotations ("Noting that "X," the text says "Y"") gives
    one clause per quotation. Pieces under four words stay with their neighbour.

    Example:
        >>> clauses("While the Alliance went over the contents in detail, Washington had left the specifics confidential.")
        ['The Alliance went over the contents in detail.', 'Washington had left the specifics confidential.']
    """
    text = " ".join(text.split())
    if word_count(text) < CLAUSE_MIN_WORDS:
        return []
    pieces: list[str] = []
    quoted = _QUOTED.findall(text)
    if len(quoted) >= 2 and sum(word_count(q) for q in quoted) >= 0.6 * word_count(text):
        pieces = []
        for m in _QUOTED.finditer(text):
            q = m.group(1)
            if q[:1].islower():  # 'the Allies “cannot and will not ...”': the quote needs its subject
                before = re.split(r"\bthat\s+|,\s+|[“”\"]", text[:m.start()])[-1].strip()
                if 0 < word_count(before) <= 5:
                    q = f"{before} {q}"
            pieces.append(q)
    else:
        rest = text
        lead = _SUBORDINATE_LEAD.match(rest)
        if lead:
            comma = rest.find(", ", lead.end())
            while comma != -1 and word_count(rest[lead.end():comma]) < 4:
                comma = rest.find(", ", comma + 2)
            if comma != -1:
                pieces.append(rest[lead.end():comma])
                rest = rest[comma + 2:]
        pieces += _BOUNDARY.split(rest)
    out: list[str] = []
    for piece in pieces:
        piece = _CONNECTIVE.sub("", piece.strip(" ,;“”\"")).strip(" ,;“”\"")
        if word_count(piece) < 4:
            if out:
                out[-1] = out[-1].rstrip(".") + ", " + piece
            continue
        out.append(piece)
    out = [re.sub(r"[“”\"]", "", c) for c in out]  # a clause cut from a quotation keeps no stray marks
    out = [(c[:1].upper() + c[1:]).rstrip(" .,;:") + "." for c in out]
    # "While Washington is ready to engage, it continues to ...": "it" is Washington.
    subject = re.match(r"^((?:[A-Z][\w.'’-]*\s+)*[A-Z][\w.'’-]*)\s+[a-z]", out[0]) if out else None
    if subject and len(subject.group(1).split()) <= 4 \
            and subject.group(1).split()[0] not in ("The", "A", "An", "This", "That", "These", "Those", "Its"):
        out = [out[0]] + [re.sub(r"^(?:It|They|He|She)\b", subject.group(1), c) for c in out[1:]]
    return out if len(out) >= 2 else []
