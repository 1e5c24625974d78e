"""Concurrency: several processes on one corpus.db at once, and the recheck lock.

Each process is tests/worker.py (verify's library with the fake models), so the processes
really are separate SQLite connections contending for one WAL database and one
``embeddings/`` directory. Every process must finish (or stop with one clear ``error:``
line), never with a traceback or "database is locked", and no row may be lost.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from verify.cli import describe
from verify.errors import CorpusError
from verify.pipeline.recheck import corpus_lock
from verify.store.corpus import Corpus

import crashkit as ck
from worker import write_official_dir, write_report

pytestmark = pytest.mark.subprocess

ITERATIONS = 4


def finish(procs, timeout=180) -> list[ck.Outcome]:
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError("a worker hung") from None
        out.append(ck.Outcome(p.returncode, o, e))
    return out


def assert_clean(o: ck.Outcome, allowed_error: str | None = None):
    assert "Traceback" not in o.stderr and "database is locked" not in o.stderr, o.stderr[-3000:]
    if o.returncode == 0:
        return
    lines = [line for line in o.stderr.splitlines() if line.strip()]
    assert o.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), o.stderr[-3000:]
    assert allowed_error and allowed_error in lines[0], lines[0]


@pytest.fixture
def base(tmp_path):
    """An existing corpus: official statements, their index, and one checked report."""
    write_official_dir(tmp_path / "statements", 20, 6)
    db = tmp_path / "corpus.db"
    ck.run_ok(db, "ingest", "official", tmp_path / "statements")
    first = ck.run_ok(db, "check", write_report(tmp_path / "leak0.txt", 30, seed=0))
    assert first["claims"] == 30
    return db


def test_ingest_and_check_while_a_recheck_runs(tmp_path, base):
    """One process ingests a report and checks it while another rechecks every stored claim.

    New official statements are ingested between the rounds (not during them: a check that is
    running when official statements arrive is the known bug pinned below,
    test_official_statement_ingested_during_a_check_does_not_crash_it)."""
    slow = ck.worker_env(FAKE_SLOW_MS=1)
    documents = ck.scalar(base, "select count(*) from documents")
    for i in range(1, ITERATIONS + 1):
        official = tmp_path / f"official{i}"
        write_official_dir(official, 8, 6, seed=100 + i)
        ck.run_ok(base, "ingest", "official", official)  # gives the recheck model work to do
        report = write_report(tmp_path / f"leak{i}.txt", 20, seed=i)
        a = ck.spawn(base, "check", report, env=slow)
        b = ck.spawn(base, "recheck", "--wait", "60", env=slow)
        oa, ob = finish([a, b])
        assert_clean(oa)
        assert_clean(ob)
        assert oa.returncode == 0 and ob.returncode == 0, (oa.stderr, ob.stderr)
        assert ob.result["model_loaded"]
        documents += 8 + 1
        assert ck.scalar(base, "select count(*) from documents") == documents  # nothing lost
        assert ck.db_problems(base) == []
        assert ck.scalar(base, "select count(*) from runs where status != 'ok'") == 0
        # every claim of every report has a verdict in force
        assert ck.scalar(base, "select count(*) from claims c where not exists "
                               "(select 1 from latest_verdicts v where v.claim_id = c.id)") == 0
    assert ck.scalar(base, "select count(*) from claims") == 30 + 20 * ITERATIONS
    # The index may have been written by both processes; whatever is on disk is either valid or
    # detected as damaged, and the next load ends with an index that matches the database.
    final = ck.run_ok(base, "index")
    assert final["count"] == ck.official_sentence_count(base)
    assert ck.run_ok(base, "index")["action"] == "loaded"


def test_two_processes_ingesting_official_statements_while_a_third_indexes(tmp_path, base):
    for i in range(ITERATIONS):
        dirs = [tmp_path / f"{i}-{n}" for n in range(2)]
        for n, d in enumerate(dirs):
            write_official_dir(d, 10, 6, seed=500 + 10 * i + n)
        env = ck.worker_env(WORKER_SLOW_INGEST_MS=1, FAKE_SLOW_MS=1)
        procs = [ck.spawn(base, "ingest", "official", d, env=env) for d in dirs] + [ck.spawn(base, "index", env=env)]
        outcomes = finish(procs)
        for o in outcomes:
            assert_clean(o)
            assert o.returncode == 0
        assert [o.result["added"] for o in outcomes[:2]] == [10, 10]
    assert ck.scalar(base, "select count(*) from documents where kind = 'official'") == 20 + 20 * ITERATIONS
    assert ck.db_problems(base) == []
    final = ck.run_ok(base, "index")
    assert final["count"] == ck.official_sentence_count(base)
    assert ck.run_ok(base, "index")["action"] == "loaded"


def test_two_processes_ingesting_overlapping_directories_store_each_document_once(tmp_path):
    db = tmp_path / "corpus.db"
    Corpus(db).close()
    for i in range(ITERATIONS):
        shared, own_a, own_b = (tmp_path / f"{i}-{name}" for name in ("shared", "a", "b"))
        write_official_dir(shared, 15, 5, seed=200 + i)
        write_official_dir(own_a, 5, 5, seed=300 + i)
        write_official_dir(own_b, 5, 5, seed=400 + i)
        env = ck.worker_env(WORKER_SLOW_INGEST_MS=1)
        pa = ck.spawn(db, "ingest", "official", shared, own_a, env=env)
        pb = ck.spawn(db, "ingest", "official", own_b, shared, env=env)
        oa, ob = finish([pa, pb])
        for o in (oa, ob):
            assert_clean(o)
            assert o.returncode == 0 and o.result["errors"] == []
        # each shared document was added by exactly one of the two, and found by the other
        assert oa.result["added"] + ob.result["added"] == 25
        assert oa.result["unchanged"] + ob.result["unchanged"] == 15
    assert ck.scalar(db, "select count(*) from documents") == 25 * ITERATIONS
    assert ck.scalar(db, "select count(distinct sha256) from documents") == 25 * ITERATIONS
    assert ck.db_problems(db) == []


def test_two_checks_of_the_same_report_at_once_share_its_claims(tmp_path, base):
    report = write_report(tmp_path / "same.txt", 25, seed=50)
    slow = ck.worker_env(FAKE_SLOW_MS=1)
    outcomes = finish([ck.spawn(base, "check", report, env=slow) for _ in range(2)])
    for o in outcomes:
        assert_clean(o)
        assert o.returncode == 0 and o.result["claims"] == 25
    assert outcomes[0].result["documents"] == outcomes[1].result["documents"]  # one document, not two
    doc = outcomes[0].result["documents"][0]
    assert ck.scalar(base, "select count(*) from claims where document_id = ?", [doc]) == 25
    assert ck.db_problems(base) == []


def test_two_rechecks_at_once_one_waits_or_stops_with_a_clear_message(tmp_path, base):
    write_official_dir(tmp_path / "more", 10, 6, seed=77)
    ck.run_ok(base, "ingest", "official", tmp_path / "more")  # gives the rechecks model work to do
    slow = ck.worker_env(FAKE_SLOW_MS=2)
    for i in range(3):
        first = ck.spawn(base, "recheck", env=slow)
        assert first.stdout.readline() == "ready\n"
        second = ck.spawn(base, "recheck", "--wait", "0", env=slow)
        o1, o2 = finish([first, second])
        assert_clean(o1)
        assert o1.returncode == 0
        # with --wait 0 the second either found the lock free or stopped at once, cleanly
        assert_clean(o2, allowed_error="another recheck holds")
        assert ck.scalar(base, "select count(*) from runs where status != 'ok'") == 0
    assert ck.db_problems(base, documents=False) == []


# --- the recheck lock ----------------------------------------------------------------------------

def test_second_lock_holder_without_wait_gets_a_clear_error(tmp_path):
    db = tmp_path / "corpus.db"
    with corpus_lock(db), pytest.raises(CorpusError) as err, corpus_lock(db, wait=0):
        pass
    message = str(err.value)
    assert "another recheck holds" in message and str(db) + ".lock" in message and "--wait" not in message
    assert "--wait" in describe(err.value)  # the command line names the option
    with corpus_lock(db, wait=0):  # released: free again
        pass


def test_second_lock_holder_with_wait_proceeds_after_the_first_releases(tmp_path):
    db = tmp_path / "corpus.db"
    events = []
    holding = threading.Event()

    def first():
        with corpus_lock(db):
            holding.set()
            time.sleep(0.5)
            events.append("first released")

    t = threading.Thread(target=first)
    t.start()
    holding.wait(5)
    with corpus_lock(db, wait=30):
        events.append("second acquired")
    t.join()
    assert events == ["first released", "second acquired"]


def test_lock_wait_gives_up_when_the_holder_does_not_release(tmp_path):
    db = tmp_path / "corpus.db"
    with corpus_lock(db), pytest.raises(CorpusError, match="another recheck holds"), corpus_lock(db, wait=0.5):
        pass


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    db = tmp_path / "corpus.db"
    code = ("import sys, time; from verify.pipeline.recheck import corpus_lock\n"
            "with corpus_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True,
                         env=ck.worker_env())
    assert p.stdout.readline() == "held\n"
    assert (tmp_path / "corpus.db.lock").read_text().strip() == str(p.pid)
    with pytest.raises(CorpusError), corpus_lock(db, wait=0):
        pass
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    with corpus_lock(db, wait=0):  # the kernel released the dead holder's lock
        pass


def test_in_memory_corpus_needs_no_lock():
    with corpus_lock(None, wait=0), corpus_lock(None, wait=0):
        pass


# --- opening a new database from two processes at once -----------------------------------------

def test_two_processes_creating_the_same_corpus_at_once(tmp_path, monkeypatch):
    """The race, made deterministic: the other process migrates between our version read and
    our first migration transaction."""
    db = tmp_path / "corpus.db"
    late = Corpus(db, migrate=False)
    real = Corpus.schema_version
    calls = []

    def schema_version(self):
        version = real(self)
        if self is late and not calls:
            calls.append(version)
            Corpus(db).close()  # the other process: creates and migrates the database now
        return version

    monkeypatch.setattr(Corpus, "schema_version", schema_version)
    late.migrate()  # must notice the work is done, not redo it
    monkeypatch.undo()
    assert late.schema_version() == len(late.db.execute("select * from _migrations").fetchall())
    late.close()


# --- official statements arriving while a check is running ---------------------------------------

def test_official_statement_ingested_during_a_check_does_not_crash_it(tmp_path):
    """Two connections to one file, as two processes would have: the checker's index is loaded,
    then another connection commits a new official statement, then the checker retrieves."""
    from verify.pipeline.check import Checker

    from conftest import OFFICIAL_TEXT, make_document
    from fakes import FakeEmbedder, FakeNLI

    db = tmp_path / "corpus.db"
    corpus = Corpus(db)
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)
    assert checker.index.index.ntotal == 4  # loaded (built) now, as at the start of a check
    other = Corpus(db)  # the other process
    other.add_document(make_document("official", "The zeppelin squadron was moved to Kaliningrad on Friday.\n"))
    other.close()
    run = checker.check_text("A zeppelin squadron was moved to Kaliningrad.")
    assert run.results and corpus.run(run.run_id)["status"] == "ok"


def test_opening_a_corpus_another_connection_is_writing_waits_for_it(tmp_path):
    path = tmp_path / "corpus.db"
    writer = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    writer.execute("create table scratch (x)")  # a new file, still in the default rollback-journal mode
    writer.execute("begin immediate")
    writer.execute("insert into scratch values (1)")
    release = threading.Timer(0.5, lambda: writer.execute("commit"))
    release.start()
    try:
        corpus = Corpus(path)  # must wait for the writer (busy_timeout is 30 s), then open
    finally:
        release.join()
        writer.close()
    assert corpus.schema_version() == len(corpus.db.execute("select * from _migrations").fetchall())
    assert corpus.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    corpus.close()


def test_a_writer_blocked_by_another_says_it_is_waiting_then_proceeds(tmp_path):
    import threading
    import time

    from verify.store.corpus import Corpus

    path = tmp_path / "corpus.db"
    Corpus(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write in progress
    waits: list[float] = []
    done = threading.Event()

    def write():
        c = Corpus(path, on_wait=waits.append)
        c.set_setting("official_side", ["US"])
        c.close()
        done.set()

    t = threading.Thread(target=write)
    t.start()
    time.sleep(2.5)
    assert not done.is_set() and waits and max(waits) >= 1.0  # waiting, and saying so
    holder.execute("COMMIT")
    t.join(10)
    assert done.is_set()
    assert Corpus(path).official_side() == ["US"]
