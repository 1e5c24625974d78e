"""PDFs and scans: pages and offsets, headers and footers, hyphenation, columns, OCR, bad files.

Every PDF is written by the test itself (tests/pdfwriter.py for text pages, Pillow for scans,
pypdf to encrypt one); nothing is downloaded. OCR tests skip where ``tesseract`` is not on
PATH; the "no OCR installed" path is tested everywhere by hiding it.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

import verify.pipeline.pdf as pdf_mod
from verify.cli import app
from verify.errors import InputError
from verify.pipeline.ingest import ingest_paths, read_file
from verify.store.corpus import Corpus

from conftest import FakeEmbedder, FakeNLI
from pdfwriter import Image, Text, column, make_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not on PATH (apt-get install tesseract-ocr tesseract-ocr-eng)")

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PLACES = ["Geneva", "Brussels", "Vienna", "Madrid", "Warsaw", "Riga", "Oslo"]


def page_body(i: int) -> str:
    """Two paragraphs that differ from page to page (real pages never repeat their body)."""
    day, place = DAYS[i % 7], PLACES[(i // 7) % 7]
    return (f"The United States delivered its written response to Russia on {day} in {place}. It sets out a "
            f"serious diplomatic path forward, should Russia choose it, and it was shared with allies on page {i + 1}."
            f"\n\nThe response proposes reciprocal transparency measures on exercises near {place}, the "
            f"spokesman said on {day}.")


def write(tmp_path, name: str, pages) -> os.PathLike:
    p = tmp_path / name
    p.write_bytes(make_pdf(pages))
    return p


def ingest_one(corpus, path, kind="official", meta=None, **kw):
    results = ingest_paths(corpus, kind, [path], meta, **kw)
    assert len(results) == 1
    return results[0]


def sentences(corpus, doc_id):
    return list(corpus.sentences(document_id=doc_id))


def counts(corpus):
    return corpus.count("documents"), corpus.count("sentences")


def scan(lines: list[str], width: int = 2200, px: int = 46, height: int | None = None):
    """Black text on white, as a 300 dpi scan of it would look (``px``: letter height, ~11 pt)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has no scalable default font
        pytest.skip("Pillow >= 10.1 is needed for a scalable default font")
    im = PILImage.new("L", (width, height or 160 + int(px * 1.6) * len(lines)), 255)
    draw = ImageDraw.Draw(im)
    for n, line in enumerate(lines):
        draw.text((120, 80 + int(px * 1.6) * n), line, fill=0, font=font)
    return im


SCANNED = ["The alliance proposed reciprocal limits on missile deployments",
           "in Europe and invited Russia to the council. The ministers",
           "will meet again in Brussels on Tuesday to discuss the reply."]


def scanned_page(lines: list[str], stamp: str | None = None) -> list:
    """A pdfwriter page that is a full-page 300 dpi image of text (no text layer), with an optional
    stamp in the text layer, as an archive or a newspaper adds ("EL PAIS 0002")."""
    im = scan(lines, width=2550, height=3300)  # US Letter at 300 dpi
    return [Image(0, 0, 612, 792, im.width, im.height, im.tobytes())] + ([Text(480, 780, stamp, 8)] if stamp else [])


# --- text PDFs ------------------------------------------------------------------------------------

def test_text_pdf_sentences_know_their_page_and_offsets(corpus, tmp_path):
    pages = [column(page_body(i))[0] for i in range(3)]
    p = write(tmp_path, "briefing.pdf", pages)
    r = ingest_one(corpus, p, meta={"speaker": "Ned Price", "date": "2022-01-26"})
    assert r.error is None and r.created, r.error
    doc = corpus.document(r.document_id)
    assert doc["format"] == "pdf" and doc["speaker"] == "Ned Price" and doc["published"] == "2022-01-26"
    sents = sentences(corpus, r.document_id)
    assert len(sents) == r.sentences == 9
    for s in sents:
        assert doc["text"][s["start"]:s["end"]] == s["text"]
        assert s["ocr_confidence"] is None
    for i, day in enumerate(DAYS[:3]):
        on_page = [s for s in sents if f"to Russia on {day}" in s["text"]]
        assert len(on_page) == 1 and on_page[0]["page"] == i + 1
    # wrapped lines are one sentence again (a line break would have ended it)
    assert any(s["text"] == "It sets out a serious diplomatic path forward, should Russia choose it, and it was shared "
                            "with allies on page 2." for s in sents)
    assert [s["page"] for s in sents] == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_reingesting_the_same_pdf_is_unchanged(corpus, tmp_path):
    p = write(tmp_path, "a.pdf", [column(page_body(0))[0]])
    first = ingest_one(corpus, p)
    again = ingest_one(corpus, p)
    assert not again.created and again.document_id == first.document_id


