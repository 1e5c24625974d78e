"""Reading sources into documents: formats, metadata, dedup, and every kind of bad input."""
from __future__ import annotations

import json
import os

import pytest

from verify.errors import InputError
from verify.pipeline.ingest import ingest_paths, normalise_text, read_file

from conftest import SEEDS, needs_shared

ENGLISH = ("The United States delivered its written response to Russia on Wednesday. "
           "It sets out a serious diplomatic path forward, should Russia choose it.\n")
GERMAN = ("Die Vereinigten Staaten haben Russland heute ihre schriftliche Antwort übergeben. Wir bleiben "
          "der offenen Tür der NATO verpflichtet und setzen weiterhin auf Diplomatie und Dialog mit Partnern.\n")


def counts(corpus):
    return corpus.count("documents"), corpus.count("sentences")


def ingest_one(corpus, path, kind="official", meta=None, **kw):
    results = ingest_paths(corpus, kind, [path], meta, **kw)
    assert len(results) == 1
    return results[0]


# --- formats ------------------------------------------------------------------------------

def test_txt_with_metadata(corpus, tmp_path):
    p = tmp_path / "remarks.txt"
    p.write_text("Remarks on the written response\n\n" + ENGLISH, encoding="utf-8")
    r = ingest_one(corpus, p, meta={"speaker": "Antony Blinken", "date": "2022-01-26T15:00:00",
                                    "url": "https://www.state.gov/remarks", "publisher": "U.S. Department of State"})
    assert r.error is None and r.created and r.status == "added"
    doc = corpus.document(r.document_id)
    assert doc["kind"] == "official" and doc["format"] == "txt" and doc["source"] == str(p)
    assert doc["speaker"] == "Antony Blinken" and doc["published"] == "2022-01-26"
    assert doc["url"] == "https://www.state.gov/remarks" and doc["publisher"] == "U.S. Department of State"
    assert doc["title"] == "Remarks on the written response"  # a short first line without a full stop
    sents = list(corpus.sentences(document_id=r.document_id))
    assert r.sentences == len(sents) == 3
    assert all(s["speaker"] == "Antony Blinken" for s in sents)
    assert all(doc["text"][s["start"]:s["end"]] == s["text"] for s in sents)


