"""Read PDFs and scanned images into text that knows its pages: the PDF stage of ingest.

Leaks arrive as PDFs (often facsimiles: a scan inside a PDF) and official transcripts are
often PDFs. This module turns one into a single text plus the character range of every
page, so that each sentence can later say "page 3" in the evidence trail.

- Text pages are read with pdfplumber, one page at a time: each page's parsed objects are
  dropped (``page.close()``) before the next is read, so a 500-page file costs the memory
  of one page plus its text.
- Words are put back in reading order: a page with a vertical gutter that no words cross
  over most of its height is read column by column (left, then right).
- Lines that repeat at the top or bottom of most pages (running headers, "Page 3 of 9")
  are dropped; wrapped lines are joined into paragraphs (verify's sentence splitter treats
  a line break as the end of a sentence) and words hyphenated at a line end are repaired.
- Pages without a text layer (scans) are rendered with pypdfium2 at 300 dpi and read by the
  ``tesseract`` command, English plus Spanish where the language data is installed; the
  page keeps the mean word confidence so the evidence trail can flag OCR'd text.

Everything here raises ``InputError`` with one line that names the file for anything it
cannot read: encrypted, corrupt or truncated files, empty ones, and scans without OCR.
Only the standard library is imported at module level; pdfplumber, pypdfium2 and Pillow
are imported when a PDF or image is actually read, so ``verify --help`` stays fast.
"""
from __future__ import annotations

import bisect
import io
import itertools
import math
import os
import re
import shutil
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from verify.errors import InputError
from verify.settings import settings

OCR_DPI = 300  # Tesseract is trained on ~300 dpi scans; lower loses small print, higher only costs time
OCR_MAX_PIXELS = 60_000_000  # a poster-sized page is rendered smaller rather than at 300 dpi
# A page whose text layer has fewer visible characters than this while an image covers most
# of it is a scan with a stamp on it (a page number, a Bates number): OCR it.
STAMP_CHARS = 40

Progress = Callable[[int, int], None]  # (pages done, pages in all)


# --- results ---------------------------------------------------------------------------------

@dataclass
class Page:
    """Where one page's text lies in ``PagedText.text`` (``text[start:end]``), 1-based ``number``."""

    number: int
    start: int
    end: int
    ocr_confidence: float | None = None  # mean Tesseract word confidence in [0, 1]; None: the text layer


@dataclass
class PagedText:
    """The text of a PDF or image with the character range of every page that has text.

    Blank pages have no range; pages are separated by a blank line, except where a
    sentence runs on from one page to the next (then they are joined like wrapped lines).
    """

    text: str
    pages: list[Page] = field(default_factory=list)
    title: str | None = None

    def page_at(self, offset: int) -> Page | None:
        """The page a character offset falls on (the one that starts last at or before it)."""
        starts = [p.start for p in self.pages]
        i = bisect.bisect_right(starts, offset) - 1
        return self.pages[i] if i >= 0 else None


# --- geometry of words and lines ---------------------------------------------------------------

@dataclass
class _Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def size(self) -> float:
        return max(self.bottom - self.top, 1.0)


