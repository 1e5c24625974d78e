"""The desk in a real headless Chromium (driven by chromedriver), served by `verify serve` in its
own process, as a desk runs it: log in, review from the keyboard, and see the review where the
CLI shows it; what a viewer, a forged form, a hostile report and two reviewers at once do."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from deskkit import HOSTILE_REPORT, PASSWORD, add_user, check_into, checked_corpus
from webdriver import CHROMEDRIVER, CHROMIUM, ENTER, Driver, free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                 reason="chromium or chromedriver not installed (.ci/run installs them)")]


@pytest.fixture
def desk(tmp_path):
    """A checked corpus (and a hostile report) with reviewers ana and bea and viewer vic, served
    with login required: (base URL, db path, corpus, report id, run, hostile report id)."""
    db = tmp_path / "corpus.db"
    corpus, report, run = checked_corpus(db)
    hostile, _ = check_into(corpus, HOSTILE_REPORT, title="Hostile leak")
    for name, role in (("ana", "reviewer"), ("bea", "reviewer"), ("vic", "viewer")):
        add_user(corpus, name, role)
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    server = subprocess.Popen([sys.executable, "-m", "verify", "serve", "--db", str(db), "--port", str(port), "--login"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/login", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"verify serve did not start: {server.stdout.read() if server.poll() is not None else ''}")
        time.sleep(0.2)
    yield base, db, corpus, report, run, hostile
    server.terminate()
    server.wait(10)
    corpus.close()


@pytest.fixture
def driver():
    d = Driver()
    yield d
    d.stop()


def log_in(browser, base: str, name: str, next_url: str = "/") -> None:
    browser.get(f"{base}/login?next={next_url}")
    browser.type(browser.find("#name"), name)
    browser.type(browser.find("#password"), PASSWORD)
    browser.click(browser.find("#login"))
    browser.wait(lambda: browser.run("return document.getElementById('who') && "
                                     "document.getElementById('who').dataset.user") == name, what=f"{name} logged in")


def verify_cli(*args) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "verify", *map(str, args)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_override_a_claim_from_the_keyboard_and_find_it_in_history_and_claimreview(desk, driver, tmp_path):
    base, db, corpus, report, run, _ = desk
    browser = driver.browser(tmp_path / "ana")
    try:
        log_in(browser, base, "ana", f"/reports/{report}")
        assert browser.url == f"{base}/reports/{report}"
        first = browser.run("return document.querySelector('#claims .claim-item').dataset")
        machine, cid = first["label"], int(first["claim"])
        browser.keys("j")  # the first claim
        assert browser.run("return document.activeElement.dataset.claim") == str(cid)
        browser.keys("o")  # override: the form opens under it, on another label, the label menu focused
        state = browser.run("var f = document.getElementById('review-panel'); return [f.hidden, f.parentNode.id, "
                            "f.querySelector('select').value, document.activeElement.name, f.action]")
        assert state[:2] == [False, f"c{cid}"] and state[2] != machine and state[3] == "label"
        assert state[4].endswith(f"/claims/{cid}/review")
        # A rated label (not "unsure"), so the override is also what ClaimReview publishes.
        override = next(label for label in ("novel", "contradictory", "consistent") if label != machine)
        browser.run(f"document.querySelector('#review-panel select').value = '{override}'")
        note = browser.find("#review-panel input[name=note]")
        browser.type(note, "The ministry denied this on 3 Feb" + ENTER)
        browser.wait(lambda: "recorded=" in browser.url, what="the review to be recorded")
        assert f"Review recorded for claim {cid}" in browser.text(browser.find("#notice"))
        assert browser.run(f"return document.querySelector('#c{cid}').dataset.reviewed") == "yes"
        browser.screenshot(tmp_path / "report.png")
        out = REPO / "build" / "desk-report.png"
        out.parent.mkdir(exist_ok=True)
        out.write_bytes((tmp_path / "report.png").read_bytes())
    finally:
        browser.quit()
    history = json.loads(verify_cli("history", cid, "--json", "--db", db))
    [review] = history["reviews"]
    assert (review["label"], review["by"], review["note"], review["machine_label"]) == (
        override, "ana", "The ministry denied this on 3 Feb", machine)
    exported = json.loads(verify_cli("export", "--format", "claimreview", "--report", report, "--desk", "The Desk",
                                     "--db", db))
    [item] = [r for r in exported if r["reviewRating"]["ratingExplanation"] == "The ministry denied this on 3 Feb"]
    rated = {"consistent": "consistent", "novel": "not addressed", "contradictory": "contradicted"}
    assert item["reviewRating"]["alternateName"].lower().startswith(rated[override])


def test_a_confirmed_review_is_published_as_claimreview(desk, driver, tmp_path):
    base, db, corpus, report, run, _ = desk
    cid = run.results[0].claim_id
    browser = driver.browser(tmp_path / "ana")
    try:
        log_in(browser, base, "ana", f"/claims/{cid}")
        browser.keys("c")  # confirm: the machine's label, the note focused
        assert browser.run("return document.activeElement.name") == "note"
        browser.keys("Confirmed with the press office" + ENTER)
        browser.wait(lambda: "recorded=" in browser.url, what="the review to be recorded")
        assert "Confirmed with the press office" in browser.text(browser.find("#reviews"))
    finally:
        browser.quit()
    exported = json.loads(verify_cli("export", "--format", "claimreview", "--report", report, "--desk", "The Desk",
                                     "--db", db))
    [item] = [r for r in exported if r["claimReviewed"] == run.results[0].text]
    assert item["reviewRating"]["ratingExplanation"] == "Confirmed with the press office"
    rated = {"consistent": "consistent", "novel": "not addressed", "contradictory": "contradicted"}
    assert item["reviewRating"]["alternateName"].lower().startswith(rated[run.results[0].verdict.label])


def _post_from_page(browser, action: str, fields: dict) -> None:
    """Submit a form built in the page, as a forged or hand-made request from this session would be."""
    browser.run("var f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
                "for (var k in arguments[1]) { var i = document.createElement('input'); i.type = 'hidden'; i.name = k;"
                "i.value = arguments[1][k]; f.appendChild(i); } document.body.appendChild(f); f.submit();",
                action, fields)


def test_a_viewer_cannot_review(desk, driver, tmp_path):
    base, db, corpus, report, run, _ = desk
    cid = run.results[0].claim_id
    browser = driver.browser(tmp_path / "vic")
    try:
        log_in(browser, base, "vic", f"/claims/{cid}")
        assert browser.find_all("form.review-form") == []
        browser.keys("o")  # nothing to open
        csrf = browser.run("return document.querySelector('input[name=csrf]').value")  # the logout form's
        _post_from_page(browser, f"/claims/{cid}/review", {"csrf": csrf, "nonce": "vic-1", "label": "novel",
                                                            "note": "a viewer tries"})
        browser.wait(lambda: browser.find_all("#error"), what="the refusal")
        assert "viewers cannot review" in browser.text(browser.find("#error"))
    finally:
        browser.quit()
    assert corpus.reviews(cid) == []


def test_a_post_without_a_csrf_token_is_refused(desk, driver, tmp_path):
    base, db, corpus, report, run, _ = desk
    cid = run.results[0].claim_id
    browser = driver.browser(tmp_path / "ana")
    try:
        log_in(browser, base, "ana", f"/claims/{cid}")
        browser.run("var f = document.querySelector('#review form'); f.querySelector('input[name=csrf]').remove();"
                    "f.querySelector('input[name=note]').value = 'no token'; f.submit();")
        browser.wait(lambda: browser.find_all("#error"), what="the refusal")
        assert "did not come from this desk" in browser.text(browser.find("#error"))
    finally:
        browser.quit()
    assert corpus.reviews(cid) == []


def test_a_hostile_report_renders_as_text(desk, driver, tmp_path):
    base, db, corpus, report, run, hostile = desk
    browser = driver.browser(tmp_path / "ana")
    try:
        log_in(browser, base, "ana", f"/reports/{hostile}")
        text = browser.text(browser.find("#report-text"))
        assert "<script>document.title='pwned'</script>" in text and 'onerror="document.title=' in text
        assert browser.run("return document.title").startswith("Hostile leak")
        assert browser.run("return document.querySelectorAll('main script, main img').length") == 0
        for cid in browser.run("return Array.from(document.querySelectorAll('#claims .claim-item'))"
                               ".map(function (e) { return e.dataset.claim; })"):
            browser.get(f"{base}/claims/{cid}")
            assert browser.run("return document.querySelectorAll('main script, main img').length") == 0
            title = browser.run("return document.title")
            assert "pwned" not in title and "owned" not in title
    finally:
        browser.quit()


def test_two_reviewers_reviewing_one_claim_at_once_both_land(desk, driver, tmp_path):
    base, db, corpus, report, run, _ = desk
    cid = run.results[0].claim_id
    browsers = {name: driver.browser(tmp_path / name) for name in ("ana", "bea")}
    try:
        for name, b in browsers.items():
            log_in(b, base, name, f"/claims/{cid}")
            b.run(f"var f = document.querySelector('#review form'); f.querySelector('select').value = 'unsure';"
                  f"f.querySelector('input[name=note]').value = 'seen by {name}';")
        go = threading.Barrier(len(browsers))

        def submit(b):
            go.wait()
            b.run("document.querySelector('#review form').submit();")

        threads = [threading.Thread(target=submit, args=(b,)) for b in browsers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for b in browsers.values():
            b.wait(lambda b=b: "recorded=" in b.url, what="the review to be recorded")
        shown = browsers["bea"].text(browsers["bea"].find("#reviews"))
    finally:
        for b in browsers.values():
            b.quit()
    history = json.loads(verify_cli("history", cid, "--json", "--db", db))
    assert sorted((r["by"], r["note"]) for r in history["reviews"]) == [("ana", "seen by ana"), ("bea", "seen by bea")]
    assert "seen by bea" in shown
