"""The desk in a browser (verify.web), through Starlette's TestClient with the fake models:
who may do what, reviews and corrections recorded as the CLI records them, hostile text kept
as text, and the pages' data (filters, claim trail, drift)."""
from __future__ import annotations

import io
import re
import sys

import pytest
from starlette.testclient import TestClient

from verify.store.users import users
from verify.web.app import DeskConfig, create_app, needs_login

from deskkit import HOSTILE_REPORT, PASSWORD, add_user, check_into, checked_corpus, form_value, login


@pytest.fixture
def desk(tmp_path):
    """A checked corpus with a reviewer (ana) and a viewer (vic): (corpus, report id, run, db path)."""
    corpus, report, run = checked_corpus(tmp_path / "corpus.db")
    add_user(corpus, "ana", "reviewer")
    add_user(corpus, "vic", "viewer")
    yield corpus, report, run, str(tmp_path / "corpus.db")
    corpus.close()


def client_for(target: str, *, login_required: bool = True, base_url: str = "http://127.0.0.1", **kw):
    config = DeskConfig(target=target, login=login_required, local_user="lou", **kw)
    return TestClient(create_app(config), base_url=base_url)


def review_form(client, claim_id: int) -> dict:
    page = client.get(f"/claims/{claim_id}")
    assert page.status_code == 200
    return {"csrf": form_value(page.text, "csrf"), "nonce": form_value(page.text, "nonce")}


# --- who may do what -----------------------------------------------------------------------------

def test_a_desk_needs_login_off_loopback_or_on_postgresql():
    assert not needs_login("corpus.db", "127.0.0.1") and not needs_login("corpus.db", "localhost")
    assert needs_login("corpus.db", "0.0.0.0") and needs_login("corpus.db", "10.0.0.5")
    assert needs_login("postgresql://desk@db/verify", "127.0.0.1")


def test_pages_redirect_to_login_and_a_wrong_password_is_refused(desk):
    corpus, report, _, db = desk
    with client_for(db) as client:
        r = client.get(f"/reports/{report}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Freports%2F")
        assert login(client, "ana", "wrong password").status_code == 401
        assert login(client, "nobody", PASSWORD).status_code == 401
        r = login(client, "ana", next_url=f"/reports/{report}")
        assert r.status_code == 303 and r.headers["location"] == f"/reports/{report}"
        cookie = r.headers["set-cookie"]
        assert "verify_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
        page = client.get(f"/reports/{report}")
        assert page.status_code == 200 and 'data-user="ana"' in page.text


def test_cookies_are_secure_over_https(desk):
    _, _, _, db = desk
    with client_for(db, base_url="https://desk.example") as client:
        assert "Secure" in login(client, "ana").headers["set-cookie"]


def test_an_open_redirect_after_login_goes_home_instead(desk):
    _, _, _, db = desk
    with client_for(db) as client:
        assert login(client, "ana", next_url="//evil.example/x").headers["location"] == "/"


def test_login_is_throttled_after_repeated_failures(desk):
    _, _, _, db = desk
    with client_for(db) as client:
        for _ in range(5):
            assert login(client, "ana", "not the password").status_code == 401
        r = login(client, "ana")  # the right password, but too late
        assert r.status_code == 429 and "too many failed logins" in r.text
        assert "verify_session" not in r.headers.get("set-cookie", "")


