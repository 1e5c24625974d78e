"""What the desk's tests share: a checked corpus built with the fake models, accounts, and a
login through the desk's own form."""
from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPORT_TEXT, make_document
from fakes import FakeEmbedder, FakeNLI

PASSWORD = "correct horse battery"
HOSTILE_REPORT = (
    "Hostile leak\n\n"
    "The leaked text says Washington is ready to discuss reciprocal limits on military exercises in Europe.\n"
    "A note <script>document.title='pwned'</script> claims NATO will <img src=x onerror=\"document.title='owned'\"> "
    "halt the enlargement of NATO this spring.\n"
)


def checked_corpus(path: Path, report_text: str = REPORT_TEXT, *, title: str = "Leaked replies"):
    """A corpus.db at ``path`` with two official statements and one report checked against them
    (fake embedder and NLI): (corpus, report id, the check's run)."""
    from verify.store import open_corpus

    corpus = open_corpus(str(path))
    return corpus, *check_into(corpus, report_text, title=title)


def check_into(corpus, report_text: str = REPORT_TEXT, *, title: str = "Leaked replies"):
    from verify.pipeline.check import Checker

    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken",
                                      published="2022-01-26", title="Remarks to the press"))
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2, speaker="Jens Stoltenberg",
                                      published="2022-01-26", title="NATO press conference"))
    report = corpus.add_document(make_document("report", report_text, published="2022-02-02", title=title)).document_id
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_document(report)
    return report, run


def add_user(corpus, name: str, role: str = "reviewer", password: str = PASSWORD) -> None:
    from verify.web.auth import add_user as add

    add(corpus, name, role, password, by="test")


def form_value(html: str, name: str) -> str:
    """The value of the first hidden input ``name`` on a page."""
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no {name} input on the page"
    return htmllib.unescape(m.group(1))


def login(client, name: str, password: str = PASSWORD, next_url: str = "/"):
    """Log in through the login form (its CSRF cookie included); returns the POST's response."""
    page = client.get("/login", params={"next": next_url})
    return client.post("/login", data={"csrf": form_value(page.text, "csrf"), "name": name, "password": password,
                                       "next": next_url}, follow_redirects=False)
