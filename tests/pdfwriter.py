"""A tiny PDF writer for tests: Helvetica text at x/y positions, optional grey images, many pages.

No dependency, so the PDF tests never need a downloaded file. Coordinates are in points
(1/72 inch) from the page's top-left corner, as one reads a page; the writer converts them
to PDF's bottom-left origin.

Example:
    >>> data = make_pdf([[Text(72, 72, "Hello, world.")]])
    >>> data.startswith(b"%PDF-1.4")
    True
"""
from __future__ import annotations

import textwrap
import zlib
from dataclasses import dataclass

LETTER = (612.0, 792.0)


@dataclass
class Text:
    """A run of text whose baseline-left corner is ``x`` points from the left and ``y`` from the top."""

    x: float
    y: float
    text: str
    size: float = 11.0


@dataclass
class Image:
    """An 8-bit grey image (``pixels``: width*height bytes) drawn over the box x, y, w, h (points from the top-left)."""

    x: float
    y: float
    w: float
    h: float
    width: int
    height: int
    pixels: bytes


def _escape(text: str) -> bytes:
    # Helvetica with WinAnsiEncoding: Latin-1 covers what the tests write; the rest becomes '?'.
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_pdf(pages: list[list[Text | Image]], size: tuple[float, float] = LETTER) -> bytes:
    """A valid PDF 1.4 file with one page per list of ``Text``/``Image`` items (an empty list: a blank page)."""
    width, height = size
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(header: bytes, data: bytes) -> bytes:
        return b"<< " + header + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    catalog, pages_id = add(b""), add(b"")  # filled in once the page ids are known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for items in pages:
        ops, xobjects = [], []
        for item in items:
            if isinstance(item, Image):
                name = b"Im%d" % len(xobjects)
                xobjects.append(b"/%s %d 0 R" % (name, add(stream(
                    b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 8 /Filter /FlateDecode" % (item.width, item.height),
                    zlib.compress(item.pixels)))))
                ops.append(b"q %.2f 0 0 %.2f %.2f %.2f cm /%s Do Q"
                           % (item.w, item.h, item.x, height - item.y - item.h, name))
            else:
                ops.append(b"BT /F1 %.2f Tf %.2f %.2f Td (%s) Tj ET"
                           % (item.size, item.x, height - item.y, _escape(item.text)))
        content = add(stream(b"", b"\n".join(ops)))
        resources = b"<< /Font << /F1 %d 0 R >> /XObject << %s >> >>" % (font, b" ".join(xobjects))
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources %s /Contents %d 0 R >>"
                        % (pages_id, width, height, resources, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [%s] /Count %d >>"
                             % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def column(text: str, *, x: float = 72, y: float = 90, width: int = 88, size: float = 11, leading: float = 14,
           paragraph_gap: float = 10) -> tuple[list[Text], float]:
    """Paragraphs (separated by blank lines in ``text``) wrapped at ``width`` characters, set from ``y`` down.

    Returns:
        The lines, and the y below the last one.
    """
    lines = []
    for paragraph in text.strip().split("\n\n"):
        for line in textwrap.wrap(" ".join(paragraph.split()), width, break_on_hyphens=False):
            lines.append(Text(x, y, line, size))
            y += leading
        y += paragraph_gap
    return lines, y
