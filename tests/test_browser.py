"""The HTML report opened in a real headless Chromium: DOM checks and screenshots.

Chromium runs with every background-networking feature off; the page itself forbids
scripts (CSP) and escapes all source text, which the hostile document below checks.
The editor's page is checked as an editor reads it: a legend, a CSS-only filter, one block
per claim with the deciding evidence row marked and weak rows folded away, human dates, the
run manifest folded at the end, a print stylesheet, and a height that grows with the number
of claims (measured on full-page screenshots, decoded here with zlib: no imaging library).
"""
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from verify.outputs.export import html_report
from verify.pipeline.ingest import ingest_paths
from verify.store.corpus import Corpus

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
HOSTILE = "<script>document.body.setAttribute('data-pwned', 'yes')</script>"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
LABELS = ("consistent", "novel", "contradictory")
WINDOW = 20000  # px: taller than any page here, so a screenshot holds the whole page


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
    assert {c: label for label, c in marks} == {str(r.claim_id): r.verdict.label for r in run.results}
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


# --- the editor's page ------------------------------------------------------------------------

OFFICIAL = (
    "NATO proposed a civilian hotline with Russia to reduce the risk of incidents.\n"
    "The United States did not agree to halt NATO enlargement.\n"
    "Washington offered talks on reciprocal limits to military exercises in Europe.\n"
    "The alliance offered to reopen its liaison office in Moscow.\n"
    "The allies called on Russia to withdraw its troops from Ukraine, Georgia and Moldova.\n"
    "The response proposes transparency measures on force posture in Ukraine.\n"
    "The United States will not deploy offensive missiles in Ukraine.\n"
    "NATO suggested briefings on missile defence sites in Romania and Poland.\n"
    "The allies did not accept limits on troops in the eastern member states.\n"
    "Washington proposed new talks on strategic stability and arms control.\n"
    "The alliance reaffirmed that each country chooses its own security arrangements.\n"
    "NATO invited Russia to a meeting of the NATO-Russia Council.\n"
)
LEAK_LINES = [
    "The leaked reply proposes a civilian hotline with Russia to reduce the risk of incidents.",
    "The document says that the United States agreed to halt NATO enlargement.",
    "A secret annex describes joint patrols by submarines in the Arctic.",
    "The alliance offered to reopen its liaison office in Moscow, the papers show.",
    "The allies called on Russia to withdraw its troops from Ukraine, Georgia and Moldova.",
    "The cable says the United States will deploy offensive missiles in Ukraine.",
    "A handwritten note mentions a private dinner with the ambassador in Vienna.",
    "NATO suggested briefings on missile defence sites in Romania and Poland.",
    "The allies accepted limits on troops in the eastern member states.",
    "The reply mentions a fund for rebuilding railways near the border.",
    "Washington proposed new talks on strategic stability and arms control.",
    "An aide wrote that the summit agenda was drafted in a hotel lobby.",
]


@pytest.fixture
def editor_reports(tmp_path, checker):
    """Two checked reports from hand-written text: 4 claims, and 12 (three times as many).

    Returns a function that writes one of them as a page, with the run that checked it.
    The larger one has a desk review on its first claim.
    """
    corpus: Corpus = checker.corpus
    (tmp_path / "official.txt").write_text(OFFICIAL)
    ingest_paths(corpus, "official", [tmp_path / "official.txt"],
                 {"speaker": "Spokesperson", "date": "2022-01-26", "title": "Press briefing"})
    made = {}
    for n in (4, 12):
        (tmp_path / f"leak{n}.txt").write_text("\n".join(LEAK_LINES[:n]) + "\n")
        [r] = ingest_paths(corpus, "report", [tmp_path / f"leak{n}.txt"], {"date": "2022-02-02"})
        made[n] = (r.document_id, checker.check_document(r.document_id))
    reviewed = made[12][1].results[0].claim_id
    corpus.add_review(reviewed, "consistent", "confirmed with the press office", "desk editor")

    def page(n, name=None):
        doc_id, run = made[n]
        path = tmp_path / (name or f"page{n}.html")
        path.write_text(html_report(corpus, doc_id), encoding="utf-8")
        return path, run, {reviewed}

    return page


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def ancestors(self):
        n = self.parent
        while n is not None:
            yield n
            n = n.parent

    def inside(self, tag=None, **attrs):
        return any((tag is None or a.tag == tag) and all(a.attrs.get(k) == v for k, v in attrs.items())
                   for a in self.ancestors())

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return set((self.attrs.get("class") or "").split())