def test_repeated_headers_and_footers_are_dropped(corpus, tmp_path):
    pages = []
    for i in range(4):
        # A line that repeats inside the body of every page is text, not furniture: it stays.
        first, second = page_body(i).split("\n\n")
        lines, _ = column(f"{first}\n\nWe remain committed to the open door of the alliance.\n\n{second}", y=110)
        pages.append([Text(72, 40, "U.S. DEPARTMENT OF STATE", 9), Text(72, 54, "Office of the Spokesperson", 9),
                      *lines, Text(270, 750, f"Page {i + 1} of 4", 9)])
    r = ingest_one(corpus, write(tmp_path, "notes.pdf", pages))
    text = corpus.document(r.document_id)["text"]
    for furniture in ("DEPARTMENT OF STATE", "Spokesperson", "Page 1 of 4", "Page 4 of 4", "of 4"):
        assert furniture not in text
    assert text.count("We remain committed to the open door of the alliance.") == 4
    assert "delivered its written response to Russia on Thursday" in text
    assert all(s["page"] in (1, 2, 3, 4) for s in sentences(corpus, r.document_id))


def test_pages_that_end_alike_keep_their_text(corpus, tmp_path):
    """Repetition alone is not furniture: a line must also sit in the page's top or bottom margin."""
    ending = "Officials said the proposals were shared with every member of the alliance."
    pages = [column(f"{page_body(i)} {ending}", y=300)[0] for i in range(2)]
    r = ingest_one(corpus, write(tmp_path, "short.pdf", pages))
    assert corpus.document(r.document_id)["text"].count(ending) == 2


def test_a_single_page_keeps_its_heading(corpus, tmp_path):
    """Nothing repeats on one page: its first line is the title, not furniture."""
    lines, _ = column(page_body(0), y=110)
    r = ingest_one(corpus, write(tmp_path, "one.pdf", [[Text(72, 60, "Remarks to the Press", 16), *lines]]))
    doc = corpus.document(r.document_id)
    assert doc["title"] == "Remarks to the Press" and doc["text"].startswith("Remarks to the Press\n")


def test_hyphenation_at_line_ends_is_repaired(corpus, tmp_path):
    page1 = [Text(72, 90, "The ministry published the docu-"), Text(72, 104, "ment on Tuesday, and the anti-"),
             Text(72, 118, "American protest ended before the talks. The negoti-")]
    page2 = [Text(72, 90, "ations in Geneva continued on Wednesday with the allies.")]
    r = ingest_one(corpus, write(tmp_path, "hyphen.pdf", [page1, page2]))
    doc = corpus.document(r.document_id)
    assert "published the document on Tuesday" in doc["text"]
    assert "the anti-American protest" in doc["text"]  # before a capital the hyphen is the word's own
    assert "docu-" not in doc["text"] and "negoti" not in doc["text"].replace("negotiations", "")
    sents = {s["text"]: s for s in sentences(corpus, r.document_id)}
    # a sentence running on to the next page stays one sentence, on the page it starts on
    run_on = sents["The negotiations in Geneva continued on Wednesday with the allies."]
    assert run_on["page"] == 1
    assert doc["text"][run_on["start"]:run_on["end"]] == run_on["text"]


def test_two_columns_are_read_left_then_right(corpus, tmp_path):
    left = ("The left column opens the statement. The alliance proposed reciprocal limits on missile "
            "deployments in Europe and more transparency on exercises, the secretary general said.")
    right = ("The right column follows it. Russia was invited to the NATO-Russia Council to discuss these "
             "proposals, and the allies asked for an answer within two weeks of the meeting.")
    lines_l, _ = column(left, x=72, y=120, width=42, paragraph_gap=0)
    lines_r, _ = column(right, x=330, y=123, width=42, paragraph_gap=0)  # baselines a little off, as in print
    title = Text(72, 70, "Statement by the North Atlantic Council on the Security Situation in Europe", 13)
    r = ingest_one(corpus, write(tmp_path, "columns.pdf", [[title, *lines_l, *lines_r]]))
    text = corpus.document(r.document_id)["text"]
    assert text.index("Statement by the North Atlantic") < text.index("The left column") < text.index("The right column")
    got = [s["text"] for s in sentences(corpus, r.document_id)]
    assert ("The alliance proposed reciprocal limits on missile deployments in Europe and more transparency on "
            "exercises, the secretary general said.") in got
    assert ("Russia was invited to the NATO-Russia Council to discuss these proposals, and the allies asked for an "
            "answer within two weeks of the meeting.") in got