@dataclass
class _Line:
    """One line of a page in reading order. ``block`` changes where the reading jumps (another
    column, a full-width line); ``para`` is Tesseract's paragraph for OCR'd lines."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    block: int
    para: tuple | None = None


@dataclass
class _PageLines:
    number: int
    lines: list[_Line]
    ocr_confidence: float | None = None
    height: float = 0.0  # points; 0: unknown (then any line may be furniture if it repeats)


class _Row:
    """Words on one visual line across the whole page (both columns, if there are two)."""

    def __init__(self, word: _Word):
        self.words = [word]
        self.top = word.top

    def intervals(self) -> list[tuple[float, float]]:
        """The x ranges covered by text, with ordinary word spaces closed up.

        A gap wider than about one em is kept open: word spaces (0.25-0.6 em, even in
        justified text) close, column gutters (normally 1.5 em or more) stay open.
        """
        words = sorted(self.words, key=lambda w: w.x0)
        size = statistics.median(w.size for w in words)
        out = [[words[0].x0, words[0].x1]]
        for w in words[1:]:
            if w.x0 - out[-1][1] <= size:
                out[-1][1] = max(out[-1][1], w.x1)
            else:
                out.append([w.x0, w.x1])
        return [(a, b) for a, b in out]

    def line(self, block: int) -> _Line:
        words = sorted(self.words, key=lambda w: w.x0)
        return _Line(" ".join(w.text for w in words), min(w.x0 for w in words), max(w.x1 for w in words),
                     min(w.top for w in words), max(w.bottom for w in words),
                     statistics.median(w.size for w in words), block)


def _rows(words: list[_Word]) -> list[_Row]:
    rows: list[_Row] = []
    for w in sorted(words, key=lambda w: (w.top, w.x0)):
        # Half a line height: superscripts and small baseline shifts stay on their line.
        if rows and abs(w.top - rows[-1].top) <= 0.5 * w.size:
            rows[-1].words.append(w)
        else:
            rows.append(_Row(w))
    return rows


def _gutter(rows: list[_Row]) -> float | None:
    """The x of a vertical gap between two columns, or None for a single-column block.

    A candidate x must be crossed by text on at most 15% of the rows, or one row (a
    full-width title or footer may cross it), with text on both sides of it on at least 30% of the rows,
    and lie in the middle half of the text: a ragged right margin or a column of page
    numbers in a table of contents is not a second column.
    """
    if len(rows) < 4:
        return None
    spans = [r.intervals() for r in rows]
    lo = min(a for iv in spans for a, _ in iv)
    hi = max(b for iv in spans for _, b in iv)
    width = hi - lo
    if width < 100:  # under ~1.4 inches there is no room for two columns of prose
        return None
    first, last = int(lo + 0.25 * width), int(hi - 0.25 * width)
    n, size = len(rows), last - first + 1
    # Counts at each integer x of the middle half, built with difference arrays: O(rows + width).
    crossing, left, right = [0] * (size + 1), [0] * (size + 1), [0] * (size + 1)

    def add(counts: list[int], a: int, b: int) -> None:  # +1 for every x in [a, b]
        a, b = max(a, first), min(b, last)
        if a <= b:
            counts[a - first] += 1
            counts[b - first + 1] -= 1

    for iv in spans:
        for a, b in iv:
            add(crossing, math.floor(a) + 1, math.ceil(b) - 1)  # a < x < b
        add(left, math.ceil(min(b for _, b in iv)), last)  # some text ends at or before x
        add(right, first, math.floor(max(a for a, _ in iv)))  # some text starts at or after x
    best: tuple[int, float] | None = None  # (run width, gutter x)
    run_start = None
    c = lt = rt = 0
    for i in range(size + 1):
        ok = False
        if i < size:
            c, lt, rt = c + crossing[i], lt + left[i], rt + right[i]
            ok = c <= max(1, 0.15 * n) and lt >= 0.3 * n and rt >= 0.3 * n
        if ok and run_start is None:
            run_start = i
        elif not ok and run_start is not None:
            run = (i - run_start, first + (run_start + i - 1) / 2)
            best = run if best is None or run[0] > best[0] else best
            run_start = None
    return best[1] if best else None


def _layout(words: list[_Word]) -> list[_Line]:
    """Lines in reading order: columns left to right, full-width lines where they stand."""
    blocks = itertools.count()

    def lay(ws: list[_Word], depth: int) -> list[_Line]:
        rows = _rows(ws)
        x = _gutter(rows) if depth < 3 else None  # depth 3: up to eight columns, more is a table
        if x is None:
            block = next(blocks)
            return [r.line(block) for r in rows]
        out: list[_Line] = []
        left: list[_Word] = []
        right: list[_Word] = []

        def flush() -> None:
            # Both columns of a band between full-width lines: all of the left, then all of the right.
            for side in (left, right):
                if side:
                    out.extend(lay(list(side), depth + 1))
                side.clear()

        for row in rows:
            if any(a < x < b for a, b in row.intervals()):
                flush()
                out.append(row.line(next(blocks)))
            else:
                for w in row.words:
                    (left if (w.x0 + w.x1) / 2 < x else right).append(w)
        flush()
        return out

    return lay(words, 0) if words else []


# --- headers, footers, paragraphs -----------------------------------------------------------------

_EDGE = 3  # lines peeled from the top and from the bottom of a page at most (a two-line header split in two)
_MARGIN = 0.15  # running headers and footers sit in the top or bottom 15% of the page


def _furniture_key(text: str) -> str:
    # "Page 3 of 9" and "Page 4 of 9" are the same footer: digits are normalised away.
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def _drop_furniture(pages: list[_PageLines]) -> None:
    """Remove lines that repeat at the top or bottom of most pages (headers, footers, page numbers).

    Peeled from the edge inwards: the topmost line of each page goes if its text (digits
    aside) is the topmost on most pages; then the next one, on the pages that lost one.
    A body line is only ever a candidate once everything above (or below) it was furniture,
    and only a line in the top or bottom margin band is: two short pages that happen to end
    alike keep their text.
    """
    with_text = [p for p in pages if p.lines]
    if len(with_text) < 2:
        return
    for bottom in (False, True):
        peeling = with_text
        for _ in range(_EDGE):
            edge = {}
            for p in peeling:
                if not p.lines:
                    continue
                line = max(p.lines, key=lambda x: x.bottom) if bottom else min(p.lines, key=lambda x: x.top)
                if not p.height or (line.bottom >= (1 - _MARGIN) * p.height if bottom
                                    else line.top <= _MARGIN * p.height):
                    edge[p.number] = line
            counts = Counter(_furniture_key(line.text) for line in edge.values())
            repeated = {k for k, c in counts.items() if c >= 2 and 2 * c > len(with_text)}
            if not repeated:
                break
            peeled = []
            for p in peeling:
                line = edge.get(p.number)
                if line is not None and _furniture_key(line.text) in repeated:
                    p.lines = [kept for kept in p.lines if kept is not line]
                    peeled.append(p)
            peeling = peeled


_HYPHEN_END = re.compile(r"[^\W\d_][-\u2010\u00ad]$")  # a letter, then a hyphen that ends the line
_TERMINAL = (".", "?", "!", ":", ";", '"', "\u201d", "\u2019", ")", "]")
# A line that starts something new: a transcript turn ("MR. PRICE:"), a bullet or a numbered item.
# (Not an em dash: a wrapped line often starts with one mid-sentence.)
_STARTER = re.compile(r"^([A-Z](?:[A-Z.'\- ]{0,40}[A-Z.])?:\s|[\u2022\u25aa\u25cf\u2013*-]\s|\(?\d{1,2}[.)]\s)")
_LIGATURES = re.compile("[\ufb00-\ufb06]")


def _join(before: str, after: str) -> str:
    """Join a line to the next, repairing a word hyphenated at the line end.

    "docu-" + "ment" is "document"; before an upper-case letter the hyphen is part of the
    word ("anti-" + "American") and stays. A soft hyphen is always a line-break hyphen.
    """
    if before.endswith("\u00ad"):
        return before[:-1] + after
    if _HYPHEN_END.search(before):
        return (before[:-1] + after) if after[:1].islower() else before + after
    return f"{before} {after}"


def _runs_on(before: str, after: str) -> bool:
    """Whether text continues across a column or page break: no sentence end before, lower case after."""
    return bool(before) and not before.rstrip().endswith(_TERMINAL) and after[:1].islower()


def _breaks(prev: _Line, line: _Line, edges: dict[int, tuple[float, float]]) -> bool:
    """Whether ``line`` starts a new paragraph after ``prev`` (both in reading order)."""
    if prev.block != line.block:
        return not _runs_on(prev.text, line.text)
    if prev.para is not None or line.para is not None:  # OCR: Tesseract found the paragraphs
        return prev.para != line.para or bool(_STARTER.match(line.text))
    size = max(prev.size, line.size)
    if line.top < prev.top or line.top - prev.bottom > 0.6 * size:  # upwards, or more than ordinary leading
        return True
    if abs(line.size - prev.size) > 0.15 * size:  # a heading in larger or smaller type
        return True
    if _STARTER.match(line.text):
        return True
    if _HYPHEN_END.search(prev.text) and line.text[:1].islower():
        return False
    left, right = edges[line.block]
    width = max(right - left, 1.0)
    short = prev.x1 < right - max(0.12 * width, 2 * size)
    if short and prev.text.endswith(_TERMINAL) and not line.text[:1].islower():  # a paragraph's last line
        return True  # (not before lower case: "the U.S." can end a line mid-sentence)
    # A line well short of the margin without a full stop is a heading (a wrapped line of a
    # ragged-right paragraph rarely stops before 60% of the width).
    return prev.x1 - left < 0.6 * width and not prev.text.endswith((",", "-")) and line.text[:1].isupper()


def _page_text(lines: list[_Line]) -> str:
    edges: dict[int, tuple[float, float]] = {}
    for line in lines:
        a, b = edges.get(line.block, (line.x0, line.x1))
        edges[line.block] = (min(a, line.x0), max(b, line.x1))
    paragraphs: list[str] = []
    prev = None
    for line in lines:
        text = _LIGATURES.sub(lambda m: {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
                                         "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}[m.group()], line.text)
        if prev is None or _breaks(prev, line, edges):
            paragraphs.append(text)
        else:
            paragraphs[-1] = _join(paragraphs[-1], text)
        prev = line
    return "\n".join(paragraphs)


def _assemble(pages: list[_PageLines], title: str | None) -> PagedText:
    """One text from the pages, with each page's range; headers and footers dropped first."""
    from verify.pipeline.segment import normalise_text  # the same normalisation ingest applies, so offsets survive it

    _drop_furniture(pages)
    text = ""
    spans: list[Page] = []
    for p in pages:
        body = normalise_text(_page_text(p.lines))
        if not body:
            continue
        if spans and _runs_on(text, body):
            # A sentence runs on to the next page: join it like a wrapped line, so it stays one sentence.
            joined = _join(text, body)
            start = len(joined) - len(body)
            if len(joined) < len(text) + len(body):  # the hyphen at the end of the previous page went
                spans[-1].end -= 1
            text = joined
        else:
            text += "\n\n" if text else ""
            start = len(text)
            text += body
        spans.append(Page(p.number, start, len(text), p.ocr_confidence))
    return PagedText(text, spans, title)


