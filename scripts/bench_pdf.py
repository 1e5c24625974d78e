#!/usr/bin/env python
"""PDF reading speed: text pages/s and OCR pages/s, on PDFs this script writes, in one run.

Three inputs, each read by ``verify.pipeline.pdf.read_pdf`` in a fresh child process (so each peak
RSS is its own): a long single-column text PDF (~45 lines a page, with a running header
and a page-number footer), a two-column text PDF, and a scanned PDF (300 dpi greyscale
images of text, no text layer) that is OCR'd by Tesseract. The text PDFs are written by
``tests/pdfwriter.py``, the scans by Pillow. "ingest" adds segmentation and storing the
document (``ingest_paths`` into a scratch corpus, as a report: no attribution), which is
what a user waits for.

Example:
    python scripts/bench_pdf.py                       # 500 text pages, 100 two-column, 5 scanned
    python scripts/bench_pdf.py --text-pages 100 --ocr-pages 2 --json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's tiny PDF writer

from pdfwriter import Text, column, make_pdf

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PLACES = ["Geneva", "Brussels", "Vienna", "Madrid", "Warsaw", "Riga", "Oslo"]


def paragraph(i: int, j: int) -> str:
    day, place = DAYS[(i + j) % 5], PLACES[(i * 3 + j) % 7]
    return (f"On {day} the delegations met in {place} for the {i + 1}th round of talks on item {j + 1}. "
            "The United States and its allies proposed reciprocal limits on missile deployments and more "
            "transparency on military exercises, and Russia was invited to answer in writing within two "
            f"weeks. Officials said the proposals on page {i + 1} were shared with every member of the alliance.")


def text_pdf(path: Path, pages: int) -> None:
    out = []
    for i in range(pages):
        lines, _ = column("\n\n".join(paragraph(i, j) for j in range(8)), y=100, width=95, leading=13,
                          paragraph_gap=6)
        out.append([Text(72, 50, "U.S. DEPARTMENT OF STATE - OFFICE OF THE SPOKESPERSON", 8), *lines[:48],
                    Text(280, 760, f"Page {i + 1} of {pages}", 8)])
    path.write_bytes(make_pdf(out))


def two_column_pdf(path: Path, pages: int) -> None:
    out = []
    for i in range(pages):
        left, _ = column("\n\n".join(paragraph(i, j) for j in range(3)), x=54, y=90, width=44, leading=12,
                         paragraph_gap=5, size=10)
        right, _ = column("\n\n".join(paragraph(i, j) for j in range(3, 6)), x=318, y=90, width=44, leading=12,
                          paragraph_gap=5, size=10)
        out.append([*left, *right])
    path.write_bytes(make_pdf(out))


def scanned_pdf(path: Path, pages: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=42)  # ~10 pt at 300 dpi
    images = []
    for i in range(pages):
        im = Image.new("L", (2550, 3300), 255)  # US Letter at 300 dpi
        draw = ImageDraw.Draw(im)
        words = " ".join(paragraph(i, j) for j in range(5)).split()
        line, y = [], 200
        for w in words:
            if len(" ".join(line + [w])) > 85:
                draw.text((200, y), " ".join(line), fill=0, font=font)
                line, y = [], y + 68
            line.append(w)
        draw.text((200, y), " ".join(line), fill=0, font=font)
        images.append(im)
    images[0].save(path, "PDF", resolution=300, save_all=True, append_images=images[1:])


def measure(kind: str, path: Path) -> dict:
    """Run in a child process: read (and separately ingest) one PDF; time, pages, words, peak RSS."""
    import pdfplumber  # noqa: F401  (imported before the clock starts: a one-off cost, not per page)
    import pypdfium2  # noqa: F401

    from verify.pipeline.ingest import ingest_paths
    from verify.pipeline.pdf import read_pdf
    from verify.pipeline.segment import segment
    from verify.store.corpus import Corpus

    segment("Warm up the sentence splitter.")  # pysbd's first call compiles its rules
    seen = []
    start = time.perf_counter()
    paged = read_pdf(path, progress=lambda done, total: seen.append(done))
    read_s = time.perf_counter() - start
    ocr = [p.ocr_confidence for p in paged.pages if p.ocr_confidence is not None]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(Path(tmp) / "corpus.db")
        start = time.perf_counter()
        (result,) = ingest_paths(corpus, "report", [path], allow_any_language=True)
        ingest_s = time.perf_counter() - start
        corpus.close()
    if result.error:
        raise SystemExit(result.error)
    return {"kind": kind, "pages": len(seen), "file_mb": round(path.stat().st_size / 1e6, 2),
            "words": len(paged.text.split()), "read_s": round(read_s, 2),
            "read_pages_per_s": round(len(seen) / read_s, 2), "ingest_s": round(ingest_s, 2),
            "ingest_pages_per_s": round(len(seen) / ingest_s, 2), "sentences": result.sentences,
            "ocr_confidence": round(sum(ocr) / len(ocr), 3) if ocr else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text-pages", type=int, default=500)
    ap.add_argument("--column-pages", type=int, default=100)
    ap.add_argument("--ocr-pages", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--one", nargs=2, metavar=("KIND", "PDF"), help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], Path(args.one[1]))))
        return 0
    cases = [("text, 1 column", args.text_pages, text_pdf), ("text, 2 columns", args.column_pages, two_column_pdf)]
    if shutil.which("tesseract"):
        cases.append(("scanned (OCR)", args.ocr_pages, scanned_pdf))
    else:
        print("tesseract is not on PATH: the OCR row is left out", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, pages, write in cases:
            if pages <= 0:
                continue
            path = Path(tmp) / (kind.split(",")[0].split(" ")[0] + f"-{pages}.pdf")
            write(path, pages)
            child = subprocess.run([sys.executable, __file__, "--one", kind, str(path)], capture_output=True,
                                   text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                return 2
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count(), "rows": rows}, indent=2))
        return 0
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (the machine may be shared)")
    print("| input | pages | file MB | read pages/s | ingest pages/s | sentences | OCR confidence | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['pages']} | {r['file_mb']} | {r['read_pages_per_s']} ({r['read_s']} s) "
              f"| {r['ingest_pages_per_s']} ({r['ingest_s']} s) | {r['sentences']} "
              f"| {r['ocr_confidence'] if r['ocr_confidence'] is not None else '-'} | {r['peak_rss_mb']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
