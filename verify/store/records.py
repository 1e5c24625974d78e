"""The records the store takes and gives: a document with its located sentences, a
speaker, and what adding a document did."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from verify.util import text_hash


def now() -> str:
    """The time to record on a row: UTC, to the second, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class SentenceSpan:
    """A sentence located in its document's stored text: ``text == doc_text[start:end]``.

    ``speaker`` is who said it (None: the publisher's narration, or a question in a
    transcript); ``attribution`` is how that was found and ``cue`` the words that said
    so (see ``verify.pipeline.attribute``); ``role`` the title words around the speaker's name.
    ``page`` is the 1-based page it starts on in a PDF or image, and ``ocr_confidence``
    that page's mean OCR word confidence in [0, 1] (None unless the page was OCR'd).
    """

    start: int
    end: int
    text: str
    speaker: str | None = None
    attribution: str | None = None
    cue: str | None = None
    role: str | None = None
    page: int | None = None
    ocr_confidence: float | None = None
    language: str | None = None  # ISO 639-1 code (verify.pipeline.language); None: not detected
    id: int | None = None  # the stored sentence's id, when read back from the corpus


@dataclass
class Speaker:
    """Someone a document quotes or is published by, with the side they speak for as far
    as the document tells (``verify.pipeline.speakers``) and how that was found."""

    name: str
    affiliation: str | None = None
    role: str | None = None
    source: str = "no side named"


@dataclass
class Document:
    kind: str
    text: str
    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    speaker: str | None = None
    published: str | None = None
    source: str | None = None
    format: str | None = None
    sentences: list[SentenceSpan] = field(default_factory=list)
    affiliation: str | None = None  # the side ``speaker`` speaks for, when given at ingest
    language: str | None = None  # ISO 639-1 code of the whole text (verify.pipeline.language)
    # Its speakers and their sides (``verify.pipeline.speakers.infer_speakers``), recorded
    # with the document; empty for a document built by hand.
    speakers: list[Speaker] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return text_hash(self.text)


@dataclass
class AddResult:
    document_id: int
    created: bool
    sentences: int