def test_a_single_ragged_column_is_not_split(corpus, tmp_path):
    text = " ".join(page_body(i).replace("\n\n", " ") for i in range(3))
    lines, _ = column(text, width=60)
    r = ingest_one(corpus, write(tmp_path, "single.pdf", [lines]))
    assert corpus.document(r.document_id)["text"] == " ".join(text.split())


def test_500_pages_stream_with_progress_and_bounded_memory(corpus, tmp_path, monkeypatch):
    import pdfplumber

    pages = [column(f"Statement {i + 1}: the talks in {PLACES[i % 7]} continued on {DAYS[i % 7]}, "
                    f"the spokesman said.")[0] for i in range(500)]
    p = write(tmp_path, "long.pdf", pages)
    opened = []
    real_open = pdfplumber.open

    def spy(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(pdfplumber, "open", spy)
    shares, cached = [], []

    def progress(n):
        shares.append(n)
        # Every page read so far has dropped its parsed objects: memory is one page's, not 500.
        cached.append(sum(hasattr(page, "_objects") for page in opened[0].pages))

    r = ingest_one(corpus, p, kind="report", progress=progress)
    assert r.error is None, r.error
    assert len(shares) == 500 and sum(shares) == 1.0  # exactly: shares are binary fractions
    assert max(cached) == 0
    sents = sentences(corpus, r.document_id)
    assert len(sents) == 500 and [s["page"] for s in sents] == list(range(1, 501))
    last = f"Statement 500: the talks in {PLACES[499 % 7]} continued on {DAYS[499 % 7]}, the spokesman said."
    assert sents[-1]["text"] == last


def test_progress_counts_files_and_pages(corpus, tmp_path):
    (tmp_path / "a.txt").write_text("The alliance proposed reciprocal limits on missile deployments.\n")
    write(tmp_path, "b.pdf", [column(page_body(i))[0] for i in range(4)])
    write(tmp_path, "c.pdf", [[Text(72, 72, "broken")]])
    (tmp_path / "c.pdf").write_bytes((tmp_path / "c.pdf").read_bytes()[:200])
    got = []
    ingest_paths(corpus, "official", [tmp_path], progress=got.append)
    assert got[0] == 1 and got[1:5] == [0.25] * 4 and sum(got) == 3


# --- OCR ------------------------------------------------------------------------------------------

@needs_tesseract
def test_scanned_pdf_is_ocrd_with_confidence(corpus, tmp_path):
    p = tmp_path / "facsimile.pdf"
    scan(SCANNED).save(p, "PDF", resolution=300)
    r = ingest_one(corpus, p)
    assert r.error is None, r.error
    doc = corpus.document(r.document_id)
    sents = sentences(corpus, r.document_id)
    texts = [s["text"] for s in sents]
    assert "The ministers will meet again in Brussels on Tuesday to discuss the reply." in texts
    for s in sents:
        assert s["page"] == 1 and 0.5 < s["ocr_confidence"] <= 1.0
        assert doc["text"][s["start"]:s["end"]] == s["text"]


@needs_tesseract
def test_only_pages_without_a_text_layer_are_ocrd(corpus, tmp_path, monkeypatch):
    calls = []
    real = pdf_mod._ocr
    monkeypatch.setattr(pdf_mod, "_ocr", lambda image, exe, dpi, where: calls.append(where) or real(image, exe, dpi, where))
    # page 2 is a scan with a stamp: a few words of text layer do not make it a text page
    pages = [column(page_body(0))[0], scanned_page(SCANNED, stamp="EL PAIS 0002"), column(page_body(2))[0]]
    r = ingest_one(corpus, write(tmp_path, "mixed.pdf", pages))
    assert r.error is None, r.error
    assert calls == [f"{tmp_path / 'mixed.pdf'}: page 2"]
    by_page = {}
    for s in sentences(corpus, r.document_id):
        by_page.setdefault(s["page"], []).append(s)
    assert sorted(by_page) == [1, 2, 3]
    assert all(s["ocr_confidence"] is None for n in (1, 3) for s in by_page[n])
    assert all(0.5 < s["ocr_confidence"] <= 1 for s in by_page[2])
    assert any("missile deployments in Europe" in s["text"] for s in by_page[2])


@needs_tesseract
def test_image_files_are_ocrd(corpus, tmp_path):
    for name in ("scan.png", "scan.tif", "scan.jpg"):
        scan(SCANNED).save(tmp_path / name, dpi=(300, 300))
    results = ingest_paths(corpus, "report", [tmp_path])
    assert [os.path.basename(r.source) for r in results] == ["scan.jpg", "scan.png", "scan.tif"]
    first = results[0]
    assert first.error is None and first.created, first.error
    assert corpus.document(first.document_id)["format"] == "image"
    assert all(s["page"] == 1 and s["ocr_confidence"] > 0.5 for s in sentences(corpus, first.document_id))


def test_scanned_pages_without_tesseract_are_refused(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    pages = [column(page_body(0))[0], scanned_page(SCANNED), scanned_page(SCANNED[::-1])]
    p = write(tmp_path, "facsimile.pdf", pages)
    r = ingest_one(corpus, p)
    assert r.error == (f"{p}: pages 2, 3 have no text layer and OCR (tesseract) is not installed; "
                       "install tesseract-ocr to read scans")
    assert counts(corpus) == (0, 0)
    # a stamped scan keeps its stamp's text rather than failing the file
    stamped = write(tmp_path, "stamped.pdf", [column(page_body(0))[0], scanned_page(SCANNED, stamp="EL PAIS 0002")])
    r = ingest_one(corpus, stamped)
    assert r.error is None and "EL PAIS 0002" in corpus.document(r.document_id)["text"]
    assert "missile" not in corpus.document(r.document_id)["text"]
    img = tmp_path / "scan.png"
    scan(SCANNED).save(img)
    before = counts(corpus)
    r = ingest_one(corpus, img)
    assert r.error and "OCR (tesseract) is not installed" in r.error and counts(corpus) == before


# --- bad PDFs: one line, nothing stored -------------------------------------------------------------

def _encrypted(tmp_path, user_password: str):
    pypdf = pytest.importorskip("pypdf", reason="pypdf (the test extra) encrypts a PDF for this test")
    plain = write(tmp_path, "plain.pdf", [column(page_body(0))[0]])
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(plain))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    out = tmp_path / f"locked-{bool(user_password)}.pdf"
    with open(out, "wb") as f:
        writer.write(f)
    return out


def test_encrypted_pdf_is_refused(corpus, tmp_path):
    p = _encrypted(tmp_path, "reader-secret")
    r = ingest_one(corpus, p)
    assert r.error == f"{p}: encrypted; decrypt it first"
    assert counts(corpus) == (0, 0)


def test_pdf_that_opens_with_an_empty_password_is_read(corpus, tmp_path):
    r = ingest_one(corpus, _encrypted(tmp_path, ""))
    assert r.error is None and "written response to Russia on Monday" in corpus.document(r.document_id)["text"]


def _valid(tmp_path) -> bytes:
    return make_pdf([column(page_body(i))[0] for i in range(2)])


BAD_PDFS = {
    "truncated": (lambda t: _valid(t)[: len(_valid(t)) // 2], "truncated or corrupt"),
    "garbage": (lambda t: b"%PDF-1.7 some pdf", "truncated or corrupt"),
    "corrupt_body": (lambda t: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n"
                               b"%%EOF\n", "PDF is corrupt"),
    "not_a_pdf": (lambda t: b"The alliance proposed reciprocal limits.\n%%EOF\n", "not a PDF file"),
    "empty_file": (lambda t: b"", "file is empty"),
    "no_pages": (lambda t: make_pdf([]), "the PDF has no pages"),
    "blank_pages": (lambda t: make_pdf([[], []]), "no text in the PDF (2 pages, none with words)"),
}


@pytest.mark.parametrize("name", list(BAD_PDFS))
def test_bad_pdf_is_one_line_and_nothing_is_stored(corpus, tmp_path, name):
    make, message = BAD_PDFS[name]
    p = tmp_path / f"{name}.pdf"
    p.write_bytes(make(tmp_path))
    r = ingest_one(corpus, p)
    assert r.error is not None and message in r.error, r.error
    assert r.error.startswith(str(p)) and "\n" not in r.error
    assert r.document_id is None and counts(corpus) == (0, 0)
    with pytest.raises(InputError):
        read_file(p, "official", {})


def test_folder_with_a_broken_pdf_reports_it_as_failed(corpus, tmp_path):
    d = tmp_path / "drop"
    d.mkdir()
    (d / "a.txt").write_text("The alliance proposed reciprocal limits on missile deployments.\n")
    write(d, "b.pdf", [column(page_body(1))[0]])
    (d / "c.pdf").write_bytes(_valid(tmp_path)[:300])
    results = ingest_paths(corpus, "official", [d])
    assert [os.path.basename(r.source) for r in results] == ["a.txt", "b.pdf", "c.pdf"]
    assert results[0].created and results[1].created and results[2].status == "error"
    assert "truncated or corrupt" in results[2].error
    assert corpus.count("documents") == 2


def test_pdfs_have_their_own_size_limit(corpus, tmp_path, monkeypatch):
    p = write(tmp_path, "big.pdf", [column(page_body(0))[0]])
    monkeypatch.setenv("VERIFY_MAX_BYTES", "100")  # the text limit does not apply to PDFs
    assert ingest_one(corpus, p).error is None
    monkeypatch.setenv("VERIFY_MAX_PDF_BYTES", "100")
    r = ingest_one(corpus, write(tmp_path, "bigger.pdf", [column(page_body(1))[0]]))
    assert r.error and "limit" in r.error and "VERIFY_MAX_PDF_BYTES" in r.error


# --- the command line and the evidence trail ----------------------------------------------------------

@pytest.fixture
def fake_models(monkeypatch, register_models):
    register_models(embedder=FakeEmbedder, nli=lambda spec: FakeNLI())
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    monkeypatch.delenv("VERIFY_DB", raising=False)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)


def test_cli_ingests_a_pdf_and_explain_names_the_page(fake_models, tmp_path):
    db = tmp_path / "corpus.db"
    p = write(tmp_path, "briefing.pdf", [column(page_body(i))[0] for i in range(2)])
    r = invoke("ingest", "official", p, "--db", db, "--speaker", "Ned Price", "--date", "2022-01-26")
    assert r.exit_code == 0, r.output
    assert "1 added, 0 unchanged, 0 failed" in r.stderr
    claim = "The response proposes reciprocal transparency measures on exercises near Geneva, the spokesman said on Tuesday."
    r = invoke("claim", claim, "--db", db, "--format", "json", "-q", "--save")
    assert r.exit_code == 0, r.output
    claim_id = json.loads(r.stdout)["claims"][0]["claim_id"]
    trail = json.loads(invoke("explain", claim_id, "--db", db, "--json").stdout)
    best = trail["evidence"][0]
    assert best["text"] == claim and best["page"] == 2 and best["ocr_confidence"] is None
    text = invoke("explain", claim_id, "--db", db).stdout
    assert f"document {best['document_id']} page 2 chars" in text and "OCR" not in text


@needs_tesseract
def test_cli_flags_ocr_text_in_the_evidence_trail(fake_models, tmp_path):
    db = tmp_path / "corpus.db"
    p = tmp_path / "facsimile.pdf"
    scan(SCANNED).save(p, "PDF", resolution=300)
    r = invoke("ingest", "official", p, "--db", db, "--speaker", "Jens Stoltenberg")
    assert r.exit_code == 0, r.output
    claim = "The ministers will meet again in Brussels on Tuesday to discuss the reply."
    r = invoke("claim", claim, "--db", db, "--format", "json", "-q", "--save")
    claim_id = json.loads(r.stdout)["claims"][0]["claim_id"]
    best = json.loads(invoke("explain", claim_id, "--db", db, "--json").stdout)["evidence"][0]
    assert best["page"] == 1 and 0.5 < best["ocr_confidence"] <= 1
    text = invoke("explain", claim_id, "--db", db).stdout
    assert f"page 1 (OCR, confidence {best['ocr_confidence']:.2f})" in text


@pytest.mark.parametrize("name", ["encrypted", "truncated"])
def test_cli_bad_pdf_is_one_error_line_and_exit_2(fake_models, tmp_path, name):
    db = tmp_path / "corpus.db"
    if name == "encrypted":
        p, message = _encrypted(tmp_path, "reader-secret"), "encrypted; decrypt it first"
    else:
        p, message = tmp_path / "cut.pdf", "truncated or corrupt"
        p.write_bytes(_valid(tmp_path)[:500])
    r = invoke("ingest", "official", p, "--db", db)
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in r.output
    assert Corpus(db).count("documents") == 0
    r = invoke("check", p, "--db", db)  # raised to verify.cli.main, which prints it as "error: ..." with exit 2
    assert isinstance(r.exception, InputError) and str(r.exception).startswith(f"{p}: ") and message in str(r.exception)
