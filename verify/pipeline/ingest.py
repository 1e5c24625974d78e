"""Read source files into documents: txt, md, html, jsonl, PDF and scanned images, with metadata and dedup.

Each document is stored in its own transaction, so a bad file never leaves half a
document behind, and re-ingesting identical text is reported as a no-op. PDFs and images
are read by ``verify.pipeline.pdf`` (text layer, or OCR for scans); their sentences keep the page
they start on and, for OCR'd pages, the page's OCR confidence.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from verify.errors import InputError
from verify.pipeline.attribute import attribute
from verify.pipeline.language import OFFICIAL_LANGUAGES, REPORT_LANGUAGES, document_language, sentence_language
from verify.pipeline.language import name as language_name
from verify.pipeline.segment import normalise_text, segment, word_count  # noqa: F401  (normalise_text: part of ingest's API)
from verify.pipeline.speakers import infer_speakers
from verify.settings import settings
from verify.store.corpus import Corpus, Document

KINDS = ("official", "report")
FORMATS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html",
           ".htm": "html", ".jsonl": "jsonl", ".ndjson": "jsonl", ".pdf": "pdf",
           ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}
PAGED = ("pdf", "image")  # formats read page by page (verify.pipeline.pdf), never decoded as text
# The largest file read: ``settings().max_bytes`` for text, ``max_pdf_bytes`` for PDFs and
# images (they carry fonts and scans: a long transcript is easily over the text limit, and
# they are read a page at a time, so they get a limit of their own).
METADATA_FIELDS = ("title", "url", "publisher", "speaker", "published", "affiliation")
_BINARY_MAGIC = (b"\x89PNG", b"PK\x03\x04", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"\x1f\x8b")


@dataclass
class IngestResult:
    source: str
    document_id: int | None
    created: bool
    sentences: int
    error: str | None = None
    note: str | None = None  # what differs from what is stored (re-ingesting a changed file or metadata)

    @property
    def status(self) -> str:
        return "error" if self.error else ("added" if self.created else "unchanged (already ingested)")


# --- validation of metadata ----------------------------------------------------------------

def normalise_date(value: str | None, *, where: str = "date") -> str | None:
    """Accept ISO dates (and datetimes); return YYYY-MM-DD."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a date string like 2022-01-26, got {type(value).__name__}")
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date like 2022-01-26") from None


def check_url(value: str | None, *, where: str = "url") -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s<>\"]+$", value.strip(), re.IGNORECASE):
        raise InputError(f"{where}: {value!r} is not an http(s) URL")
    return value.strip()


def clean_metadata(meta: dict, where: str) -> dict:
    out = {}
    for key in ("title", "publisher", "speaker", "affiliation"):
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: field {key!r} must be a string")
        out[key] = value.strip() if isinstance(value, str) and value.strip() else None
    out["url"] = check_url(meta.get("url"), where=f"{where}: url")
    out["published"] = normalise_date(meta.get("published", meta.get("date")), where=f"{where}: date")
    return out


# --- decoding and cleaning -----------------------------------------------------------------

def decode(data: bytes, source: str, encoding: str | None = None) -> str:
    """Bytes to text, refusing what is clearly not text rather than guessing."""
    if not data.strip():
        raise InputError(f"{source}: file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = encoding or "utf-16"
    elif data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
        raise InputError(f"{source}: looks like a binary file, not text")
    try:
        text = data.decode(encoding or "utf-8-sig")
    except (UnicodeDecodeError, LookupError) as e:
        hint = "" if encoding else " (if it is Latin-1 or another legacy encoding, pass --encoding)"
        where = getattr(e, "start", "?")
        raise InputError(f"{source}: not valid {encoding or 'UTF-8'} text at byte {where}{hint}") from None
    if "\x00" in text:
        raise InputError(f"{source}: contains NUL characters; looks like a binary file")
    return text


_MD_RULES = [
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),             # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),                    # block quotes
    (re.compile(r"^\s*([-*+]|\d+\.)\s+", re.M), ""),            # list markers
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),            # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),             # links
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),                   # bold
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)"), r"\1"),  # italics
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),             # rules
]


