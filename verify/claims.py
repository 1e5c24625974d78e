"""Which report sentences are claims worth checking."""
from __future__ import annotations

from .errors import InputError
from .segment import word_count

MIN_WORDS = 4
HEADLINE_WORDS = 12


def is_check_worthy(text: str) -> bool:
    """A claim states something: a few words at least, not a question, not a bare headline.

    Headline-like lines (short, no closing punctuation: "U.S. Response") are section
    labels in reports, not assertions.
    """
    text = text.strip()
    words = word_count(text)
    if words < MIN_WORDS or text.endswith("?"):
        return False
    closes = text.rstrip("\"'”’)»").endswith((".", "!", ":", ";")) or text.endswith(("”", '"'))
    return closes or words >= HEADLINE_WORDS


def validate_claim_text(text: str) -> str:
    """A claim typed by a user: refuse what cannot be checked, with a reason."""
    text = " ".join(text.split())
    if not text:
        raise InputError("the claim is empty")
    if word_count(text) < 2:
        raise InputError(f"{text!r} is one word; a claim needs a subject and something said about it")
    return text
