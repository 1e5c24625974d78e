"""Schema upgrades of a corpus that holds data.

tests/test_corpus.py covers an empty version-1 database being upgraded, the refusal of a newer
schema, and a failing *extra* migration. Here: databases written at every older version, with
documents, claims, runs, verdicts and evidence in them, are upgraded in place with nothing
lost; a real migration failing half-way (or the process being killed inside it) leaves the
database at the version before it, usable and upgradable later.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

import verify.store.schema as corpus_mod
from verify.errors import CorpusError
from verify.store.corpus import MIGRATIONS, SCHEMA_VERSION, Corpus

import crashkit as ck
from conftest import OFFICIAL_TEXT, REPORT_TEXT, make_document

VIEWS = ("latest_verdicts", "claim_verdicts", "official_sentences")


def make_old(path, version: int) -> dict:
    """A corpus at schema ``version`` written the way Corpus.migrate writes it, with data in it."""
    old = Corpus(path, migrate=False)
    for number, (name, fn) in enumerate(MIGRATIONS[:version], 1):
        with old.transaction():
            old.db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id", if_not_exists=True)
            fn(old.db)
            old.db["_migrations"].insert({"id": number, "name": name, "applied_at": "2022-01-01T00:00:00+00:00"})
    assert old.schema_version() == version
    # Data as that version would hold it: plain rows, only the columns it had.
    official = old.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken",
                                              published="2022-01-26", title="Remarks"))
    report = old.add_document(make_document("report", REPORT_TEXT, published="2022-02-02"))
    sentence = next(old.sentences(document_id=report.document_id, containing="reciprocal"))
    evidence_sentence = next(old.sentences(document_id=official.document_id, containing="reciprocal"))
    with old.transaction():
        claim = old.db["claims"].insert({
            "document_id": report.document_id, "sentence_id": sentence["id"], "text": sentence["text"],
            "start": sentence["start"], "end": sentence["end"], "text_hash": sentence["text_hash"],
            "created_at": "2022-02-02T00:00:00+00:00"}).last_pk
        run = old.db["runs"].insert({"started_at": "2022-02-02T00:00:00+00:00", "finished_at": "2022-02-02T00:00:01+00:00",
                                     "status": "ok", "command": "verify check leak.txt", "embed_model": "fake-embed",
                                     "nli_model": "fake-nli", "thresholds": "{}", "manifest": json.dumps(
                                         {"thresholds": {}, "embed_model": "fake-embed", "nli_model": "fake-nli",
                                          "k": 3, "time": "2022-02-02T00:00:00+00:00"})}).last_pk
        verdict = old.db["verdicts"].insert({"run_id": run, "claim_id": claim, "label": "consistent", "score": 0.91,
                                             "reason": "entailed by an official statement", "conflicting": 0}).last_pk
        old.db["evidence"].insert({"verdict_id": verdict, "rank": 1, "sentence_id": evidence_sentence["id"],
                                   "similarity": 0.97, "p_entail": 0.9, "p_neutral": 0.05, "p_contradict": 0.05,
                                   "flags": "[]", "relation": "before"})
    snapshot = {t: [tuple(r) for r in old.db.execute(f"select * from [{t}] order by rowid")]
                for t in ("documents", "sentences", "claims", "runs", "verdicts", "evidence")}
    old.close()
    return {"snapshot": snapshot, "claim": claim, "run": run, "verdict": verdict, "report": report.document_id}


def columns(db, table):
    return [r[1] for r in db.execute(f"pragma table_info([{table}])")]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_old_database_with_data_is_upgraded_in_place(tmp_path, version):
    path = tmp_path / "corpus.db"
    old = make_old(path, version)
    corpus = Corpus(path)  # opening it is all it takes
    assert corpus.schema_version() == SCHEMA_VERSION
    assert [r[0] for r in corpus.db.execute("select id from _migrations order by id")] == list(range(1, SCHEMA_VERSION + 1))
    applied_at = dict(corpus.db.execute("select id, applied_at from _migrations"))
    assert all(applied_at[n] == "2022-01-01T00:00:00+00:00" for n in range(1, version + 1))  # history kept
    # every old row is still there, every old column unchanged (new columns appended, empty)
    for table, rows in old["snapshot"].items():
        now = [tuple(r)[: len(rows[0])] for r in corpus.db.execute(f"select * from [{table}] order by rowid")]
        assert now == rows, table
    assert corpus.db.execute("select frame, proposition from claims").fetchone() == (None, None)
    for view in VIEWS:
        assert corpus.db.execute("select count(*) from sqlite_master where type = 'view' and name = ?",
                                 [view]).fetchone()[0] == 1, view
    # ...and the upgraded data reads back through the new code paths
    v = corpus.latest_verdict(old["claim"])
    assert v["id"] == old["verdict"] and v["label"] == "consistent" and v["details"] is None
    row = corpus.db.execute(
        "select claim, label, best_evidence, evidence_speaker, human_label from claim_verdicts").fetchone()
    assert row[1] == "consistent" and "reciprocal" in row[0] and "reciprocal" in row[2]
    assert row[3] == "Antony Blinken" and row[4] is None
    assert corpus.db.execute("select count(*) from official_sentences").fetchone()[0] == 4
    hits = corpus.db.execute("select rowid from sentences_fts where sentences_fts match 'transparency'").fetchall()
    assert len(hits) == 1  # the full-text index still covers the old sentences
    from verify.pipeline.check import evidence_trail

    trail = evidence_trail(corpus, old["claim"])
    assert trail["verdict"]["label"] == "consistent" and trail["evidence"][0]["text"].startswith("Washington")
    # new features work on old data
    review = corpus.add_review(old["claim"], "consistent", "checked by hand", "desk")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        corpus.db.execute("delete from reviews where id = ?", [review])
    assert corpus.add_document(make_document("official", "NATO offered arms control talks to Russia.\n")).created
    corpus.close()
    assert Corpus(path).migrate() == []  # and it stays upgraded


def test_database_from_a_newer_verify_is_refused_untouched(tmp_path):
    path = tmp_path / "corpus.db"
    Corpus(path).close()
    conn = sqlite3.connect(path)
    conn.execute("insert into _migrations values (?, 'from a later verify', '2099-01-01T00:00:00+00:00')",
                 [SCHEMA_VERSION + 1])
    conn.execute("create table later_feature (id integer primary key)")
    conn.commit()
    conn.close()
    schema_before = sorted(sqlite3.connect(path).execute("select type, name, sql from sqlite_master"))
    with pytest.raises(CorpusError) as err:
        Corpus(path)
    message = str(err.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message and f"({SCHEMA_VERSION})" in message
    assert "upgrade verify" in message
    assert sorted(sqlite3.connect(path).execute("select type, name, sql from sqlite_master")) == schema_before


def _failing(fn, when):
    def migration(db):
        if when == "before":
            raise RuntimeError("migration failed before doing anything")
        fn(db)
        raise RuntimeError("migration failed after doing its work")
    return migration


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("failing", range(1, SCHEMA_VERSION))  # index into MIGRATIONS: 2nd .. last
def test_a_real_migration_failing_half_way_leaves_the_previous_version(tmp_path, monkeypatch, failing, when):
    path = tmp_path / "corpus.db"
    old = make_old(path, 1)
    schema_at_1 = sorted(sqlite3.connect(path).execute("select type, name, sql from sqlite_master"))
    broken = list(MIGRATIONS)
    broken[failing] = (MIGRATIONS[failing][0], _failing(MIGRATIONS[failing][1], when))
    monkeypatch.setattr(corpus_mod, "MIGRATIONS", broken)
    with pytest.raises(RuntimeError, match="migration failed"):
        Corpus(path)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    assert conn.execute("select count(*) from _migrations").fetchone()[0] == failing  # the ones before it stand
    names = {r[0] for r in conn.execute("select name from sqlite_master")}
    if failing == 1:
        assert sorted(conn.execute("select type, name, sql from sqlite_master")) == schema_at_1
    if failing <= 1:
        assert "frame" not in columns(conn, "claims")
    if failing <= 3:
        assert "reviews" not in names
    if failing <= 4:  # the views arrive with migration 5
        assert not names & set(VIEWS)
    if failing == 5:  # migration 6 rebuilds two of them: the old ones stand
        assert "speakers" not in names and set(VIEWS) <= names
    width = len(old["snapshot"]["documents"][0])  # columns later migrations added are empty
    rows = [tuple(r) for r in conn.execute("select * from documents order by rowid")]
    assert [r[:width] for r in rows] == old["snapshot"]["documents"]
    assert all(v is None for r in rows for v in r[width:])
    conn.close()
    assert ck.db_problems(path) == []
    corpus = Corpus(path)  # the real migrations, later: the upgrade completes
    assert corpus.schema_version() == SCHEMA_VERSION
    assert corpus.latest_verdict(old["claim"])["id"] == old["verdict"]
    corpus.close()


@pytest.mark.crash
def test_a_failing_first_migration_leaves_an_empty_file_that_opens_later(tmp_path, monkeypatch):
    path = tmp_path / "corpus.db"
    broken = [(MIGRATIONS[0][0], _failing(MIGRATIONS[0][1], "after")), *MIGRATIONS[1:]]
    monkeypatch.setattr(corpus_mod, "MIGRATIONS", broken)
    with pytest.raises(RuntimeError):
        Corpus(path)
    monkeypatch.undo()
    assert sqlite3.connect(path).execute("select count(*) from sqlite_master").fetchone()[0] == 0
    assert Corpus(path).schema_version() == SCHEMA_VERSION


KILL_IN_MIGRATION = """
import os, signal, sys
import verify.store.schema as m
from verify.store.corpus import Corpus
real = m.MIGRATIONS[{index}][1]
def dying(db):
    real(db)                       # the migration's work is done, not yet committed
    os.kill(os.getpid(), signal.SIGKILL)
m.MIGRATIONS[{index}] = (m.MIGRATIONS[{index}][0], dying)
Corpus(sys.argv[1])
"""


@pytest.mark.parametrize("index", [1, SCHEMA_VERSION - 1])
@pytest.mark.crash
def test_process_killed_inside_a_migration_leaves_the_previous_version(tmp_path, index):
    path = tmp_path / "corpus.db"
    old = make_old(path, index)
    proc = subprocess.run([sys.executable, "-c", KILL_IN_MIGRATION.format(index=index), str(path)], check=False,
                          env=ck.worker_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert ck.db_problems(path) == []
    assert ck.scalar(path, "select count(*) from _migrations") == index
    corpus = Corpus(path)
    assert corpus.schema_version() == SCHEMA_VERSION
    assert corpus.latest_verdict(old["claim"])["id"] == old["verdict"]
    corpus.close()