def markdown_to_text(text: str) -> tuple[str, str | None]:
    title = None
    m = re.search(r"^\s{0,3}#\s+(.+)$", text, re.M)
    if m:
        title = m.group(1).strip()
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text, title


class _HTMLText(HTMLParser):
    """Main text of an HTML page: scripts, styles, navigation and forms dropped."""

    SKIP = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
            "iframe", "svg", "button", "select", "menu", "object", "embed", "canvas", "head"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
             "blockquote", "pre", "dd", "dt", "table", "ul", "ol", "main", "figcaption", "hr"}
    VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[str] = []
        self.title = ""
        self.in_title = False
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "meta":
            key = (a.get("property") or a.get("name") or "").lower()
            if key in ("article:published_time", "og:url", "author", "og:site_name", "og:title", "date"):
                self.meta[key] = a.get("content", "")
        if tag == "link" and a.get("rel", "").lower() == "canonical":
            self.meta["canonical"] = a.get("href", "")
        if tag == "title":
            self.in_title = True
        if tag in self.VOID:
            if tag in self.BLOCK:
                self.parts.append("\n")
            return
        self.stack.append(tag)
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag not in self.stack:
            return
        # Close everything opened after `tag` too: real pages leave tags unclosed.
        while self.stack:
            top = self.stack.pop()
            if top in self.SKIP:
                self.skip_depth -= 1
            if top == tag:
                break
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        elif self.skip_depth == 0:
            self.parts.append(data.replace("\n", " "))


def html_to_text(html: str) -> tuple[str, dict]:
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, RecursionError) as e:  # pathological markup
        raise InputError(f"could not parse HTML ({e})") from None
    meta = {"title": (parser.meta.get("og:title") or parser.title).strip() or None}
    url = parser.meta.get("canonical") or parser.meta.get("og:url")
    if url and re.match(r"^https?://", url):
        meta["url"] = url
    if parser.meta.get("article:published_time"):
        meta["published"] = parser.meta["article:published_time"]
    if parser.meta.get("og:site_name"):
        meta["publisher"] = parser.meta["og:site_name"]
    return "".join(parser.parts), meta


# --- building documents --------------------------------------------------------------------

