"""Crashes: SIGKILL a worker process mid-ingest, mid-index-build and mid-check, then look.

After every kill: SQLite reports no damage, no document exists without all its sentences,
a check run that was killed is never marked 'ok' and is ignored by every reader of "the
latest verdict", and running the same command again completes the work. The FAISS index
beside the database is never trusted when it is damaged or stale: it is rebuilt.

Kills are timed from the moment the worker has opened the corpus, at fractions of the time
an uninterrupted run of the same command takes on this machine, so that they land before,
during and near the end of the work whatever the machine's speed. The fake models (and the
sentence inserts, for ingest) are slowed with sleeps, which cost no CPU.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from verify.pipeline.index import ADD_BATCH as BATCH

import crashkit as ck
from worker import write_official_dir, write_report

pytestmark = pytest.mark.crash

FRACTIONS = (0.02, 0.15, 0.3, 0.5, 0.7, 0.9)  # six kill points, as fractions of an uninterrupted run

N_DOCS, N_SENT = 60, 6
SLOW_INGEST = ck.worker_env(WORKER_SLOW_INGEST_MS=3)


# --- ingest ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def statements(tmp_path_factory):
    d = tmp_path_factory.mktemp("statements")
    write_official_dir(d, N_DOCS, N_SENT)
    return d


def test_kill_during_ingest_loses_nothing_and_leaves_no_half_document(tmp_path, statements):
    reference = ck.run(tmp_path / "ref" / "corpus.db", "ingest", "official", statements, env=SLOW_INGEST)
    assert reference.returncode == 0 and reference.result["added"] == N_DOCS, reference.stderr
    outcomes = []
    for fraction in FRACTIONS:
        db = tmp_path / f"kill{fraction}" / "corpus.db"
        o = ck.kill_after(db, ["ingest", "official", statements], fraction * reference.seconds, env=SLOW_INGEST)
        assert "Traceback" not in o.stderr, o.stderr
        assert ck.db_problems(db) == [], f"after a kill at {fraction}"
        conn = ck.connect(db)
        stored = conn.execute("select count(*) from documents").fetchone()[0]
        sources = {r[0] for r in conn.execute("select source from documents")}
        conn.close()
        assert sources <= {str(p) for p in statements.iterdir()}
        outcomes.append((fraction, o.killed, stored))

        again = ck.run_ok(db, "ingest", "official", statements)  # rerun: completes the work
        assert again["errors"] == [] and again["added"] == N_DOCS - stored and again["unchanged"] == stored
        assert ck.db_problems(db) == []
        conn = ck.connect(db)
        assert conn.execute("select count(*) from documents").fetchone()[0] == N_DOCS
        assert conn.execute("select count(*) from sentences").fetchone()[0] == N_DOCS * N_SENT
        conn.close()
    print("ingest kills (fraction, killed, documents stored):", outcomes)
    # The test only means something if some kills really landed in the middle of the work.
    assert any(killed and 0 < stored < N_DOCS for _, killed, stored in outcomes), outcomes


# --- index build -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """An official corpus of two embedding batches (2048 sentences each), no index yet."""
    d = tmp_path_factory.mktemp("big")
    write_official_dir(d / "statements", 680, 6)
    db = d / "corpus.db"
    result = ck.run_ok(db, "ingest", "official", d / "statements")
    assert result["added"] == 680
    assert 2048 < ck.distinct_official_texts(db) <= 4096
    return db


def _index_is_complete(db, exact_limit=200_000):
    n = ck.official_sentence_count(db)
    second = ck.run_ok(db, "index", env=ck.worker_env(VERIFY_EXACT_LIMIT=exact_limit))
    assert second["action"] == "loaded" and second["count"] == n and second["texts_encoded"] == 0, second
    assert ck.index_header_matches_file(db.parent / "embeddings") is True
    header = json.loads((db.parent / "embeddings" / "fake-embed.json").read_text())
    assert header["count"] == n


@pytest.mark.parametrize("kind", ["exact", "ivf"])
def test_kill_during_index_build_is_recovered_from_the_database(tmp_path, big_corpus, kind):
    # VERIFY_EXACT_LIMIT below the corpus size makes verify build its IVF index instead.
    limit = {"exact": 200_000, "ivf": 1000}[kind]
    slow = ck.worker_env(FAKE_SLOW_MS=0.3, VERIFY_EXACT_LIMIT=limit)
    ref_db = ck.copy_db(big_corpus, tmp_path / "ref" / "corpus.db")
    reference = ck.run(ref_db, "index", env=slow)
    assert reference.returncode == 0 and reference.result["action"] == "built", reference.stderr
    n = ck.official_sentence_count(big_corpus)
    outcomes = []
    for fraction in FRACTIONS if kind == "exact" else FRACTIONS[1::2]:
        db = ck.copy_db(big_corpus, tmp_path / f"kill{fraction}" / "corpus.db")
        o = ck.kill_after(db, ["index"], fraction * reference.seconds, env=slow)
        assert "Traceback" not in o.stderr, o.stderr
        assert ck.db_problems(db, documents=False) == []
        conn = ck.connect(db)
        cached = conn.execute("select count(*) from embeddings where model_id = 'fake-embed'").fetchone()[0]
        conn.close()
        header_ok = ck.index_header_matches_file(db.parent / "embeddings")
        outcomes.append((fraction, o.killed, cached, header_ok))

        again = ck.run_ok(db, "index", env=ck.worker_env(VERIFY_EXACT_LIMIT=limit))
        assert again["count"] == n, again
        # Vectors cached before the kill are reused: only the rest is encoded again.
        distinct = ck.distinct_official_texts(db)
        assert again["texts_encoded"] == (distinct - cached if again["action"] != "loaded" else 0), (again, cached)
        _index_is_complete(db, limit)
        header = json.loads((db.parent / "embeddings" / "fake-embed.json").read_text())
        assert header["kind"] == {"exact": "IndexIDMap2(IndexFlatIP)", "ivf": "IndexIDMap2(IndexIVFFlat)"}[kind]
    print(f"index kills, {kind} (fraction, killed, vectors cached, header matches file):", outcomes)
    assert any(killed and header_ok is None for _, killed, _, header_ok in outcomes), outcomes
    if kind == "exact":
        # Two embedding batches: a kill between them, landed on the worker's progress line
        # rather than a fraction of a timed run, leaves the first batch's vectors cached,
        # and the rebuild encodes only the rest.
        db = ck.copy_db(big_corpus, tmp_path / "between" / "corpus.db")
        o = ck.kill_on(db, ["index"], f"indexed {BATCH}", env=slow)
        distinct = ck.distinct_official_texts(db)
        conn = ck.connect(db)
        cached = conn.execute("select count(*) from embeddings where model_id = 'fake-embed'").fetchone()[0]
        conn.close()
        assert o.killed and 0 < cached < distinct, (o, cached, distinct)
        again = ck.run_ok(db, "index", env=ck.worker_env(VERIFY_EXACT_LIMIT=limit))
        assert again["count"] == n and again["texts_encoded"] == distinct - cached, (again, cached)


def test_kill_during_index_update_keeps_the_old_index_usable(tmp_path, big_corpus):
    db = ck.copy_db(big_corpus, tmp_path / "corpus.db")
    ck.run_ok(db, "index")
    before = ck.official_sentence_count(db)
    write_official_dir(tmp_path / "more", 120, 6, seed=7)
    ck.run_ok(db, "ingest", "official", tmp_path / "more")
    n = ck.official_sentence_count(db)
    assert n == before + 720
    o = ck.kill_after(db, ["index"], 0.2, env=ck.worker_env(FAKE_SLOW_MS=1))  # 720 texts: ~0.7 s of encoding
    assert o.killed, o.stdout
    assert ck.db_problems(db, documents=False) == []
    # The index files on disk are still the old, complete ones: loaded, then extended.
    assert ck.index_header_matches_file(db.parent / "embeddings") is True
    again = ck.run_ok(db, "index")
    assert again["action"] == "updated" and again["count"] == n, again
    _index_is_complete(db)


# --- damaged or stale index files ------------------------------------------------------------------

@pytest.fixture
def indexed(tmp_path):
    write_official_dir(tmp_path / "statements", 10, 6)
    db = tmp_path / "corpus.db"
    ck.run_ok(db, "ingest", "official", tmp_path / "statements")
    assert ck.run_ok(db, "index")["action"] == "built"
    return db


def _truncate(p):
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


DAMAGE = {
    "faiss truncated": (lambda e: _truncate(e / "fake-embed.faiss"), "damaged"),
    "faiss emptied": (lambda e: (e / "fake-embed.faiss").write_bytes(b""), "damaged"),
    "faiss garbage": (lambda e: (e / "fake-embed.faiss").write_bytes(os.urandom(4096)), "damaged"),
    "faiss deleted": (lambda e: (e / "fake-embed.faiss").unlink(), "no index"),
    "json deleted": (lambda e: (e / "fake-embed.json").unlink(), "no index"),
    "json truncated": (lambda e: _truncate(e / "fake-embed.json"), "unreadable"),
    "json garbage": (lambda e: (e / "fake-embed.json").write_bytes(os.urandom(300)), "unreadable"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_index_files_are_detected_and_rebuilt(indexed, damage):
    embeddings = indexed.parent / "embeddings"
    hurt, reason = DAMAGE[damage]
    hurt(embeddings)
    n = ck.official_sentence_count(indexed)
    result = ck.run_ok(indexed, "index")
    assert result["action"] in ("built", "rebuilt") and reason in result["reason"], result
    assert result["count"] == n and result["texts_encoded"] == 0  # rebuilt from cached vectors
    _index_is_complete(indexed)


def test_torn_save_new_index_file_with_old_header_is_rebuilt(tmp_path, indexed):
    """A crash between the two atomic writes of save(): the new .faiss beside the old .json."""
    embeddings = indexed.parent / "embeddings"
    old_header = (embeddings / "fake-embed.json").read_bytes()
    write_official_dir(tmp_path / "more", 3, 6, seed=3)
    ck.run_ok(indexed, "ingest", "official", tmp_path / "more")
    assert ck.run_ok(indexed, "index")["action"] == "updated"
    (embeddings / "fake-embed.json").write_bytes(old_header)
    result = ck.run_ok(indexed, "index")
    assert result["action"] == "rebuilt" and "checksum" in result["reason"], result
    _index_is_complete(indexed)


def test_index_newer_than_a_restored_database_is_rebuilt(tmp_path, indexed):
    """corpus.db restored from a backup taken before the last index update."""
    backup = ck.copy_db(indexed, tmp_path / "backup.db")
    write_official_dir(tmp_path / "more", 3, 6, seed=3)
    ck.run_ok(indexed, "ingest", "official", tmp_path / "more")
    assert ck.run_ok(indexed, "index")["action"] == "updated"
    for suffix in ("-wal", "-shm"):
        (indexed.parent / f"corpus.db{suffix}").unlink(missing_ok=True)
    ck.copy_db(backup, indexed)
    result = ck.run_ok(indexed, "index")
    assert result["action"] == "rebuilt" and "database changed" in result["reason"], result
    assert result["count"] == ck.official_sentence_count(indexed) == 60
    _index_is_complete(indexed)


def test_index_of_a_different_corpus_with_the_same_sentence_count_is_not_trusted(tmp_path):
    from verify.pipeline.index import VectorIndex
    from verify.store.corpus import Corpus

    from fakes import FakeEmbedder

    db = tmp_path / "corpus.db"
    write_official_dir(tmp_path / "a", 4, 6, seed=1)
    write_official_dir(tmp_path / "b", 4, 6, seed=2)  # same shape, different statements
    ck.run_ok(db, "ingest", "official", tmp_path / "a")
    ck.run_ok(db, "index")
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"corpus.db{suffix}").unlink(missing_ok=True)
    ck.run_ok(db, "ingest", "official", tmp_path / "b")  # a new corpus, the old embeddings/ beside it
    corpus = Corpus(db)
    embedder = FakeEmbedder()
    index = VectorIndex(corpus, embedder)
    status = index.ensure()
    target = next(corpus.sentences(kind="official"))
    best = index.search(embedder.encode([target["text"]]), 1)[0][0][0]
    corpus.close()
    assert status.action != "loaded", "a stale index from another corpus was loaded"
    assert best == target["id"]


# --- check ---------------------------------------------------------------------------------------

N_CLAIMS = 150  # three scoring batches of 64


@pytest.fixture(scope="module")
def checked_base(tmp_path_factory):
    """Official statements with their index built, and a report file not yet ingested."""
    d = tmp_path_factory.mktemp("check")
    write_official_dir(d / "statements", 80, 6)
    db = d / "corpus.db"
    ck.run_ok(db, "ingest", "official", d / "statements")
    ck.run_ok(db, "index")
    report = write_report(d / "leak.txt", N_CLAIMS)
    return db, report


def _runs(db):
    conn = ck.connect(db)
    try:
        return [dict(r) for r in conn.execute(
            "select r.id, r.status, (select count(*) from verdicts v where v.run_id = r.id) as verdicts "
            "from runs r order by r.id")]
    finally:
        conn.close()


def _copy_with_index(src, dst_dir):
    import shutil

    db = ck.copy_db(src, dst_dir / "corpus.db")
    shutil.copytree(src.parent / "embeddings", dst_dir / "embeddings")
    return db


def _after_check_kill(db: Path, o, report) -> list[tuple[str, int]]:
    """What a killed check left, checked; then a rerun that must complete the work."""
    from verify.outputs.export import latest_results
    from verify.store.corpus import Corpus

    assert "Traceback" not in o.stderr, o.stderr
    assert ck.db_problems(db) == []
    runs = _runs(db)
    # A run is 'ok' only when complete. SIGKILL leaves no chance to record 'failed': a killed
    # run stays 'running'. (A kill can also land after the run was recorded, before exit.)
    assert all(r["verdicts"] == N_CLAIMS for r in runs if r["status"] == "ok"), runs
    assert all(r["status"] in ("ok", "running", "failed") for r in runs), runs
    finished = any(r["status"] == "ok" for r in runs)
    assert finished or o.killed
    corpus = Corpus(db)
    claim_ids = [r[0] for r in corpus.db.execute("select id from claims")]
    if not finished:
        assert all(corpus.latest_verdict(c) is None for c in claim_ids)
        assert ck.scalar(db, "select count(*) from latest_verdicts") == 0
        assert ck.scalar(db, "select count(*) from claim_verdicts") == 0
        assert latest_results(corpus)[1] == []
    corpus.close()

    again = ck.run_ok(db, "check", report)  # rerun: completes the work in a new run
    assert again["claims"] == N_CLAIMS
    assert ck.db_problems(db) == []
    corpus = Corpus(db)
    new_run = again["run_id"]
    assert corpus.run(new_run)["status"] == "ok"
    claim_ids = [r[0] for r in corpus.db.execute("select id from claims")]
    assert len(claim_ids) == N_CLAIMS  # the killed run's claims were reused, not duplicated
    assert all(corpus.latest_verdict(c)["run_id"] == new_run for c in claim_ids)
    assert ck.scalar(db, "select count(*) from latest_verdicts") == N_CLAIMS
    assert {r["run_id"] for r in latest_results(corpus)[1]} == {new_run}
    corpus.close()
    # A nightly recheck builds on the completed run only.
    recheck = ck.run_ok(db, "recheck")
    assert recheck["claims"] == N_CLAIMS and recheck["rescored"] == 0 and not recheck["model_loaded"]
    return [(r["status"], r["verdicts"]) for r in runs]


def test_kill_during_check_is_never_taken_for_a_verdict(tmp_path, checked_base):
    base, report = checked_base
    slow = ck.worker_env(FAKE_SLOW_MS=1)
    # Deterministic: killed right after the first batch of verdicts was stored, mid-run.
    db = _copy_with_index(base, tmp_path / "kill-batch")
    o = ck.kill_on(db, ["check", report], "stored 64", env=slow)
    assert o.killed, o.stdout + o.stderr[-2000:]
    [(status, stored)] = _after_check_kill(db, o, report)
    assert status == "running" and stored == 64  # held after the first batch: the next one never began
    # Timed: kills spread over an uninterrupted run's length, wherever they land.
    reference = ck.run(_copy_with_index(base, tmp_path / "ref"), "check", report, env=slow)
    assert reference.returncode == 0 and reference.result["claims"] == N_CLAIMS, reference.stderr
    outcomes = []
    for fraction in FRACTIONS:
        db = _copy_with_index(base, tmp_path / f"kill{fraction}")
        o = ck.kill_after(db, ["check", report], fraction * reference.seconds, env=slow)
        outcomes.append((fraction, o.killed, _after_check_kill(db, o, report)))
    print("check kills (fraction, killed, [(run status, verdicts stored)]):", outcomes)


@pytest.fixture(scope="module")
def recheck_base(tmp_path_factory, checked_base):
    """The report checked; then new official statements, so that a recheck has model work to do."""
    base, report = checked_base
    d = tmp_path_factory.mktemp("recheck")
    db = _copy_with_index(base, d)
    first = ck.run_ok(db, "check", report)
    write_official_dir(d / "more", 30, 6, seed=9)
    ck.run_ok(db, "ingest", "official", d / "more")
    return db, first["run_id"]


def test_kill_during_recheck_leaves_the_previous_verdicts_in_force(tmp_path, recheck_base):
    base, first_run = recheck_base
    slow = ck.worker_env(FAKE_SLOW_MS=2)
    reference = ck.run(_copy_with_index(base, tmp_path / "ref"), "recheck", env=slow)
    assert reference.returncode == 0 and reference.result["model_loaded"], reference.stderr
    outcomes = []
    for fraction in (0.3, 0.6, 0.9):
        db = _copy_with_index(base, tmp_path / f"kill{fraction}")
        o = ck.kill_after(db, ["recheck"], fraction * reference.seconds, env=slow)
        assert "Traceback" not in o.stderr, o.stderr
        assert ck.db_problems(db, documents=False) == []
        conn = ck.connect(db)
        statuses = dict(conn.execute("select id, status from runs"))
        latest = {r[0] for r in conn.execute("select distinct run_id from latest_verdicts")}
        conn.close()
        outcomes.append((fraction, o.killed, statuses))
        assert statuses[first_run] == "ok"
        done = [rid for rid, st in statuses.items() if rid != first_run and st == "ok"]
        if o.killed and not done:  # killed before the new run was complete: the old verdicts stand
            assert latest == {first_run}
        else:  # the kill came after the run was recorded complete (or there was no kill)
            assert len(done) == 1 and latest == set(done)
            assert ck.scalar(db, "select count(*) from verdicts where run_id = ?", done) == N_CLAIMS
        # The lock died with the process: the next recheck runs at once and completes.
        again = ck.run_ok(db, "recheck", "--wait", "0")
        assert again["claims"] == N_CLAIMS
        assert ck.scalar(db, "select count(distinct run_id) from latest_verdicts") == 1
        assert ck.scalar(db, "select max(run_id) from latest_verdicts") == again["run_id"]
        assert ck.scalar(db, "select count(*) from latest_verdicts") == N_CLAIMS
    print("recheck kills (fraction, killed, run statuses):", outcomes)
    assert any(killed for _, killed, _ in outcomes)


def test_a_database_left_by_a_kill_opens_read_write_with_plain_sqlite(tmp_path, checked_base):
    """The WAL left behind by a kill is recovered by whoever opens the file next."""
    base, report = checked_base
    db = _copy_with_index(base, tmp_path)
    o = ck.kill_after(db, ["check", report], 0.3, env=ck.worker_env(FAKE_SLOW_MS=1))
    assert o.killed
    conn = sqlite3.connect(str(db))
    conn.execute("insert into runs (status) values ('probe')")
    conn.commit()
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    conn.close()


def _interrupt_check(tmp_path, checked_base):
    """Run the real command line on a check, send SIGINT (Ctrl-C) once the run has started.

    The fake models are slowed enough (20 ms a pair or text) that the run is surely mid-way when the
    signal lands, even on a loaded machine.
    """
    import signal
    import subprocess
    import sys
    import time

    base, report = checked_base
    db = _copy_with_index(base, tmp_path)
    # A shell that runs the suite in the background hands its children SIGINT ignored, and
    # Python then installs no Ctrl-C handler: give the worker the default disposition back.
    proc = subprocess.Popen([sys.executable, str(ck.WORKER), str(db), "cli", "check", str(report), "-q"],
                            env=ck.worker_env(FAKE_SLOW_MS=20), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if ck.scalar(db, "select count(*) from runs where status = 'running'"):
            break
        time.sleep(0.05)
    time.sleep(0.2)
    assert proc.poll() is None, "the check finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return db, proc.returncode, err


def test_interrupt_during_check_marks_the_run_failed(tmp_path, checked_base):
    """Ctrl-C in the real command line: the run is recorded 'failed', exit status 130, no traceback."""
    db, returncode, err = _interrupt_check(tmp_path, checked_base)
    assert returncode == 130 and "Traceback" not in err, err
    assert ck.scalar(db, "select group_concat(status) from runs") == "failed"
    assert ck.scalar(db, "select count(*) from latest_verdicts") == 0
    assert ck.db_problems(db, documents=False) == []


def test_interrupt_during_check_says_so(tmp_path, checked_base):
    _, returncode, err = _interrupt_check(tmp_path, checked_base)
    assert returncode == 130
    assert [line for line in err.splitlines() if line.strip()] == ["error: interrupted; nothing half-written was kept"]