# --- OCR with Tesseract --------------------------------------------------------------------------

def tesseract() -> str | None:
    """The ``tesseract`` executable on PATH, or None where OCR is not installed."""
    return shutil.which("tesseract")


@lru_cache(maxsize=4)
def ocr_languages(exe: str) -> str | None:
    """English, plus Spanish where its language data is installed (El País prints in Spanish);
    None where Tesseract has no English data."""
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    have = {line.strip() for line in out.splitlines()[1:]}
    if "eng" not in have:
        return None
    return "eng+spa" if "spa" in have else "eng"


def _ocr(image, exe: str, dpi: int, where: str) -> tuple[list[_Line], float | None]:
    """Lines (geometry in points) and mean word confidence of one page image, from Tesseract's TSV."""
    languages = ocr_languages(exe)
    if languages is None:
        raise InputError(f"{where}: tesseract has no English language data (install tesseract-ocr-eng)")
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(dpi, dpi))
    # One thread: this runs beside other work on small machines, and a page at a time is
    # as fast as Tesseract's OpenMP threads there. A user can still set OMP_THREAD_LIMIT.
    env = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
    timeout = settings().ocr_timeout  # seconds for one page
    try:
        proc = subprocess.run([exe, "stdin", "stdout", "-l", languages, "--dpi", str(dpi), "--psm", "3",
                               "tsv"], input=buf.getvalue(), capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise InputError(f"{where}: OCR took over {timeout:.0f} s (VERIFY_OCR_TIMEOUT)") from None
    except OSError as e:
        raise InputError(f"{where}: could not run tesseract ({e.strerror or e})") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{where}: OCR failed (tesseract: {last[:160]})")
    scale = 72.0 / dpi
    lines: dict[tuple, list[tuple[str, float, float, float, float]]] = {}
    confidences: list[float] = []
    for row in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue  # level 5 rows are words; the others are page, block, paragraph and line boxes
        _, _, block, par, line_no, _, left, top, width, height, conf = cols[:11]
        x, y, w, h = (float(v) * scale for v in (left, top, width, height))
        lines.setdefault((int(block), int(par), int(line_no)), []).append((cols[11].strip(), x, x + w, y, y + h))
        if float(conf) >= 0:
            confidences.append(float(conf) / 100)
    out = []
    for (block, par, _), words in lines.items():  # dicts keep Tesseract's reading order
        heights = [b - t for _, _, _, t, b in words]
        out.append(_Line(" ".join(w[0] for w in words), min(w[1] for w in words), max(w[2] for w in words),
                         min(w[3] for w in words), max(w[4] for w in words), max(heights), block, (block, par)))
    return out, (round(statistics.fmean(confidences), 4) if confidences else None)


def _describe(pages: list[int]) -> str:
    """'page 2' / 'pages 2, 3' / 'pages 2-40, 42'."""
    parts, i = [], 0
    while i < len(pages):
        j = i
        while j + 1 < len(pages) and pages[j + 1] == pages[j] + 1:
            j += 1
        parts += [f"{pages[i]}-{pages[j]}"] if j - i >= 2 else [str(n) for n in pages[i:j + 1]]
        i = j + 1
    return ("page " if len(pages) == 1 else "pages ") + ", ".join(parts)


# --- PDFs ------------------------------------------------------------------------------------------

def _check_container(path: Path, source: str) -> None:
    """Refuse what is not a whole PDF before the parser tries: pdfminer repairs a missing
    cross-reference table quietly, and would read a truncated download as a shorter document."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
            f.seek(max(0, path.stat().st_size - 4096))
            tail = f.read().rstrip(b"\x00\r\n\t\f ")
    except OSError as e:
        raise InputError(f"{source}: cannot read ({e.strerror or e})") from None
    if not head.strip():
        raise InputError(f"{source}: file is empty")
    if b"%PDF-" not in head:
        raise InputError(f"{source}: not a PDF file (no %PDF header)")
    if b"%%EOF" not in tail[-1024:]:
        raise InputError(f"{source}: PDF is truncated or corrupt (no end-of-file marker); download or export it again")


def _corrupt(source: str, e: BaseException, page: int | None = None) -> InputError:
    detail = " ".join(str(e.args[0] if type(e).__name__ == "PdfminerException" and e.args else e).split())
    where = f" on page {page}" if page else ""
    return InputError(f"{source}: PDF is corrupt{where} ({type(e).__name__}: {detail[:120] or 'unreadable'})")


def _encrypted(e: BaseException) -> bool:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    cause = e.args[0] if type(e).__name__ == "PdfminerException" and e.args else e
    return isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError))


def _has_page_tree(pdf) -> bool:
    from pdfminer.pdftypes import resolve1

    try:
        tree = resolve1(pdf.doc.catalog.get("Pages"))
    except Exception:  # an unresolvable reference is a broken file
        return False
    return isinstance(tree, dict) and tree.get("Type") is not None


def _good_title(meta: dict, path: Path) -> str | None:
    """The PDF's own title, unless it is a file name (Pillow writes the file's) or a word processor's placeholder."""
    title = meta.get("Title")
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    if not title or len(title) > 200 or title.lower() in (path.stem.lower(), path.name.lower()):
        return None
    if re.search(r"\.(docx?|pdf|odt|rtf|txt|indd|pages)$", title, re.I) \
            or re.match(r"^(microsoft (word|powerpoint)|untitled|document\d*$)", title, re.I):
        return None
    return title