def build_document(kind: str, text: str, meta: dict, *, source: str, fmt: str,
                   allow_any_language: bool = False) -> Document:
    if kind not in KINDS:
        raise InputError(f"{source}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    text = normalise_text(text)
    if not text:
        raise InputError(f"{source}: no text left after cleaning")
    language = document_language(text)
    accepted = REPORT_LANGUAGES if kind == "report" else OFFICIAL_LANGUAGES
    if not allow_any_language and language not in accepted:
        what = ("English or Spanish text" if kind == "report" else
                "English text (official statements are the evidence verify's English NLI model reads)")
        raise InputError(f"{source}: does not look like {what}; it reads as {language_name(language)} "
                         "(pass --any-language to ingest it anyway)")
    meta = dict(meta)
    if not meta.get("title"):
        first = text.split("\n", 1)[0].strip()
        if word_count(first) <= 20 and not first.endswith((".", "?", "!")):
            meta["title"] = first
    doc = Document(kind=kind, text=text, source=source, format=fmt, language=language,
                   **{k: meta.get(k) for k in METADATA_FIELDS})
    doc.sentences = segment(text, default_speaker=doc.speaker)
    if not doc.sentences:
        raise InputError(f"{source}: no sentences found")
    for span in doc.sentences:
        span.language = sentence_language(span.text, language)
    if kind == "official":
        # Reports are checked claim by claim whoever wrote them; only official evidence needs a speaker.
        for span, a in zip(doc.sentences, attribute(text, doc.sentences, publisher=doc.publisher,
                                                    default_speaker=doc.speaker)):
            if span.attribution != "transcript":
                span.speaker, span.attribution, span.cue, span.role = a.speaker, a.kind, a.cue, a.role
    doc.speakers = infer_speakers(doc)
    return doc


def read_file(path: Path, kind: str, meta: dict, *, encoding: str | None = None,
              allow_any_language: bool = False, progress=None) -> list[Document]:
    """Documents in one file (several for JSONL). Raises InputError on anything unusable.

    Args:
        progress: for PDFs and images, called after each page with (pages done, pages in all).
    """
    source = str(path)
    if not path.exists():
        raise InputError(f"{source}: no such file" + (" (broken symlink)" if path.is_symlink() else ""))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{source}: unsupported format {path.suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(sorted(FORMATS))}")
    limits = settings()
    limit, limit_name = ((limits.max_pdf_bytes, "VERIFY_MAX_PDF_BYTES") if fmt in PAGED
                         else (limits.max_bytes, "VERIFY_MAX_BYTES"))
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{source}: {size / 1e6:.1f} MB is over the {limit / 1e6:.0f} MB limit "
                             f"(split it, or raise {limit_name})")
        if path.is_dir():
            raise IsADirectoryError
        if fmt in PAGED:  # read a page at a time by verify.pipeline.pdf, never whole into memory
            return [_paged_document(path, fmt, kind, clean_metadata(meta, source), source=source,
                                    allow_any_language=allow_any_language, progress=progress)]
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except OSError as e:
        raise InputError(f"{source}: cannot read ({e.strerror or e})") from None
    text = decode(data, source, encoding)
    base = clean_metadata(meta, source)
    if fmt == "jsonl":
        return list(_jsonl_documents(text, kind, base, source, allow_any_language))
    if fmt == "html":
        text, found = html_to_text(text)
        found = clean_metadata(found, source) if found else {}
        merged = {k: base.get(k) or found.get(k) for k in METADATA_FIELDS}
        return [build_document(kind, text, merged, source=source, fmt=fmt, allow_any_language=allow_any_language)]
    if fmt == "md":
        text, title = markdown_to_text(text)
        base = {**base, "title": base.get("title") or title}
    return [build_document(kind, text, base, source=source, fmt=fmt, allow_any_language=allow_any_language)]


def _paged_document(path: Path, fmt: str, kind: str, meta: dict, *, source: str, allow_any_language: bool,
                    progress) -> Document:
    """A PDF or image as one document whose sentences know their page and OCR confidence."""
    from verify.pipeline.pdf import read_image, read_pdf

    if not path.stat().st_size:
        raise InputError(f"{source}: file is empty")
    paged = (read_pdf if fmt == "pdf" else read_image)(path, source=source, progress=progress)
    meta = {**meta, "title": meta.get("title") or paged.title}
    doc = build_document(kind, paged.text, meta, source=source, fmt=fmt, allow_any_language=allow_any_language)
    if doc.text != paged.text:
        # verify.pipeline.pdf normalises each page as build_document does, so this should not happen;
        # if it ever does, find each page again rather than give sentences the wrong page.
        cursor, pages = 0, []
        for page in paged.pages:
            body = normalise_text(paged.text[page.start:page.end])
            at = doc.text.find(body[:200], cursor) if body else -1
            if at >= 0:
                page.start, page.end = at, at + len(body)
                cursor = page.end
                pages.append(page)
        paged.pages = pages
    for span in doc.sentences:
        page = paged.page_at(span.start)
        if page is not None:
            span.page, span.ocr_confidence = page.number, page.ocr_confidence
    return doc


