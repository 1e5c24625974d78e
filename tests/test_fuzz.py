"""Fuzzing text cleaning, sentence splitting and file reading with hypothesis.

Whatever the input, ``normalise_text`` + ``segment`` never raise and every sentence points
at exactly its own text; ``read_file`` either returns documents whose sentences map back
exactly (and survive a round trip through the database) or raises ``InputError``: never
any other exception.
"""
from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from verify.errors import InputError
from verify.pipeline.ingest import normalise_text, read_file
from verify.pipeline.segment import segment
from verify.store.corpus import Corpus

# FUZZ_EXAMPLES=5000 for a longer hunt; 200 keeps the suite quick.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES") or 200), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces that stress cleaning and splitting: line endings, invisible and combining characters,
# emoji sequences, right-to-left text and controls, abbreviations, speaker labels, furniture.
SPECIAL = [
    "\r", "\n", "\r\n", "\n\n\n", "\t", "\x00", "\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029",
    "\xa0", "\u200b", "\u200d", "\u2003", "\ufeff", "\u0301", "\u0308\u0323", "e\u0301", "\u1100\u1161",
    "👍🏽", "👨‍👩‍👧", "🇺🇦", "שלום עולם. ", "مرحبا بالعالم. ", "\u202e", "\u202c", "\u200f", "ﬁ", "Å", "Ω",
    "U.S. ", "Mr. ", "Sec. ", "No. 5 ", "e.g. ", "...", "?!", "…", "“", "”", "\"", "'", ":", " - ", "•",
    "SECRETARY BLINKEN: ", "QUESTION: ", "MR. PRICE: ", "Back to top", "Share this article", "#", "* ", "> ",
    "NATO offered Russia talks on missile limits. ", "The alliance door remains open! ", "Why? ",
]
pieces = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=30),
                   st.text(alphabet="abc .,;:!?\n\r'\"", max_size=40))
texts = st.one_of(
    st.text(),
    st.lists(pieces, max_size=80).map("".join),
    st.tuples(st.integers(200, 3000), st.sampled_from(["word ", "Word. ", "a.b.", "x", "é", " "]))
      .map(lambda t: t[1] * t[0]),  # very long lines
)


def assert_exact(text, sentences):
    previous_end = 0
    for s in sentences:
        assert 0 <= s.start < s.end <= len(text), (s, len(text))
        assert text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and any(ch.isalpha() for ch in s.text)
        assert s.start >= previous_end, "sentences overlap or are out of order"
        previous_end = s.end


@FUZZ
@given(texts)
@example("Caf\u200be\u0301 is open. Really?\r\nYes.\rNo.")
@example("\x00\x00 NATO met. \x00")
@example("a" * 5000)
def test_normalised_text_segments_exactly(raw):
    text = normalise_text(raw)
    for bad in ("\r", "\t", "\xa0", "\u200b", "\n\n\n"):
        assert bad not in text
    assert text == text.strip()
    assert all(line == line.strip() and "  " not in line for line in text.split("\n"))
    assert_exact(text, segment(text))


@FUZZ
@given(texts)
def test_segment_is_exact_on_raw_text_too(raw):
    """segment() is public: its offsets hold for any text, cleaned or not."""
    assert_exact(raw, segment(raw, default_speaker="Someone"))


def test_normalised_text_is_nfc_and_normalising_twice_changes_nothing():
    once = normalise_text("Cafe\u200b\u0301 talks resumed.")
    assert unicodedata.is_normalized("NFC", once)
    assert normalise_text(once) == once
    assert once == normalise_text("Caf\u00e9 talks resumed.")


# --- files -------------------------------------------------------------------------------------

