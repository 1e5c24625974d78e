"""Hostile content and the network: leaked documents are untrusted input, and nothing leaves the machine.

* CSV output neutralises spreadsheet formulas in every cell.
* The HTML report shows hostile markup as text: no element, attribute or URL from a document
  becomes live.
* Only http(s) URLs are accepted as document URLs, however a script URL is disguised.
* Titles never name files: commands write exactly the path they are given.
* Checking a report opens no connection and resolves no host name; importing verify turns
  the model hubs off before any model library is imported.
"""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verify.errors import InputError
from verify.outputs.export import EXPORT_FORMATS, Desk, export, html_report
from verify.outputs.render import csv_safe, render_run
from verify.pipeline.check import Checker
from verify.pipeline.ingest import check_url, ingest_paths, read_file

import crashkit as ck
from conftest import (
    OFFICIAL_TEXT,
    OFFICIAL_TEXT_2,
    REPO,
    FakeEmbedder,
    FakeNLI,
    make_document,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- CSV: formula injection ----------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "=1+1", "=HYPERLINK(\"https://evil.example\",\"click\")", "+SUM(A1:A9)", "-2+3", "@SUM(1,2)",
    "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0", "-", "=",
])
def test_csv_safe_neutralises_formula_cells(value):
    out = csv_safe(value)
    assert out == "'" + value


@pytest.mark.parametrize("value", ["NATO said so.", "", "'=already quoted", " leading space", 0.5, 3, None, -1.0])
def test_csv_safe_leaves_other_values_alone(value):
    assert csv_safe(value) == value


HOSTILE_REPORT = (
    "Leaked cables\n"
    "=HYPERLINK(\"https://evil.example/x\",\"Washington is ready to discuss reciprocal limits on military exercises in Europe.\")\n"
    "+SUM(1,2) shows the United States will halt the enlargement of NATO, and the alliance door remains open.\n"
    "-2+3 said the response proposes transparency measures on force posture in Ukraine.\n"
    "@SUM(1+1) claims the alliance offered to reopen its office in Moscow.\n"
)
HOSTILE_OFFICIAL = (
    "=IMPORTXML(\"https://evil.example\",\"//a\") Washington is ready to discuss reciprocal limits on military exercises.\n"
    "-1 The alliance offered to reopen its office in Moscow.\n"
)


@pytest.fixture
def formula_run(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="=cmd|' /C calc'!A0"))
    corpus.add_document(make_document("official", HOSTILE_OFFICIAL, speaker="@evil", url="https://example.org/x"))
    report = corpus.add_document(make_document("report", HOSTILE_REPORT)).document_id
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_documents([report])
    assert sum(r.text[:1] in FORMULA_STARTS for r in run.results) == 4  # the test really has hostile claims
    return corpus, run


def _cells(text):
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_check_csv_output_has_no_formula_cells(formula_run):
    _, run = formula_run
    cells = _cells(render_run(run, "csv", color=False))
    assert not [c for c in cells if c[:1] in FORMULA_STARTS]
    assert "'=HYPERLINK(\"https://evil.example/x\",\"Washington is ready to discuss reciprocal limits on military " \
           "exercises in Europe.\")" in cells
    assert "'=cmd|' /C calc'!A0" in cells or "'@evil" in cells  # evidence speakers are neutralised too


def test_export_csv_has_no_formula_cells(formula_run):
    corpus, _ = formula_run
    cells = _cells(export(corpus, "csv"))
    assert not [c for c in cells if c[:1] in FORMULA_STARTS]
    assert any(c.startswith("'+SUM(1,2)") for c in cells) and any(c.startswith("'@SUM(1+1)") for c in cells)


# --- HTML report: hostile markup ---------------------------------------------------------------

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_URL = "https://evil.example/'onmouseover='alert(1)'/?a=1&b=2"
HOSTILE_TEXT = (
    "<script>alert('report')</script>\n"
    "The leaked text says Washington is ready to discuss reciprocal limits on military exercises in Europe <b onclick=alert(2)>now</b>.\n"
    "</div></mark><iframe src=javascript:alert(3)></iframe> The United States will halt the enlargement of NATO, and the alliance door remains open.\n"
    "<a href=\"javascript:alert(4)\">The papers claim</a> that a secret tunnel was dug under the embassy garden.\n"
    "]]><svg onload=alert(5)> {{ 7*7 }} {% raw %} ${7*7} &lt;script&gt; was written as an entity in the leak.\n"
)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div", "span", "mark", "a",
                "section", "strong", "table", "tr", "th", "td", "footer", "pre", "details", "summary", "input", "label"}