def test_a_login_form_without_its_token_is_refused(desk):
    _, _, _, db = desk
    with client_for(db) as client:
        r = client.post("/login", data={"name": "ana", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 403 and "verify_session" not in r.headers.get("set-cookie", "")


def test_a_review_is_appended_as_verify_review_appends_it(desk):
    corpus, report, run, db = desk
    claim = run.results[0]
    with client_for(db) as client:
        login(client, "ana")
        r = client.post(f"/claims/{claim.claim_id}/review", follow_redirects=False,
                        data={**review_form(client, claim.claim_id), "label": "novel", "note": "  spokesman denied it  ",
                              "next": f"/reports/{report}?label=novel"})
        assert r.status_code == 303
        assert r.headers["location"] == f"/reports/{report}?label=novel&recorded={claim.claim_id}#c{claim.claim_id}"
    [row] = corpus.reviews(claim.claim_id)
    latest = corpus.latest_verdict(claim.claim_id)
    assert {k: row[k] for k in ("label", "note", "by", "machine_label", "machine_score", "run_id")} == {
        "label": "novel", "note": "spokesman denied it", "by": "ana", "machine_label": latest["label"],
        "machine_score": latest["score"], "run_id": latest["run_id"]}


def test_a_form_sent_twice_is_recorded_once(desk):
    corpus, _, run, db = desk
    cid = run.results[0].claim_id
    with client_for(db) as client:
        login(client, "ana")
        form = {**review_form(client, cid), "label": "unsure", "note": "asked the ministry"}
        first = client.post(f"/claims/{cid}/review", data=form, follow_redirects=False)
        again = client.post(f"/claims/{cid}/review", data=form, follow_redirects=False)
    assert "recorded=%d" % cid in first.headers["location"] and f"recorded={cid}-again" in again.headers["location"]
    assert len(corpus.reviews(cid)) == 1


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused(desk, token):
    corpus, report, run, db = desk
    cid = run.results[0].claim_id
    with client_for(db) as client:
        login(client, "ana")
        form = {"nonce": "n1", "label": "novel", "note": "forged"} | ({"csrf": token} if token else {})
        r = client.post(f"/claims/{cid}/review", data=form, follow_redirects=False)
        assert r.status_code == 403
        r = client.post("/documents/1", data={"nonce": "n2", "speaker": "Someone"} | ({"csrf": token} if token else {}))
        assert r.status_code == 403
    assert corpus.reviews(cid) == [] and corpus.document_history(1) == []


def test_a_viewer_reads_but_cannot_review_or_edit(desk):
    corpus, report, run, db = desk
    cid = run.results[0].claim_id
    with client_for(db) as client:
        login(client, "vic")
        page = client.get(f"/claims/{cid}")
        assert page.status_code == 200 and "review-form" not in page.text
        assert 'id="review-panel"' not in client.get(f"/reports/{report}").text
        assert 'id="edit"' not in client.get("/documents/1").text
        csrf = form_value(page.text, "csrf")  # the logout form's: a valid token for this session
        r = client.post(f"/claims/{cid}/review", data={"csrf": csrf, "nonce": "v1", "label": "novel", "note": "no"})
        assert r.status_code == 403 and "viewers cannot review" in r.text
        r = client.post("/documents/1", data={"csrf": csrf, "nonce": "v2", "speaker": "Someone"})
        assert r.status_code == 403
    assert corpus.reviews(cid) == [] and corpus.document_history(1) == []


def test_a_removed_account_loses_its_session(desk):
    corpus, _, _, db = desk
    from verify.store.users import remove_user

    with client_for(db) as client:
        login(client, "ana")
        assert client.get("/", follow_redirects=False).status_code == 200
        remove_user(corpus, "ana")
        assert client.get("/", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(desk):
    _, _, _, db = desk
    with client_for(db) as client:
        login(client, "ana")
        home = client.get("/")
        out = client.post("/logout", data={"csrf": form_value(home.text, "csrf")}, follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_local_desk_runs_as_one_user_and_answers_only_loopback_names(desk):
    corpus, _, run, db = desk
    cid = run.results[0].claim_id
    with client_for(db, login_required=False, allowed_hosts=("127.0.0.1", "localhost")) as client:
        page = client.get(f"/claims/{cid}")
        assert page.status_code == 200 and 'data-user="lou"' in page.text
        client.post(f"/claims/{cid}/review", data={**review_form(client, cid), "label": "unsure", "note": "local"})
        assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert corpus.latest_review(cid)["by"] == "lou"


# --- hostile text stays text --------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(desk):
    _, report, _, db = desk
    with client_for(db) as client:
        for r in (client.get("/login"), client.get("/static/desk.js")):
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
        assert client.get("/login").headers["cache-control"] == "no-store"


def test_a_hostile_report_renders_as_text(tmp_path):
    corpus, report, run = checked_corpus(tmp_path / "c.db", HOSTILE_REPORT, title="<script>alert(1)</script>")
    with client_for(str(tmp_path / "c.db"), login_required=False) as client:
        pages = [client.get(f"/reports/{report}").text, client.get("/").text, client.get(f"/documents/{report}").text]
        pages += [client.get(f"/claims/{r.claim_id}").text for r in run.results]
    for page in pages:
        assert "<script>" not in page and "<img" not in page
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/desk.js" defer>']
    assert "&lt;script&gt;document.title=" in pages[0] and "onerror=&#34;document.title" in pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]


# --- what the pages show -------------------------------------------------------------------------------

def test_the_reports_page_counts_labels_reviews_and_flags(desk):
    corpus, report, run, db = desk
    counts = run.counts()
    corpus.add_review(run.results[0].claim_id, "unsure", "checking", "ana")
    with client_for(db, login_required=False) as client:
        page = client.get("/").text
    row = re.search(rf'<tr data-report="{report}">(.*?)</tr>', page, re.S).group(1)
    for label, n in counts.items():
        assert f'data-count="{label}">{n}<' in row
    flagged = sum(bool(r.verdict.needs_review) for r in run.results)
    assert f'data-count="needs_review">{flagged}<' in row
    assert f'data-count="unreviewed">{len(run.results) - 1}<' in row


def test_report_filters_by_label_review_and_speaker(desk):
    corpus, report, run, db = desk
    by_label = {r.claim_id: r.verdict.label for r in run.results}
    first = run.results[0].claim_id
    corpus.add_review(first, by_label[first], "confirmed", "ana")

    def shown(client, **params):
        page = client.get(f"/reports/{report}", params=params).text
        return {int(x) for x in re.findall(r'<li class="claim-item[^"]*" id="c(\d+)"', page)}

    with client_for(db, login_required=False) as client:
        assert shown(client) == set(by_label)
        for label in set(by_label.values()):
            assert shown(client, label=label) == {c for c, lab in by_label.items() if lab == label}
        assert shown(client, reviewed="yes") == {first} and shown(client, reviewed="no") == set(by_label) - {first}
        assert shown(client, speaker="Antony Blinken") and shown(client, speaker="Nobody at all") == set()
        page = client.get(f"/reports/{report}").text
    # The text keeps every claim highlighted with its label, as the HTML report does.
    marks = dict(re.findall(r'<mark class="claim (\w+)[^"]*" data-claim="(\d+)"', page))
    assert {int(c): lab for lab, c in marks.items()} == by_label


def test_the_claim_page_shows_the_trail_side_by_side_with_matching_words(desk):
    corpus, _, run, db = desk
    claim = next(r for r in run.results if r.verdict.label == "consistent")
    with client_for(db, login_required=False) as client:
        page = client.get(f"/claims/{claim.claim_id}").text
    assert 'data-decisive="yes"' in page and "Antony Blinken" in page
    assert '<mark class="word">reciprocal</mark>' in page and '<mark class="word">limits</mark>' in page
    assert re.search(r"entail 0\.\d\d · neutral 0\.\d\d · contradict 0\.\d\d", page)
    assert "chars " in page and claim.verdict.reason.split(",")[0] in page


def test_a_claim_that_does_not_exist_is_a_404(desk):
    _, _, _, db = desk
    with client_for(db, login_required=False) as client:
        r = client.get("/claims/9999")
    assert r.status_code == 404 and "no claim with id 9999" in r.text


def test_a_document_is_corrected_as_verify_document_corrects_it(desk):
    corpus, _, run, db = desk
    relying = corpus.dependent_claims(1)
    assert relying
    with client_for(db) as client:
        login(client, "ana")
        page = client.get("/documents/1").text
        for cid in relying:
            assert f'href="/claims/{cid}"' in page
        form = {"csrf": form_value(page, "csrf"), "nonce": form_value(page, "nonce"), "speaker": "Ned Price",
                "published": "2022-01-27", "publisher": ""}
        r = client.post("/documents/1", data=form, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/documents/1?changed=2"
        bad = client.post("/documents/1", data=form | {"nonce": "other", "published": "soon"})
        assert bad.status_code == 400 and "is not a date like" in bad.text
    edits = {(e["field"], e["old"], e["new"], e["by"]) for e in corpus.document_history(1)}
    assert edits == {("speaker", "Antony Blinken", "Ned Price", "ana"), ("published", "2022-01-26", "2022-01-27", "ana")}
    assert set(relying) <= set(corpus.stale_claims())


def test_the_drift_page_lists_changed_claims_and_flags_a_disagreeing_review(tmp_path):
    from verify.pipeline.check import Checker
    from verify.pipeline.recheck import current_setup, recheck

    from conftest import make_document
    from fakes import FakeEmbedder, FakeNLI

    corpus, report, run = checked_corpus(tmp_path / "c.db")
    tunnel = next(r for r in run.results if "tunnel" in r.text)
    assert tunnel.verdict.label == "novel"
    corpus.add_review(tunnel.claim_id, "novel", "nothing official on it", "ana")
    corpus.add_document(make_document("official", "A secret tunnel was never dug under the embassy garden last spring.\n",
                                      speaker="Ned Price", published="2022-02-10", title="Briefing"))
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)
    result = recheck(corpus, lambda: checker, setup=current_setup(corpus, "fake-nli", 3, "hybrid", "fake-embed"))
    [drift] = [d for d in result.drift if d.claim_id == tunnel.claim_id]
    with client_for(str(tmp_path / "c.db"), login_required=False) as client:
        page = client.get("/drift").text
        claim_page = client.get(f"/claims/{tunnel.claim_id}").text
        reports = client.get("/").text
    row = re.search(rf'<tr data-claim="{tunnel.claim_id}">(.*?)</tr>', page, re.S).group(1)
    assert f'href="/claims/{tunnel.claim_id}"' in row and drift.new_label in row
    assert "never dug under the embassy garden" in row and "DISAGREES with the new machine verdict" in row
    assert 'id="disagrees"' in claim_page
    assert re.search(r'data-count="changed"><a href="/drift">\d+</a>', reports)


# --- the commands -------------------------------------------------------------------------------------------

def _main(monkeypatch, capsys, *args, stdin: str = ""):
    from verify import cli

    monkeypatch.setattr(sys, "argv", ["verify", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        cli.main()
        raise SystemExit(0)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_users_add_hashes_the_password_and_refuses_bad_input(tmp_path, monkeypatch, capsys):
    from verify.store import open_corpus
    from verify.store.users import user

    db = str(tmp_path / "c.db")
    code, out, _ = _main(monkeypatch, capsys, "users", "add", "ana", "--role", "reviewer", "--db", db,
                         stdin="a long passphrase\n")
    assert code == 0 and "user ana added (reviewer)" in out
    stored = user(open_corpus(db), "ana")
    assert stored["password_hash"].startswith("$argon2id$") and "a long passphrase" not in stored["password_hash"]
    for args, stdin, message in [
        (("ana", "--role", "viewer"), "another passphrase\n", "user 'ana' exists"),
        (("bob", "--role", "viewer"), "short\n", "at least 8 characters"),
        (("bo b", "--role", "viewer"), "long enough pass\n", "is not a user name"),
        (("bob", "--role", "admin"), "long enough pass\n", "'admin' is not one of"),
    ]:
        code, _, err = _main(monkeypatch, capsys, "users", "add", *args, "--db", db, stdin=stdin)
        assert code != 0 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert [u["name"] for u in users(open_corpus(db))] == ["ana"]


def test_serve_refuses_to_run_a_login_desk_without_accounts_or_on_a_taken_port(tmp_path, monkeypatch, capsys):
    import socket

    db = str(tmp_path / "c.db")
    code, _, err = _main(monkeypatch, capsys, "serve", "--db", db, "--host", "127.0.0.1", "--login")
    assert code == 2 and err.startswith("error: this desk requires login and has no accounts yet")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = _main(monkeypatch, capsys, "serve", "--db", db, "--port", str(port))
    assert code == 2 and err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and len(err.splitlines()) == 1
    code, _, err = _main(monkeypatch, capsys, "serve", "--db", db, "--port", "70000")
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1


# --- the same desk on PostgreSQL ------------------------------------------------------------------------------

def test_a_postgresql_desk_logs_in_and_records_reviews(pg_dsn):
    from verify.store import open_corpus

    corpus = open_corpus(pg_dsn)
    report, run = check_into(corpus)
    add_user(corpus, "ana")
    cid = run.results[0].claim_id
    with client_for(pg_dsn) as client:
        assert client.get("/", follow_redirects=False).status_code == 303
        login(client, "ana")
        assert client.get(f"/reports/{report}").status_code == 200
        r = client.post(f"/claims/{cid}/review", follow_redirects=False,
                        data={**review_form(client, cid), "label": "unsure", "note": "on the server"})
        assert r.status_code == 303
    assert [(x["by"], x["note"]) for x in corpus.reviews(cid)] == [("ana", "on the server")]
    corpus.close()