class _PageProgress:
    """Turns per-page reports into fractions of one file, so a bar counted in files moves while a long PDF is read.

    The fractions are multiples of 1/1024: binary fractions add up exactly, so a progress
    log never shows a count like 2.9999999999999996 files.
    """

    STEPS = 1024

    def __init__(self, progress):
        self.progress = progress
        self.sent = 0.0

    def __call__(self, done: int, total: int) -> None:
        share = 1.0 if done >= total else int(done / max(total, 1) * self.STEPS) / self.STEPS
        if share > self.sent:
            self.progress(share - self.sent)
            self.sent = share

    def finish(self) -> None:
        """The rest of the file's share: after an error, or when a page count was an estimate."""
        if self.sent < 1.0:
            self.progress(1.0 - self.sent)
            self.sent = 1.0


def _jsonl_documents(text: str, kind: str, base: dict, source: str, allow_any_language: bool) -> Iterator[Document]:
    """Every line must be good: the file is ingested whole or not at all."""
    docs = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object")
        body = row.get("text")
        if not isinstance(body, str) or not body.strip():
            raise InputError(f"{where}: missing or empty string field 'text'")
        row_kind = row.get("kind", kind)
        meta = clean_metadata(row, where)
        merged = {k: meta.get(k) or base.get(k) for k in METADATA_FIELDS}
        docs.append(build_document(row_kind, body, merged, source=where, fmt="jsonl",
                                   allow_any_language=allow_any_language))
    if not docs:
        raise InputError(f"{source}: no documents in file")
    yield from docs


def expand_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files named, and supported files under directories named (symlinks not followed)."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    f = Path(root) / name
                    if f.suffix.lower() in FORMATS and not name.startswith("."):
                        yield f
        else:
            yield p


def ingest_paths(corpus: Corpus, kind: str, paths: Iterable[str | os.PathLike], meta: dict | None = None,
                 *, encoding: str | None = None, allow_any_language: bool = False,
                 progress=None) -> list[IngestResult]:
    """Ingest files and directories. A bad file is reported in its result; others go on.

    Args:
        progress: called with 1 for each file; for a PDF or an image, with a fraction of 1
            after each page instead (the fractions of one file add up to 1).

    Returns:
        One result per document (or per failed file), in order.
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    results = []
    for path in expand_paths(paths):
        pages = _PageProgress(progress) if progress and FORMATS.get(path.suffix.lower()) in PAGED else None
        if progress and pages is None:
            progress(1)
        try:
            docs = read_file(path, kind, meta or {}, encoding=encoding, allow_any_language=allow_any_language,
                             progress=pages)
        except InputError as e:
            results.append(IngestResult(str(path), None, False, 0, str(e)))
            continue
        finally:
            if pages:
                pages.finish()
        with corpus.transaction():  # a JSONL file lands whole or not at all
            for doc in docs:
                earlier = _earlier_versions(corpus, doc)
                r = corpus.add_document(doc)
                results.append(IngestResult(doc.source or str(path), r.document_id, r.created, r.sentences,
                                            note=_what_changed(corpus, doc, r, earlier)))
    return results


def _earlier_versions(corpus: Corpus, doc: Document) -> list[int]:
    if not doc.source:
        return []
    return corpus.earlier_versions(doc.source, doc.kind, doc.sha256)


def _what_changed(corpus: Corpus, doc: Document, added, earlier: list[int]) -> str | None:
    """Say how a re-ingested file differs from what is stored, and how to apply it."""
    if added.created:
        if not earlier:
            return None
        return (f"a changed version of document {earlier[-1]} (same file, new text); the old version stays "
                f"in the corpus until `verify remove {earlier[-1]}`")
    stored = corpus.document(added.document_id)
    fields = {"speaker": "speaker", "published": "date", "publisher": "publisher", "url": "url", "title": "title"}
    diffs = [f"{name} {stored[key]!r} stored, {getattr(doc, key)!r} given" for key, name in fields.items()
             if getattr(doc, key) and getattr(doc, key) != stored[key]]
    if not diffs:
        return None
    flags = " ".join(f"--{'date' if k == 'published' else k} ..." for k in fields
                     if getattr(doc, k) and getattr(doc, k) != stored[k])
    return f"same text, other metadata: {'; '.join(diffs)} (to change it: verify document {added.document_id} {flags})"