class Tree(HTMLParser):
    """A small DOM from Chromium's --dump-dom (well-formed: every non-void element closed)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def dom_of(page, tmp_path):
    res = chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert "<body" in res.stdout, res.stderr[-2000:]
    return res.stdout, Tree(res.stdout).root


def visible_text(node, skip):
    """The text a reader sees, less the elements ``skip`` says to leave out (and style/head)."""
    if node.tag in ("style", "head", "title") or skip(node):
        return ""
    return "".join(c if isinstance(c, str) else visible_text(c, skip) for c in node.children)


def test_editor_page_dom(editor_reports, tmp_path):
    page, run, reviewed = editor_reports(12)
    html, root = dom_of(page, tmp_path)
    [body] = root.find_all("body")
    related = run.manifest["thresholds"]["related"]

    # The CSP is as strict as ever: no script can run, so the filter below is CSS only.
    [csp] = [m for m in root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp.attrs["content"] == CSP
    assert "<script" not in html.lower()

    # A legend explains the three labels, the needs-review flag and the non-official side.
    [legend] = body.find_all(id="legend")
    words = " ".join(legend.text().split())
    for label in LABELS:
        assert label in words
    for phrase in ("⚑", "needs review", "not the official side", "decided the verdict", "supports", "opposite",
                   "adds"):
        assert phrase in words, phrase

    # The filter: hidden inputs placed before the report text and the claims (siblings, so that
    # `:checked ~` reaches them), one label each in the filter bar, and the CSS rules behind them.
    inputs = {i.attrs["id"]: i for i in body.find_all("input")}
    assert set(inputs) >= {"f-all", "f-consistent", "f-novel", "f-contradictory", "f-flag", "f-desk-yes", "f-desk-no"}
    assert all(i.parent is body for i in inputs.values())
    order = [c for c in body.children if isinstance(c, Node)]
    [claims_box] = body.find_all(id="claims")
    [bar] = body.find_all(id="filters")
    assert max(order.index(i) for i in inputs.values()) < min(order.index(claims_box), order.index(bar))
    assert {lab.attrs["for"] for lab in bar.find_all("label")} >= set(inputs)
    css = " ".join(s.text() for s in root.find_all("style"))
    for label in LABELS:
        assert f'#f-{label}:checked ~ #claims .verdict:not([data-label="{label}"])' in css
    assert '#f-flag:checked ~ #claims .verdict:not([data-needs-review="yes"])' in css
    assert '#f-desk-no:checked ~ #claims .verdict[data-reviewed="yes"]' in css

    # One block per claim, carrying its label, needs-review and desk-review state.
    blocks = claims_box.find_all("section")
    assert len(blocks) == len(run.results) >= 10
    by_id = {int(b.attrs["data-claim"]): b for b in blocks}
    weak_rows = 0
    for result in run.results:
        b, v = by_id[result.claim_id], result.verdict
        assert b.attrs["data-label"] == v.label and v.label in b.classes()
        flagged = "yes" if v.needs_review else "no"
        assert b.attrs["data-needs-review"] == flagged
        assert ("needs-review" in b.classes()) == bool(v.needs_review)
        assert ("⚑ needs review: " in b.text()) == bool(v.needs_review)
        is_reviewed = result.claim_id in reviewed
        assert b.attrs["data-reviewed"] == ("yes" if is_reviewed else "no")
        assert ("reviewed" in b.classes()) == is_reviewed
        text = " ".join(b.text().split())
        if is_reviewed:
            assert "desk review: consistent by desk editor" in text and "confirmed with the press office" in text
        else:
            assert "not reviewed" in text and "desk review" not in text
        assert result.text in text and v.reason in text and f"score {v.score:.2f}" in text

        # Exactly one evidence row is marked as the one that decided the verdict: the right one.
        rows = [r for r in b.find_all("tr") if r.find_all("td")]
        assert len(rows) == len(result.evidence)
        deciding = [r for r in rows if r.attrs.get("data-decisive") == "yes"]
        if v.decisive is None:
            assert deciding == []
            continue
        assert len(deciding) == 1, result.claim_id
        [row] = deciding
        assert "decided the verdict" in row.text() and not row.inside("details")
        assert row.find_all("td")[0].text().strip() == str(result.evidence[v.decisive].rank)
        assert len([r for r in rows if "decided the verdict" in r.text()]) == 1

        # Weak rows (below the run's "related" similarity, or not the official side) are folded
        # into a <details>; the others stay in view.
        for r in rows:
            cells = r.find_all("td")
            similarity = float(cells[3].text())
            weak = r is not row and (similarity < related or "not the official side" in r.text())
            assert r.inside("details") == weak, (result.claim_id, r.text())
            weak_rows += weak
        folded = b.find_all("details")
        if folded:
            [details] = folded
            n = len(details.find_all("tr")) - 1
            assert re.search(rf"\b{n} more sentences? considered\b", details.find_all("summary")[0].text())
    assert weak_rows >= 3  # the fixture really has weak rows to fold

    # Who said it, with the attribution cue in small text.
    assert "Spokesperson" in claims_box.text()
    assert any("document speaker" in d.text() for d in claims_box.find_all("div") if "small" in d.classes())

    # The run manifest: folded in a <details>, the last thing on the page, as a table, not JSON.
    details = body.find_all("details")
    manifest = details[-1]
    assert manifest.attrs.get("id") == "manifest" and manifest.inside("footer")
    footer = manifest.parent
    assert [c for c in body.children if isinstance(c, Node)][-1] is footer
    mtext = " ".join(manifest.text().split())
    for key in ("embed model", "nli model", "thresholds", "corpus fingerprint", "official side"):
        assert key in mtext, key
    assert run.manifest["corpus_fingerprint"] in mtext and f"related {related}" in mtext
    assert '"thresholds": {' not in html and "<pre" not in html

    # Dates as people write them; no raw ISO timestamp anywhere a reader sees (outside the manifest).
    seen = " ".join(visible_text(body, lambda n: n.attrs.get("id") == "manifest").split())
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", seen) and "+00:00" not in seen, seen
    assert re.search(r"checked \d{1,2} (January|February|March|April|May|June|July|August|September|October|"
                     r"November|December) \d{4}, \d\d:\d\d UTC", seen), seen
    assert "26 January 2022" in seen and "published 2 February 2022" in seen

    # Printable: the filter bar hidden, claim blocks never split, folded rows printed open, and no
    # fixed heights or hidden overflow that could cut text off.
    print_css = css.split("@media print", 1)[1]
    assert "break-inside: avoid" in print_css
    assert re.search(r"\.filters[^{]*\{[^}]*display: none", print_css)
    assert re.search(r"details::details-content\s*\{[^}]*content-visibility: visible", print_css)
    assert "details { display: block" in print_css
    assert not re.search(r"(?<![-\w])height:", css) and "overflow: hidden" not in css


# --- page height, from full-page screenshots ----------------------------------------------------

def png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB(A), non-interlaced PNG (what Chromium writes) to a (h, w, channels) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", data[pos + 8:pos + 8 + n])
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + n])
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, color, _, _, interlace = head
    assert depth == 8 and color in (2, 6) and interlace == 0, head
    bpp = 3 if color == 2 else 4
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(h, stride + 1)
    out = np.empty((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:  # None
            cur = line
        elif kind == 1:  # Sub: a running sum along the row, per channel
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(stride) & 0xFF
        elif kind == 2:  # Up
            cur = (line + prev) & 0xFF
        else:  # Average, Paeth: each byte depends on the one decoded before it
            row, up, ln = bytearray(stride), prev.tolist(), line.tolist()
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                if kind == 3:
                    row[i] = (ln[i] + ((a + up[i]) >> 1)) & 0xFF
                    continue
                b, c = up[i], (up[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (ln[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            cur = np.frombuffer(bytes(row), dtype=np.uint8).astype(np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)


def test_png_decoder_reads_every_filter():
    """The decoder above, on a hand-made PNG that uses all five row filters."""
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    bpp, lines = 3, []
    for y in range(5):
        cur = img[y].reshape(-1).astype(np.int32)
        prev = img[y - 1].reshape(-1).astype(np.int32) if y else np.zeros_like(cur)
        left = np.concatenate([np.zeros(bpp, np.int32), cur[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        p = left + prev - upleft
        pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        pred = [np.zeros_like(cur), left, prev, (left + prev) // 2, paeth][y]
        lines.append(bytes([y]) + bytes(((cur - pred) & 0xFF).astype(np.uint8)))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 5, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(lines))) + chunk(b"IEND", b""))
    assert (png_pixels(png) == img).all()


def page_height(page, tmp_path, name):
    """The page's real height in px: a full-window screenshot less its uniform bottom rows."""
    shot = tmp_path / f"{name}.png"
    res = chromium([f"--screenshot={shot}", f"--window-size=1200,{WINDOW}", page.as_uri()], tmp_path)
    assert shot.exists(), res.stderr[-2000:]
    data = shot.read_bytes()
    out = Path(__file__).parent.parent / "build" / f"{name}.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(data)
    img = png_pixels(data)
    assert img.shape[:2] == (WINDOW, 1200), img.shape
    background = img[-1, 0]
    ink = np.nonzero((img != background).any(axis=(1, 2)))[0]
    assert len(ink), "a blank screenshot"
    height = int(ink[-1]) + 1
    assert height < WINDOW - 200, "the page is taller than the screenshot window"
    return height


