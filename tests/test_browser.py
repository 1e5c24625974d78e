"""The HTML report opened in a real headless Chromium: DOM checks and a screenshot.

Chromium runs with every background-networking feature off; the page itself forbids
scripts (CSP) and escapes all source text, which the hostile document below checks.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from verify.corpus import Corpus
from verify.export import html_report
from verify.ingest import ingest_paths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
HOSTILE = "<script>document.body.setAttribute('data-pwned', 'yes')</script>"


def chromium(args, tmp_path):
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def report_page(tmp_path, checker):
    corpus: Corpus = checker.corpus
    (tmp_path / "official.txt").write_text(
        "NATO proposed a civilian hotline with Russia to reduce the risk of incidents.\n"
        "The United States did not agree to halt NATO enlargement.\n"
        "Washington offered talks on reciprocal limits to military exercises in Europe.\n")
    (tmp_path / "leak.txt").write_text(
        "The leaked reply proposes a civilian hotline with Russia to reduce the risk of incidents.\n"
        "The document says that the United States agreed to halt NATO enlargement.\n"
        f"A hostile line {HOSTILE} sits inside the leaked text about a secret annex on submarines.\n")
    ingest_paths(corpus, "official", [tmp_path / "official.txt"], {"speaker": "Spokesperson", "date": "2022-01-26"})
    [r] = ingest_paths(corpus, "report", [tmp_path / "leak.txt"], {"date": "2022-02-02"})
    run = checker.check_document(r.document_id)
    page = tmp_path / "report.html"
    page.write_text(html_report(corpus, r.document_id), encoding="utf-8")
    return page, run


def test_report_dom_in_chromium(report_page, tmp_path):
    page, run = report_page
    res = chromium(["--dump-dom", page.as_uri()], tmp_path)
    dom = res.stdout
    assert "<body" in dom, res.stderr[-2000:]
    # One highlighted span per claim, each carrying its verdict's label.
    marks = re.findall(r'<mark class="claim (\w+)"[^>]*data-claim="(\d+)"', dom)
    assert len(marks) == len(run.results)
    assert sorted(int(c) for _, c in marks) == sorted(r.claim_id for r in run.results)
    assert {c: l for l, c in marks} == {str(r.claim_id): r.verdict.label for r in run.results}
    # The summary bar counts what the run decided.
    counts = dict(re.findall(r'data-label="(\w+)" data-count="(\d+)"', dom))
    assert {k: int(v) for k, v in counts.items()} == {k: v for k, v in run.counts().items() if v}
    # The hostile script is shown as text and never ran.
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    assert "&lt;script&gt;document.body.setAttribute" in dom
    assert "<script" not in dom.lower()


def test_report_screenshot(report_page, tmp_path):
    page, _ = report_page
    shot = tmp_path / "report.png"
    res = chromium([f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()], tmp_path)
    assert shot.exists(), res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000  # a real rendered page, not a blank
    out = Path(__file__).parent.parent / "build" / "report-screenshot.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(data)