@pytest.fixture
def hostile_page(corpus, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["verify", "check", "</pre><script>alert('argv')</script>"])
    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="<script>alert('speaker')</script>",
                                      title="<iframe src=javascript:alert(6)>", url=HOSTILE_URL,
                                      publisher="<b onmouseover=alert(7)>State</b>", published="2022-01-26"))
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2))
    report = corpus.add_document(make_document("report", HOSTILE_TEXT, title=HOSTILE_TITLE, url=HOSTILE_URL,
                                               publisher="<style>body{display:none}</style>",
                                               published="2022-02-02")).document_id
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_documents([report])
    corpus.add_review(run.results[0].claim_id, "consistent", "<script>alert('note')</script>",
                      "<img src=x onerror=alert('by')>")
    return html_report(corpus, report)


def test_html_report_shows_hostile_markup_as_text(hostile_page):
    page = hostile_page
    parser = _Collector()
    parser.feed(page)
    tags = parser.tags
    assert {t for t, _ in tags} <= ALLOWED_TAGS, {t for t, _ in tags} - ALLOWED_TAGS
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert all("javascript:" not in v.lower() for v in attrs.values()), (tag, attrs)
        if tag == "a":
            assert attrs["href"].startswith("#"), attrs
        if tag == "meta":
            assert set(attrs) <= {"charset", "http-equiv", "content", "name"}
    style_blocks = page.count("<style>")
    assert style_blocks == 1  # the template's own
    assert "<title>verify: &lt;img src=x onerror=alert(1)&gt;</title>" in page
    assert "<h1>&lt;img src=x onerror=alert(1)&gt;</h1>" in page
    for raw in (HOSTILE_TITLE, "<script>", "<iframe", "<svg", "<b onclick", "onmouseover='alert(1)'", "</pre><script>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(&#39;report&#39;)&lt;/script&gt;" in page
    assert "&amp;lt;script&amp;gt;" in page  # an entity in the source stays an entity, shown literally
    assert "{{ 7*7 }}" in page and "${7*7}" in page  # document text is never evaluated as a template
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src" not in csp


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "\tjavascript:alert(1)",
    "java\tscript:alert(1)", "javascript://example.org/%0Aalert(1)", "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "file:///etc/passwd", "//evil.example/x",
    "https://ok.example/\"><script>alert(1)</script>", "https://ok.example/<img>", "https://ok example/",
    "https://ok.example/\njavascript:alert(1)", "https:", "https://", "ftp://example.org/",
])
def test_script_and_other_non_http_urls_are_refused_at_ingest(tmp_path, corpus, url):
    with pytest.raises(InputError, match="not an http"):
        check_url(url)
    p = tmp_path / "statement.jsonl"
    p.write_text(json.dumps({"text": "NATO met Russia in Geneva on Monday, officials said.", "url": url}) + "\n")
    results = ingest_paths(corpus, "official", [p])
    assert results[0].error and "not an http(s) URL" in results[0].error
    txt = tmp_path / "statement.txt"
    txt.write_text("NATO met Russia in Geneva on Monday, officials said.\n")
    results = ingest_paths(corpus, "official", [txt], {"url": url})  # as `verify ingest --url` passes it
    assert results[0].error and "not an http(s) URL" in results[0].error
    assert corpus.count("documents") == 0


@pytest.mark.parametrize("tag", [
    '<link rel="canonical" href="javascript:alert(1)">', '<meta property="og:url" content="javascript:alert(1)">',
    '<meta property="og:url" content="data:text/html,hi">', '<link rel="canonical" href="JAVASCRIPT:alert(1)">',
])
def test_script_urls_in_html_metadata_are_dropped(tmp_path, tag):
    p = tmp_path / "page.html"
    p.write_text(f"<html><head>{tag}<title>Remarks</title></head><body><p>NATO met Russia in Geneva on "
                 "Monday, officials said.</p></body></html>")
    [doc] = read_file(p, "official", {})
    assert doc.url is None and doc.title == "Remarks"