def test_page_height_grows_with_the_claims(editor_reports, tmp_path):
    small_page, small_run, _ = editor_reports(4)
    large_page, large_run, _ = editor_reports(12)
    n_small, n_large = len(small_run.results), len(large_run.results)
    assert n_small >= 3 and n_large >= 2.5 * n_small
    small = page_height(small_page, tmp_path, "report-height-small")
    large = page_height(large_page, tmp_path, "report-height-large")
    per_small, per_large = small / n_small, large / n_large
    print(f"page height: {small} px for {n_small} claims ({per_small:.0f} px/claim), "
          f"{large} px for {n_large} claims ({per_large:.0f} px/claim)")
    assert large > small
    assert max(per_small, per_large) / min(per_small, per_large) < 2, (per_small, per_large)
    assert per_small < 1000 and per_large < 1000, (per_small, per_large)
    # Once the page's fixed parts (header, legend, filter bar, manifest) are paid, each claim adds
    # a modest block: the marginal cost per claim stays well under the old ~1,150 px.
    assert (large - small) / (n_large - n_small) < 600

    # The CSS-only filter really hides claims in a browser: the same page with "contradictory"
    # chosen, then with "reviewed" chosen, is shorter by at least the blocks it hides.
    html = large_page.read_text(encoding="utf-8")
    contradictory = sum(r.verdict.label == "contradictory" for r in large_run.results)
    for was, now, shown in (("f-all", "f-contradictory", contradictory), ("f-desk-all", "f-desk-yes", 1)):
        filtered = html.replace(f'id="{was}" checked>', f'id="{was}">').replace(f'id="{now}">', f'id="{now}" checked>')
        assert filtered.count(" checked>") == 2, (was, now)
        page = tmp_path / f"{now}.html"
        page.write_text(filtered, encoding="utf-8")
        height = page_height(page, tmp_path, f"report-height-{now}")
        assert height <= large - 60 * (n_large - shown), (now, height, large)
