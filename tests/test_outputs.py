"""Desk-facing outputs: ClaimReview JSON-LD, the browsable database, report/export errors."""
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from verify.cli import app

from conftest import OFFICIAL_TEXT, REPORT_TEXT, FakeEmbedder


@pytest.fixture
def checked_db(tmp_path, monkeypatch, register_models):
    register_models(embedder=FakeEmbedder)
    (tmp_path / "official.txt").write_text(OFFICIAL_TEXT)
    (tmp_path / "leak.txt").write_text(REPORT_TEXT)
    db = tmp_path / "c.db"

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args] + ["--db", str(db)])

    assert run("ingest", "official", tmp_path / "official.txt", "--speaker", "Antony Blinken",
               "--date", "2022-01-26", "--url", "https://example.org/briefing").exit_code == 0
    assert run("check", tmp_path / "leak.txt", "--date", "2022-02-02", "--url", "https://example.org/leak",
               "--publisher", "A Daily", "--nli-model", "none", "-q", "--json").exit_code == 0
    assert run("review", "2", "--label", "contradictory", "--note", "denied on the record", "--by", "ana").exit_code == 0
    return db, run


def test_claimreview_is_valid_schema_org_json_ld(checked_db):
    _, run = checked_db
    out = run("export", "--format", "claimreview", "--desk", "The Verification Desk",
              "--desk-url", "https://desk.example/leak-check", "--include-unreviewed")
    assert out.exit_code == 0, out.output
    reviews = json.loads(out.stdout)
    assert len(reviews) == 3
    for r in reviews:
        assert r["@context"] == "https://schema.org" and r["@type"] == "ClaimReview"
        assert isinstance(r["claimReviewed"], str) and r["claimReviewed"]
        rating = r["reviewRating"]
        assert rating["@type"] == "Rating" and rating["worstRating"] <= rating["ratingValue"] <= rating["bestRating"]
        assert rating["alternateName"].startswith(("Consistent with official statements",
                                                   "Not addressed in official statements",
                                                   "Contradicted by official statements"))
        item = r["itemReviewed"]
        assert item["@type"] == "Claim" and item["author"]["name"] == "A Daily"
        assert item["datePublished"] == "2022-02-02"
        assert item["appearance"] == [{"@type": "CreativeWork", "url": "https://example.org/leak"}]
        assert r["author"] == {"@type": "Organization", "name": "The Verification Desk"}  # the desk, not the tool
        assert r["url"].startswith("https://desk.example/leak-check#claim-")
        assert len(r["datePublished"]) == 10 and r["datePublished"][4] == "-"


def test_claimreview_publishes_the_desks_review_and_by_default_nothing_else(checked_db):
    db, run = checked_db
    out = run("export", "--format", "claimreview", "--desk", "The Verification Desk")
    assert out.exit_code == 0, out.output
    (only,) = json.loads(out.stdout)  # claim 2 is the one reviewed
    assert "url" not in only  # no --desk-url: no page to point to
    assert only["reviewRating"]["alternateName"] == "Contradicted by official statements"
    assert only["reviewRating"]["ratingValue"] == 1 and only["reviewRating"]["ratingExplanation"] == "denied on the record"
    assert "1 reviewed claim(s) exported" in out.stderr and "--include-unreviewed" in out.stderr
    # a later review changes what is published
    assert run("review", "2", "--label", "consistent", "--note", "confirmed after all", "--by", "ana").exit_code == 0
    (again,) = json.loads(run("export", "--format", "claimreview", "--desk", "The Verification Desk").stdout)
    assert again["reviewRating"]["ratingValue"] == 5 and again["reviewRating"]["ratingExplanation"] == "confirmed after all"
    # machine verdicts only on request, and marked
    wide = json.loads(run("export", "--format", "claimreview", "--desk", "D", "--include-unreviewed").stdout)
    marked = [r for r in wide if "not reviewed by the desk" in r["reviewRating"]["alternateName"]]
    assert len(wide) == 3 and len(marked) == 2


def test_claimreview_needs_a_desk_to_name_as_its_author(checked_db):
    _, run = checked_db
    out = run("export", "--format", "claimreview")
    assert out.exit_code != 0 and "--desk" in str(out.exception)  # main() turns it into one line and exit 2


def test_views_are_readable_with_plain_sqlite3_read_only(checked_db):
    db, _ = checked_db
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("select claim_id, claim, label, score, best_evidence, evidence_speaker, evidence_date, "
                        "human_label from claim_verdicts order by claim_id").fetchall()
    assert len(rows) == 3
    assert all(r[2] in ("consistent", "novel", "contradictory") and 0 <= r[3] <= 1 for r in rows)
    assert all(r[5] == "Antony Blinken" and r[6] == "2022-01-26" for r in rows)
    assert [r[7] for r in rows] == [None, "contradictory", None]
    hits = conn.execute("select text from sentences_fts where sentences_fts match 'exercises'").fetchall()
    assert hits and all("exercises" in h[0] for h in hits)
    assert conn.execute("select count(*) from official_sentences").fetchone()[0] == 4
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("delete from documents")


def test_exports_agree_with_each_other(checked_db):
    _, run = checked_db
    jl = [json.loads(line) for line in run("export", "--format", "jsonl").stdout.splitlines()]
    csv_lines = run("export", "--format", "csv").stdout.splitlines()
    md = run("export", "--format", "markdown").stdout.splitlines()
    assert len(jl) == len(csv_lines) - 1 == len(md) - 2 == 3
    assert jl[1]["review"]["label"] == "contradictory" and jl[1]["review"]["by"] == "ana"


@pytest.mark.parametrize("args, message", [
    (("report", "999", "--html", "x.html"), "no document with id 999"),
    (("report", "1", "--html", "x.html"), "official statement, not a report"),
    (("report", "abc", "--html", "x.html"), "not a report id"),
    (("export", "--format", "pdf"), "'pdf' is not one of"),
    (("export", "--report", "999"), "no document with id 999"),
])
def test_bad_output_requests_fail_clearly(checked_db, args, message):
    _, run = checked_db
    result = run(*args)
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output


def test_unwritable_output_path_fails_clearly(checked_db, tmp_path):
    _, run = checked_db
    result = run("report", "2", "--html", tmp_path / "no" / "such" / "dir" / "r.html")
    assert result.exit_code == 0  # missing folders are created
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        result = run("export", "--format", "csv", "-o", tmp_path / "ro" / "out.csv")
        import os

        if os.geteuid() != 0:  # root may write anywhere
            assert result.exit_code != 0 and "cannot write" in str(result.exception)
        result = run("report", "2", "--html", tmp_path / "official.txt" / "r.html")
        assert result.exit_code != 0 and "cannot write" in str(result.exception)
    finally:
        (tmp_path / "ro").chmod(0o700)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_respect_the_umask(tmp_path, mask, mode):
    import os
    import stat

    from verify.util import atomic_write_bytes

    old = os.umask(mask)
    try:
        atomic_write_bytes(tmp_path / "report.html", b"<p>x</p>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == mode


def test_a_check_and_an_export_write_the_same_csv_and_markdown_columns(checked_db):
    _, run = checked_db
    checked = run("check", "2", "--format", "csv", "--nli-model", "none", "-q").stdout.splitlines()
    exported = run("export", "--format", "csv").stdout.splitlines()
    assert checked[0] == exported[0] and len(checked) == len(exported)
    checked_md = run("check", "2", "--format", "markdown", "--nli-model", "none", "-q").stdout.splitlines()
    exported_md = run("export", "--format", "markdown").stdout.splitlines()
    assert [line for line in checked_md if line.startswith("| #")] == exported_md[:1]