# --- titles never become file paths -------------------------------------------------------------

PATH_TITLES = ["../../escaped-title.html", "/tmp/verify-absolute-title.html", "CON", "a/b/c.html"]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()
            and not p.name.startswith("corpus.db") and "embeddings" not in p.parts}


def test_report_and_export_write_exactly_the_path_given(tmp_path, monkeypatch):
    from verify.cli import app
    from verify.store.corpus import Corpus

    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    corpus = Corpus(work / "corpus.db")
    corpus.add_document(make_document("official", OFFICIAL_TEXT, title=PATH_TITLES[1]))
    ids = [corpus.add_document(make_document("report", f"{title}\n\nWashington is ready to discuss reciprocal limits "
                                             f"on military exercises in Europe, report {n} says.\n",
                                             title=title)).document_id for n, title in enumerate(PATH_TITLES)]
    Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_documents(ids)
    corpus.close()
    assert not Path(PATH_TITLES[1]).exists()
    before = _files(tmp_path)
    runner = CliRunner()
    for n, report_id in enumerate(ids):
        out = Path("out") / f"page{n}.html"
        r = runner.invoke(app, ["report", str(report_id), "--html", str(out), "--db", "corpus.db"])
        assert r.exit_code == 0, r.output
        assert f"wrote {out}" in r.output
        assert _files(tmp_path) - before == {(work / out).relative_to(tmp_path)}
        before = _files(tmp_path)
    for fmt in EXPORT_FORMATS:
        r = runner.invoke(app, ["export", "--format", fmt, "-o", f"export.{fmt}", "--db", "corpus.db",
                                "--desk", "The Desk", "--include-unreviewed"])
        assert r.exit_code == 0, r.output
        assert _files(tmp_path) - before == {(work / f"export.{fmt}").relative_to(tmp_path)}
        before = _files(tmp_path)
    r = runner.invoke(app, ["export", "--format", "csv", "--db", "corpus.db"])  # no -o: stdout only
    assert r.exit_code == 0 and _files(tmp_path) == before
    assert not Path(PATH_TITLES[1]).exists() and not (tmp_path / "a" / "escaped-title.html").exists()


# --- the network ----------------------------------------------------------------------------------

@pytest.fixture
def socket_log(monkeypatch):
    """Record every attempt to open a connection or resolve a name (and refuse it)."""
    attempts: list[tuple[str, object]] = []

    def refuse(what):
        def f(*args, **kwargs):
            attempts.append((what, args[1:] if what.startswith("socket.") else args))
            raise OSError(f"network disabled in this test ({what})")
        return f

    for name in ("connect", "connect_ex", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "getnameinfo"):
        monkeypatch.setattr(socket, name, refuse(name))
    return attempts


def test_ingest_check_report_and_export_make_no_network_attempt(tmp_path, corpus, socket_log):
    from verify.pipeline.index import VectorIndex
    from verify.pipeline.recheck import recheck

    (tmp_path / "page.html").write_text(
        "<html><head><link rel=stylesheet href='https://cdn.example/s.css'><script src='https://cdn.example/x.js'>"
        "</script><title>Remarks</title></head><body><img src='https://tracker.example/p.gif'>"
        "<p>Washington is ready to discuss reciprocal limits on military exercises in Europe.</p>"
        "<iframe src='https://evil.example/'></iframe></body></html>")
    (tmp_path / "statement.txt").write_text(OFFICIAL_TEXT)
    (tmp_path / "leak.md").write_text("# Leak\n\n![x](https://tracker.example/p.png) The leaked text says Washington "
                                      "is ready to discuss reciprocal limits on military exercises in Europe.\n")
    results = ingest_paths(corpus, "official", [tmp_path / "page.html", tmp_path / "statement.txt"])
    results += ingest_paths(corpus, "report", [tmp_path / "leak.md"])
    assert [r.error for r in results] == [None, None, None]
    VectorIndex(corpus, FakeEmbedder()).ensure()
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)
    run = checker.check_documents([results[-1].document_id])
    checker.check_text("NATO offered Russia talks on missile limits.")
    html_report(corpus, results[-1].document_id)
    for fmt in EXPORT_FORMATS:
        export(corpus, fmt, desk=Desk("The Desk", "https://desk.example/checks"), include_unreviewed=True)
    setup = {k: run.manifest[k] for k in ("embed_model", "nli_model", "k", "retrieval", "scope", "thresholds")}
    recheck(corpus, lambda: checker, setup=setup)
    assert socket_log == []