ENGLISH = st.lists(st.sampled_from([
    "The United States delivered a written response to Russia on Wednesday.",
    "NATO will not halt its enlargement, and the alliance door remains open.",
    "Washington is ready to discuss reciprocal limits on military exercises in Europe.",
    "It was said that the talks in Geneva were useful for both sides.",
]), min_size=1, max_size=6).map(" ".join)
text_bodies = st.one_of(texts, ENGLISH, st.tuples(ENGLISH, texts).map("\n".join))
json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
                        st.sampled_from(["2022-01-26", "2022-01-26T10:00:00Z", "26/01/2022", "https://example.org/a",
                                         "javascript:alert(1)", "official", "report", "blog"]),
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
plain_meta = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(SPECIAL))
good_rows = st.fixed_dictionaries(
    {"text": st.one_of(ENGLISH, st.tuples(ENGLISH, texts).map("\n".join))}, optional={
        "title": plain_meta, "speaker": plain_meta, "publisher": plain_meta, "kind": st.sampled_from(["official", "report"]),
        "date": st.sampled_from(["2022-01-26", "2022-01-26T10:00:00+01:00", "", None]),
        "url": st.sampled_from(["https://example.org/a?b=c", "HTTP://EXAMPLE.ORG/", "", None])})
jsonl_rows = st.one_of(
    good_rows,
    st.dictionaries(st.sampled_from(["text", "title", "url", "date", "published", "kind", "speaker", "publisher",
                                     "other"]), st.one_of(json_values, text_bodies), max_size=6),
)
jsonl_files = st.one_of(
    st.lists(good_rows, min_size=1, max_size=4).map(lambda rows: "\n".join(json.dumps(r) for r in rows)),
    st.lists(jsonl_rows, max_size=4).map(lambda rows: "\n".join(json.dumps(r) for r in rows)),
    st.lists(st.one_of(jsonl_rows.map(json.dumps), st.text(max_size=40)), max_size=4).map("\n".join),
)
tags = st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<script>", "</script>", "<style>", "<br>", "<nav>",
                        "</nav>", "<title>", "</title>", "<![CDATA[", "]]>", "<!--", "-->", "<!DOCTYPE html>",
                        "<![if !IE]>", "<?xml ?>", "&amp;", "&#0;", "&#x110000;", "&#9999999999;", "&nbsp;", "<a href='",
                        '<meta property="og:url" content="javascript:alert(1)">', "<", ">", "</", "<<>>"])
html_files = st.lists(st.one_of(tags, text_bodies), max_size=30).map("".join)

encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])
file_bytes = st.one_of(
    st.binary(max_size=2000),
    st.tuples(text_bodies, encodings).map(lambda t: t[0].encode(t[1], errors="replace")),
)


def _payload(draw_suffix, data):
    suffix = draw_suffix
    if suffix == ".jsonl":
        return data.draw(st.one_of(jsonl_files.map(str.encode), file_bytes))
    if suffix in (".html", ".htm"):
        return data.draw(st.one_of(html_files.map(str.encode), file_bytes))
    return data.draw(file_bytes)


_DIR = Path(tempfile.mkdtemp(prefix="verify-fuzz-"))


@FUZZ
@given(st.sampled_from([".txt", ".md", ".html", ".jsonl"]), st.sampled_from(["official", "report"]),
       st.booleans(), st.data())
def test_read_file_returns_exact_documents_or_input_error(suffix, kind, any_language, data):
    payload = _payload(suffix, data)
    path = _DIR / f"input{suffix}"
    path.write_bytes(payload)
    try:
        docs = read_file(path, kind, {}, allow_any_language=any_language)
    except InputError as e:
        assert str(e)  # a message for the user
        event(f"{suffix}: InputError")
        return
    event(f"{suffix}: accepted")
    assert docs
    corpus = Corpus(":memory:")
    for doc in docs:
        assert doc.text and doc.sentences
        assert doc.kind in ("official", "report")
        assert_exact(doc.text, doc.sentences)
        result = corpus.add_document(doc)
        stored = corpus.document(result.document_id)
        assert stored["text"] == doc.text
        rows = list(corpus.sentences(document_id=result.document_id))
        if result.created:
            assert [(r["start"], r["end"], r["text"]) for r in rows] == [(s.start, s.end, s.text) for s in doc.sentences]
        for r in rows:
            assert stored["text"][r["start"]:r["end"]] == r["text"]
        if doc.url is not None:
            assert doc.url.lower().startswith(("http://", "https://"))
    corpus.close()