def _text_layer(page) -> tuple[list[_Word], float]:
    """The page's words, and how much of the page its largest image covers (0-1)."""
    words = []
    for w in page.extract_words(keep_blank_chars=False, use_text_flow=False):
        # (cid:N) is a glyph the font gives no Unicode for: not text a reader could use.
        text = re.sub(r"\(cid:\d+\)", "", w["text"]).strip()
        if text:
            words.append(_Word(text, float(w["x0"]), float(w["x1"]), float(w["top"]), float(w["bottom"])))
    area = max(float(page.width) * float(page.height), 1.0)
    cover = max((abs((im["x1"] - im["x0"]) * (im["bottom"] - im["top"])) / area for im in page.images), default=0.0)
    return words, min(cover, 1.0)


def read_pdf(path: str | os.PathLike, *, source: str | None = None, progress: Progress | None = None) -> PagedText:
    """Read a PDF page by page: the text layer where there is one, OCR where there is not.

    Args:
        path: the PDF file.
        source: how errors name the file (default: the path).
        progress: called after each page with (pages done, pages in all).

    Returns:
        The text with every page's range and OCR confidence, and the PDF's title if it has a real one.

    Raises:
        InputError: encrypted (unless it opens with an empty password), corrupt or truncated,
            no pages or no text, or scanned pages while ``tesseract`` is not installed.
    """
    path = Path(path)
    source = source or str(path)
    _check_container(path, source)
    import pdfplumber

    try:
        pdf = pdfplumber.open(path)  # tries the empty password, which opens owner-password-only PDFs
    except Exception as e:  # pdfminer raises many types on hostile input; each is a bad file, not a bug here
        if _encrypted(e):
            raise InputError(f"{source}: encrypted; decrypt it first") from None
        raise _corrupt(source, e) from None
    renderer = None
    try:
        try:
            pages = pdf.pages
        except Exception as e:
            raise _corrupt(source, e) from None
        if not pages:
            if not _has_page_tree(pdf):  # e.g. the catalog points at a page tree that is not in the file
                raise InputError(f"{source}: PDF is corrupt (its page tree is missing)")
            raise InputError(f"{source}: the PDF has no pages")
        exe = tesseract()
        read: list[_PageLines] = []
        scanned: list[int] = []  # pages without text that need OCR that is not installed
        for page in pages:
            number = page.page_number
            try:
                words, cover = _text_layer(page)
            except Exception as e:  # pdfminer's errors on a damaged content stream, of many types
                raise _corrupt(source, e, number) from None
            finally:
                page.close()  # drop the page's parsed objects now: memory stays that of one page
            lines = _layout(words)
            visible = sum(len(w.text) for w in words)
            height = float(page.height)
            confidence = None
            if (visible == 0 and cover > 0) or (visible < STAMP_CHARS and cover >= 0.5):
                if exe is None:
                    if not visible:  # a stamped scan keeps its few words; a bare scan has none to keep
                        scanned.append(number)
                else:
                    renderer = renderer or _Renderer(path, source)
                    lines, confidence = _ocr(renderer.render(number - 1), exe, renderer.dpi, f"{source}: page {number}")
            read.append(_PageLines(number, lines, confidence, height))
            if progress:
                progress(len(read), len(pages))
        if scanned:
            verb = "has" if len(scanned) == 1 else "have"
            raise InputError(f"{source}: {_describe(scanned)} {verb} no text layer and OCR (tesseract) is not "
                             "installed; install tesseract-ocr to read scans")
        title = _good_title(pdf.metadata, path)
    finally:
        if renderer:
            renderer.close()
        _close(pdf)
    paged = _assemble(read, title)
    if not paged.text:
        raise InputError(f"{source}: no text in the PDF ({len(read)} page{'s' if len(read) != 1 else ''}, "
                         "none with words)")
    return paged