@pytest.mark.subprocess
def test_the_command_line_makes_no_network_attempt(tmp_path):
    """The real `verify` entry point in a fresh process (fake models), every socket call logged."""
    log = tmp_path / "net.log"
    env = ck.worker_env(WORKER_NET_LOG=log, VERIFY_NLI_MODEL="")
    (tmp_path / "statements").mkdir()
    (tmp_path / "statements" / "a.txt").write_text(OFFICIAL_TEXT)
    (tmp_path / "statements" / "b.txt").write_text(OFFICIAL_TEXT_2)
    (tmp_path / "leak.txt").write_text("Leak\n\nThe leaked text says Washington is ready to discuss reciprocal "
                                       "limits on military exercises in Europe.\n")
    db = tmp_path / "corpus.db"
    commands = [["ingest", "official", tmp_path / "statements", "-q"], ["index", "-q"],
                ["check", tmp_path / "leak.txt", "--format", "json", "-q"],
                ["claim", "NATO offered to reopen its office in Moscow.", "-q"],
                ["report", "3", "--html", tmp_path / "page.html"],
                ["export", "--format", "claimreview", "--desk", "Desk", "--include-unreviewed"],
                ["explain", "1"], ["recheck", "--all", "-q"], ["runs"]]
    for args in commands:
        proc = subprocess.run([sys.executable, str(ck.WORKER), str(db), "cli", *map(str, args)], env=env, check=False,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert (tmp_path / "page.html").exists()
    # The logger itself works (so an empty log means something):
    probe_code = ("import sys; sys.path[:0] = sys.argv[1:]; import worker, socket, os\n"
                  "worker._install_net_log(os.environ['WORKER_NET_LOG'])\n"
                  "try:\n    socket.getaddrinfo('localhost', 1)\nexcept OSError:\n    pass\n")
    probe = subprocess.run([sys.executable, "-c", probe_code, str(ck.TESTS)], check=False, timeout=60,
                           env={**env, "WORKER_NET_LOG": str(tmp_path / "probe.log")})
    assert probe.returncode == 0 and "getaddrinfo" in (tmp_path / "probe.log").read_text()
    assert not log.exists() or log.read_text() == "", log.read_text()


@pytest.mark.subprocess
def test_importing_verify_turns_the_model_hubs_off():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                                            "HF_HUB_DISABLE_TELEMETRY")}
    code = ("import os, sys, verify; print(os.environ.get('HF_HUB_OFFLINE'), os.environ.get('TRANSFORMERS_OFFLINE'), "
            "os.environ.get('HF_HUB_DISABLE_TELEMETRY'), 'torch' in sys.modules or 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1", "1", "False"]


@pytest.mark.subprocess
def test_offline_is_set_before_any_verify_module_can_load_a_model_library():
    """Importing a submodule first (as `python -m verify` and `from verify.cli import app` do)
    still runs verify/__init__.py first."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    for module in ("verify.cli", "verify.pipeline.embed", "verify.pipeline.nli", "verify.pipeline.check"):
        code = f"import os, {module}; print(os.environ.get('HF_HUB_OFFLINE'), os.environ.get('TRANSFORMERS_OFFLINE'))"
        proc = subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True, timeout=60,
                              cwd=REPO)
        assert proc.stdout.split() == ["1", "1"], (module, proc.stderr)


# --- Markdown output ------------------------------------------------------------------------------

MARKDOWN_HOSTILE = (
    "Leak\n\n"
    "The leaked text says <img src=x onerror=alert(1)> Washington is ready to discuss reciprocal limits.\n"
    "The papers claim ![seen](https://tracker.example/pixel.png) that the alliance door remains open.\n"
)


def test_markdown_output_carries_no_live_markup(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    report = corpus.add_document(make_document("report", MARKDOWN_HOSTILE)).document_id
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_documents([report])
    assert len(run.results) == 2
    for text in (render_run(run, "markdown", color=False), export(corpus, "markdown")):
        assert "<img" not in text and "![" not in text