def test_first_line_that_is_a_sentence_is_not_a_title(corpus, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(ENGLISH)
    assert corpus.document(ingest_one(corpus, p).document_id)["title"] is None


def test_markdown_is_stripped_and_titled(corpus, tmp_path):
    p = tmp_path / "leak.md"
    p.write_text("# Leaked replies to Moscow\n\n"
                 "A **Madrid newspaper** published two [documents](https://elpais.com/x) on Wednesday.\n\n"
                 "- The U.S. reply proposes *reciprocal* limits on exercises.\n"
                 "> Officials delivered both replies on January 26.\n", encoding="utf-8")
    r = ingest_one(corpus, p, kind="report")
    doc = corpus.document(r.document_id)
    assert doc["title"] == "Leaked replies to Moscow" and doc["format"] == "md" and doc["kind"] == "report"
    for junk in ("**", "](", "https://elpais.com", "# ", "- The", "> ", "*reciprocal*"):
        assert junk not in doc["text"]
    texts = [s["text"] for s in corpus.sentences(document_id=r.document_id)]
    assert "A Madrid newspaper published two documents on Wednesday." in texts
    assert "The U.S. reply proposes reciprocal limits on exercises." in texts


HTML = """<!doctype html><html><head><title>Remarks to the Press</title>
<meta property="article:published_time" content="2022-01-26T17:00:00Z">
<meta property="og:site_name" content="U.S. Department of State">
<link rel="canonical" href="https://www.state.gov/remarks-to-the-press">
<script>var secret = "The script text must never be ingested as a sentence.";</script>
<style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> Navigation text that must vanish.</nav>
<header>Header banner text that must vanish.</header>
<article><h1>Remarks to the Press</h1>
<p>The United States delivered its written response to Russia today.</p>
<p>We remain committed to NATO&#39;s open door policy &amp; to diplomacy.<br>The door remains open.</p>
<form><button>Subscribe button text</button></form>
</article><footer>Footer text that must vanish.</footer></body></html>"""


def test_html_drops_scripts_and_navigation_and_reads_metadata(corpus, tmp_path):
    p = tmp_path / "page.html"
    p.write_text(HTML, encoding="utf-8")
    r = ingest_one(corpus, p)
    assert r.error is None
    doc = corpus.document(r.document_id)
    assert doc["title"] == "Remarks to the Press"
    assert doc["url"] == "https://www.state.gov/remarks-to-the-press"
    assert doc["published"] == "2022-01-26"
    assert doc["publisher"] == "U.S. Department of State"
    for gone in ("script text", "color: red", "Navigation text", "Header banner", "Footer text", "Subscribe",
                 "<p>", "&amp;", "&#39;"):
        assert gone not in doc["text"], gone
    texts = [s["text"] for s in corpus.sentences(document_id=r.document_id)]
    assert "We remain committed to NATO's open door policy & to diplomacy." in texts
    assert "The door remains open." in texts  # <br> ends a sentence


def test_html_metadata_given_on_the_command_line_wins(corpus, tmp_path):
    p = tmp_path / "page.htm"
    p.write_text(HTML, encoding="utf-8")
    r = ingest_one(corpus, p, meta={"title": "My title", "date": "2022-01-27"})
    doc = corpus.document(r.document_id)
    assert (doc["title"], doc["published"]) == ("My title", "2022-01-27")
    assert doc["url"] == "https://www.state.gov/remarks-to-the-press"


def test_html_javascript_canonical_url_is_ignored(corpus, tmp_path):
    p = tmp_path / "page.html"
    p.write_text(HTML.replace("https://www.state.gov/remarks-to-the-press", "javascript:alert(1)"))
    r = ingest_one(corpus, p)
    assert r.error is None and corpus.document(r.document_id)["url"] is None


def test_jsonl_documents_with_metadata(corpus, tmp_path):
    p = tmp_path / "statements.jsonl"
    rows = [
        {"text": "The response sets out a serious diplomatic path forward.", "title": "Remarks",
         "speaker": "Antony Blinken", "date": "2022-01-26", "url": "https://www.state.gov/a",
         "publisher": "State"},
        {"text": "NATO's door is open and remains open.", "speaker": "Jens Stoltenberg",
         "published": "2022-01-26T12:00:00Z"},
    ]
    p.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n", encoding="utf-8")
    results = ingest_paths(corpus, "official", [p], {"publisher": "Default publisher"})
    assert [r.source for r in results] == [f"{p}:1", f"{p}:3"]  # line numbers, blank line skipped
    assert all(r.created and r.error is None for r in results)
    d1, d2 = (corpus.document(r.document_id) for r in results)
    assert (d1["title"], d1["speaker"], d1["published"], d1["url"], d1["publisher"]) == (
        "Remarks", "Antony Blinken", "2022-01-26", "https://www.state.gov/a", "State")
    assert (d2["speaker"], d2["published"], d2["publisher"]) == ("Jens Stoltenberg", "2022-01-26", "Default publisher")
    assert d1["format"] == d2["format"] == "jsonl"


def test_jsonl_row_may_set_its_kind(corpus, tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_text(json.dumps({"text": "The talks resumed in Geneva on Monday."}) + "\n"
                 + json.dumps({"text": "A leak says the talks failed on Monday.", "kind": "report"}) + "\n")
    results = ingest_paths(corpus, "official", [p])
    assert [corpus.document(r.document_id)["kind"] for r in results] == ["official", "report"]


def test_directory_ingest_walks_supported_files_in_order(corpus, tmp_path):
    d = tmp_path / "statements"
    (d / "sub").mkdir(parents=True)
    (d / "b.txt").write_text("The alliance proposed reciprocal limits on missile deployments.\n")
    (d / "a.md").write_text("# A\n\nThe United States will not halt the enlargement of NATO.\n")
    (d / "sub" / "c.html").write_text("<p>Russia was invited to the NATO-Russia Council.</p>")
    (d / "notes.pdf").write_bytes(b"%PDF-1.4 not read")  # a broken PDF is read, and reported as failed
    (d / "notes.docx").write_bytes(b"PK\x03\x04 not a supported format: skipped")
    (d / ".hidden.txt").write_text("A hidden file must not be ingested at all.\n")
    results = ingest_paths(corpus, "official", [d])
    assert [os.path.relpath(r.source, d) for r in results] == ["a.md", "b.txt", "notes.pdf", os.path.join("sub", "c.html")]
    assert [r.status for r in results] == ["added", "added", "error", "added"]
    assert "truncated or corrupt" in results[2].error
    assert corpus.count("documents") == 3


def test_empty_directory_gives_no_results(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    assert ingest_paths(corpus, "official", [tmp_path / "empty"]) == []


def test_reingest_is_reported_unchanged(corpus, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(ENGLISH)
    first = ingest_one(corpus, p)
    before = counts(corpus)
    again = ingest_one(corpus, p)
    assert again.error is None and not again.created
    assert again.status == "unchanged (already ingested)"
    assert again.document_id == first.document_id and again.sentences == first.sentences
    # the same text with CRLF line ends and trailing spaces is the same document
    q = tmp_path / "a_windows.txt"
    q.write_bytes(ENGLISH.replace("\n", "  \r\n").encode())
    assert not ingest_one(corpus, q).created
    assert counts(corpus) == before


def test_utf16_with_bom_decodes(corpus, tmp_path):
    p = tmp_path / "u16.txt"
    p.write_bytes("The café in Zürich hosted talks about peace and security.\n".encode("utf-16"))
    r = ingest_one(corpus, p)
    assert r.error is None
    assert corpus.document(r.document_id)["text"] == "The café in Zürich hosted talks about peace and security."


def test_utf8_bom_is_not_part_of_the_text(corpus, tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf" + ENGLISH.encode())
    r = ingest_one(corpus, p)
    assert corpus.document(r.document_id)["text"].startswith("The United States")


def test_latin1_needs_encoding(corpus, tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("The café in Zürich hosted talks about peace and security.\n".encode("latin-1"))
    r = ingest_one(corpus, p)
    assert r.error and "--encoding" in r.error and r.document_id is None
    assert counts(corpus) == (0, 0)
    ok = ingest_one(corpus, p, encoding="latin-1")
    assert ok.error is None
    assert "café in Zürich" in corpus.document(ok.document_id)["text"]


def test_unknown_encoding_name_is_an_input_error(corpus, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(ENGLISH)
    r = ingest_one(corpus, p, encoding="no-such-codec")
    assert r.error and "no-such-codec" in r.error


def test_non_english_is_refused_unless_allowed(corpus, tmp_path):
    p = tmp_path / "de.txt"
    p.write_text(GERMAN, encoding="utf-8")
    r = ingest_one(corpus, p)
    assert r.error and "English" in r.error and "--any-language" in r.error
    assert counts(corpus) == (0, 0)
    assert ingest_one(corpus, p, allow_any_language=True).created


# --- bad inputs: a clear error, and nothing stored ------------------------------------------

BAD_FILES = {
    "empty": ("empty.txt", b"", "empty"),
    "whitespace": ("blank.txt", b"  \n\t\r\n   \n", "empty"),
    "png": ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "nul": ("nul.txt", b"The talks resumed in Geneva.\x00\x00 More text here.", "binary"),
    "nul_late": ("nul2.txt", ENGLISH.encode() * 400 + b"\x00", "NUL"),
    "invalid_utf8": ("bad.txt", b"The talks \xff\xfe\xfa resumed in Geneva on Monday.", "UTF-8"),
    "unsupported": ("statement.docx", b"PK\x03\x04" + bytes(range(256)), "unsupported format"),
    "broken_pdf": ("statement.pdf", b"%PDF-1.7 some pdf", "truncated or corrupt"),
    "pdf_named_txt": ("statement.txt", b"%PDF-1.7\n%%EOF\n", "binary"),
    "no_extension": ("README", ENGLISH.encode(), "unsupported format"),
    "html_without_text": ("empty.html", b"<html><head><script>var a = 1;</script></head><body></body></html>",
                          "no text"),
    "only_boilerplate": ("furniture.txt", b"Back to top button\nShare this article\n", "no sentences"),
    "malformed_jsonl": ("bad.jsonl", (json.dumps({"text": "A good first statement about talks."}) + "\n"
                                      + json.dumps({"text": "A good second statement about talks."}) + "\n"
                                      + '{"text": "unterminated\n').encode(), ":3: malformed JSON"),
    "jsonl_not_object": ("list.jsonl", b'["a", "b"]\n', ":1: expected a JSON object"),
    "jsonl_missing_text": ("notext.jsonl", b'{"title": "No text here"}\n', ":1: missing or empty string field 'text'"),
    "jsonl_text_wrong_type": ("num.jsonl", b'{"text": 42}\n', ":1: missing or empty string field 'text'"),
    "jsonl_title_wrong_type": ("title.jsonl", (json.dumps({"text": "A fine statement about the talks."}) + "\n"
                                               + json.dumps({"text": "Another fine statement.", "title": 5})
                                               + "\n").encode(), ":2: field 'title' must be a string"),
    "jsonl_bad_date": ("date.jsonl", json.dumps({"text": "A fine statement.", "date": "26/01/2022"}).encode(),
                       ":1: date: '26/01/2022' is not a date"),
    "jsonl_date_wrong_type": ("date2.jsonl", json.dumps({"text": "A fine statement.", "published": 20220126}).encode(),
                              ":1: date: expected a date string"),
    "jsonl_javascript_url": ("url.jsonl", json.dumps({"text": "A fine statement.", "url": "javascript:alert(1)"}).encode(),
                             ":1: url: 'javascript:alert(1)' is not an http(s) URL"),
    "jsonl_empty": ("none.jsonl", b"\n\n", "empty"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file_is_reported_and_nothing_is_stored(corpus, tmp_path, name):
    filename, data, message = BAD_FILES[name]
    p = tmp_path / filename
    p.write_bytes(data)
    before = counts(corpus)
    r = ingest_one(corpus, p)
    assert r.error is not None, f"{name} was accepted"
    assert message in r.error
    assert r.error.startswith(str(p))  # says which file
    assert r.document_id is None and not r.created and r.status == "error"
    assert counts(corpus) == before
    with pytest.raises(InputError):
        read_file(p, "official", {})


def test_missing_path(corpus, tmp_path):
    r = ingest_one(corpus, tmp_path / "nope.txt")
    assert r.error == f"{tmp_path / 'nope.txt'}: no such file"
    assert counts(corpus) == (0, 0)


def test_broken_symlink(corpus, tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    r = ingest_one(corpus, link)
    assert r.error and "broken symlink" in r.error


def test_file_over_the_size_limit(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("VERIFY_MAX_BYTES", "100")
    p = tmp_path / "big.txt"
    p.write_text(ENGLISH * 5)
    r = ingest_one(corpus, p)
    assert r.error and "limit" in r.error and "VERIFY_MAX_BYTES" in r.error
    assert counts(corpus) == (0, 0)


@pytest.mark.parametrize("meta,message", [
    ({"date": "26/01/2022"}, "is not a date like 2022-01-26"),
    ({"date": "2022-13-45"}, "is not a date like 2022-01-26"),
    ({"url": "javascript:alert(1)"}, "is not an http(s) URL"),
    ({"url": "ftp://example.org/x"}, "is not an http(s) URL"),
    ({"url": "https://example.org/a b"}, "is not an http(s) URL"),
])
def test_bad_metadata_options(corpus, tmp_path, meta, message):
    p = tmp_path / "a.txt"
    p.write_text(ENGLISH)
    r = ingest_one(corpus, p, meta=meta)
    assert r.error and message in r.error
    assert counts(corpus) == (0, 0)


def test_unknown_kind_is_refused(corpus, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(ENGLISH)
    with pytest.raises(InputError, match="kind must be one of official, report"):
        ingest_paths(corpus, "blog", [p])
    assert counts(corpus) == (0, 0)


def test_malformed_jsonl_line_rejects_the_whole_file(corpus, tmp_path):
    p = tmp_path / "batch.jsonl"
    good = [json.dumps({"text": f"Statement number {i} about the talks in Geneva."}) for i in range(3)]
    p.write_text("\n".join([*good, "{not json", good[0]]) + "\n")
    r = ingest_one(corpus, p)
    assert r.error.startswith(f"{p}:4: malformed JSON")
    assert counts(corpus) == (0, 0)  # rows 1-3 were fine, but the file lands whole or not at all


def test_one_bad_file_does_not_stop_the_others(corpus, tmp_path):
    good1, bad, good2 = tmp_path / "1.txt", tmp_path / "2.txt", tmp_path / "3.txt"
    good1.write_text(ENGLISH)
    bad.write_bytes(b"")
    good2.write_text("NATO's door is open and remains open, the Secretary General said.\n")
    results = ingest_paths(corpus, "official", [good1, bad, good2])
    assert [r.status for r in results] == ["added", "error", "added"]
    assert corpus.count("documents") == 2


def test_jsonl_bad_kind_names_the_line(corpus, tmp_path):
    p = tmp_path / "kinds.jsonl"
    p.write_text(json.dumps({"text": "A fine statement about the talks."}) + "\n"
                 + json.dumps({"text": "Another statement.", "kind": "blog"}) + "\n")
    r = ingest_one(corpus, p)
    assert r.error and r.error.startswith(f"{p}:2")
    assert counts(corpus) == (0, 0)


# --- seeds ------------------------------------------------------------------------------------

@needs_shared
def test_seed_files_ingest_with_exact_offsets(corpus):
    official = [p for p in sorted(SEEDS.glob("*.txt")) if not p.name.startswith("002")]
    results = ingest_paths(corpus, "official", official)
    results += ingest_paths(corpus, "report", [SEEDS / "002_ab1dd8fec3c35067.txt"])
    assert [r.error for r in results] == [None] * 5 and all(r.created for r in results)
    assert corpus.document_count("official") == 4
    for s in corpus.sentences():
        doc = corpus.document(s["document_id"])
        assert doc["text"][s["start"]:s["end"]] == s["text"]
        assert "Back to top" not in s["text"] and "also available in" not in s["text"]


def test_normalise_text():
    out = normalise_text("  a\u00a0b  \r\n\r\n\r\n\r\nc\td\u200be\r\n  x   y \r")
    assert out == "a b\n\nc de\nx y"
    assert normalise_text("Cafe\u0301") == "Caf\u00e9"  # NFC