def _close(pdf) -> None:
    """Close a pdfplumber PDF without masking the error being raised: on a broken page tree,
    ``PDF.close()`` itself fails while listing the pages it would close."""
    try:
        pdf.close()
    except Exception:
        pdf.stream.close()


class _Renderer:
    """Renders pages to greyscale images with PDFium, opened only when a page needs OCR."""

    def __init__(self, path: Path, source: str):
        import pypdfium2

        self.source = source
        self.dpi = OCR_DPI
        try:
            self.doc = pypdfium2.PdfDocument(str(path))
        except pypdfium2.PdfiumError as e:
            raise InputError(f"{source}: PDF cannot be rendered for OCR ({e})") from None

    def render(self, index: int):
        import pypdfium2

        try:
            return self._render(index)
        except pypdfium2.PdfiumError as e:
            raise InputError(f"{self.source}: page {index + 1} cannot be rendered for OCR ({e})") from None

    def _render(self, index: int):
        page = self.doc[index]
        try:
            w, h = page.get_size()
            scale = OCR_DPI / 72
            if w * h * scale * scale > OCR_MAX_PIXELS:
                scale = (OCR_MAX_PIXELS / (w * h)) ** 0.5
            self.dpi = round(scale * 72)
            bitmap = page.render(scale=scale, grayscale=True)
            try:
                return bitmap.to_pil().convert("L")
            finally:
                bitmap.close()
        finally:
            page.close()

    def close(self) -> None:
        self.doc.close()


# --- images ----------------------------------------------------------------------------------------

def read_image(path: str | os.PathLike, *, source: str | None = None, progress: Progress | None = None) -> PagedText:
    """OCR a scanned image (.png, .jpg, .tif; every frame of a multi-page TIFF is a page).

    Args:
        path: the image file.
        source: how errors name the file (default: the path).
        progress: called after each page with (pages done, pages in all).

    Raises:
        InputError: tesseract is not installed, the image cannot be decoded, or OCR finds no words.
    """
    path = Path(path)
    source = source or str(path)
    exe = tesseract()
    if exe is None:
        raise InputError(f"{source}: an image needs OCR and OCR (tesseract) is not installed; install tesseract-ocr")
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
        raise InputError(f"{source}: not a readable image ({' '.join(str(e).split())[:120]})") from None
    read: list[_PageLines] = []
    with image:
        total = getattr(image, "n_frames", 1)
        try:
            for number, frame in enumerate(ImageSequence.Iterator(image), 1):
                dpi = frame.info.get("dpi", (OCR_DPI, OCR_DPI))[0]
                # Scans without a resolution (or a nonsense one) are read as 300 dpi, Tesseract's assumption too.
                dpi = int(dpi) if isinstance(dpi, (int, float)) and 70 <= dpi <= 1200 else OCR_DPI
                lines, confidence = _ocr(frame.convert("L"), exe, dpi, f"{source}: page {number}")
                read.append(_PageLines(number, lines, confidence, frame.height * 72 / dpi))
                if progress:
                    progress(number, total)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise InputError(f"{source}: image is corrupt or truncated ({' '.join(str(e).split())[:120]})") from None
    paged = _assemble(read, None)
    if not paged.text:
        raise InputError(f"{source}: OCR found no words in the image")
    return paged
