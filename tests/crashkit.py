"""Helpers for the crash and concurrency tests: run tests/worker.py, kill it, inspect corpus.db.

The database is inspected with the plain sqlite3 module (not ``Corpus``), so that looking
at a crashed database cannot repair or migrate it first.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
WORKER = TESTS / "worker.py"


def worker_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("FAKE_SLOW_MS", "WORKER_SLOW_INGEST_MS", "WORKER_NET_LOG")}
    env.update({"PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)]), "NO_COLOR": "1",
                "PYTHONDONTWRITEBYTECODE": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def spawn(db: Path, *args, env: dict | None = None) -> subprocess.Popen:
    # stdin is a pipe: a worker held at a progress line (WORKER_HOLD_AT) waits for a line on it.
    return subprocess.Popen([sys.executable, str(WORKER), str(db), *map(str, args)], env=env or worker_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float = 0.0  # from "ready" to exit (or kill)

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    @property
    def result(self) -> dict | None:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None


def run(db: Path, *args, env: dict | None = None, timeout: float = 120) -> Outcome:
    """Run the worker to completion."""
    p = spawn(db, *args, env=env)
    t0 = None
    first = p.stdout.readline()
    if first == "ready\n":
        t0 = time.monotonic()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"worker {args} timed out; stderr: {err[-2000:]}") from None
    return Outcome(p.returncode, first + out, err, time.monotonic() - t0 if t0 else 0.0)


def run_ok(db: Path, *args, env: dict | None = None, timeout: float = 120) -> dict:
    o = run(db, *args, env=env, timeout=timeout)
    assert o.returncode == 0 and "Traceback" not in o.stderr, f"worker {args} failed ({o.returncode}): {o.stderr[-3000:]}"
    return o.result


def kill_after(db: Path, args, delay: float, env: dict | None = None) -> Outcome:
    """Start the worker, wait until it has opened the corpus, then SIGKILL it ``delay`` s later."""
    p = spawn(db, *args, env=env)
    first = p.stdout.readline()
    if first != "ready\n":
        out, err = p.communicate(timeout=60)
        raise AssertionError(f"worker {args} did not start: {first}{out}{err[-3000:]}")
    t0 = time.monotonic()
    deadline = t0 + delay
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    return Outcome(p.returncode, first + out, err, time.monotonic() - t0)


def held_at(db: Path, args, line: str, env: dict | None = None, timeout: float = 120) -> tuple[subprocess.Popen, list[str]]:
    """Start the worker held at progress ``line`` (``WORKER_HOLD_AT``): returns it once it waits
    there, that batch stored and the next not begun, with the lines it printed."""
    p = spawn(db, *args, env={**(env or worker_env()), "WORKER_HOLD_AT": line})
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for out_line in p.stdout:
        seen.append(out_line)
        if out_line.rstrip("\n") == line or out_line.startswith(line + " "):
            return p, seen
        if time.monotonic() > deadline:
            break
    p.kill()
    out, err = p.communicate(timeout=60)
    raise AssertionError(f"worker {args} never reached {line!r}: {''.join(seen)}{out}{err[-3000:]}")


def kill_on(db: Path, args, line: str, env: dict | None = None) -> Outcome:
    """Start the worker and SIGKILL it at progress ``line``, where it waits to be told to go on
    (``held_at``): the kill lands mid-run by construction, however slow or fast the machine."""
    t0 = time.monotonic()
    p, seen = held_at(db, args, line, env)
    os.kill(p.pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    return Outcome(p.returncode, "".join(seen) + out, err, time.monotonic() - t0)


# --- looking at a database after a crash ------------------------------------------------------

def connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db), timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def db_problems(db: Path, documents: bool = True) -> list[str]:
    """Everything wrong with a corpus database: SQLite damage and broken verify invariants.

    Args:
        documents: also re-segment every document and compare with its stored sentences.
    """
    from verify.pipeline.segment import segment

    problems = []
    conn = connect(db)
    try:
        integrity = [r[0] for r in conn.execute("pragma integrity_check")]
        if integrity != ["ok"]:
            problems.append(f"integrity_check: {integrity[:5]}")
        fk = list(conn.execute("pragma foreign_key_check"))
        if fk:
            problems.append(f"foreign_key_check: {[tuple(r) for r in fk[:5]]}")
        if conn.execute("select count(*) from sqlite_master where name = 'sentences_fts'").fetchone()[0]:
            try:
                conn.execute("insert into sentences_fts(sentences_fts, rank) values ('integrity-check', 1)")
            except sqlite3.DatabaseError as e:
                problems.append(f"full-text index out of step with sentences: {e}")
        if documents and conn.execute("select count(*) from sqlite_master where name = 'documents'").fetchone()[0]:
            for doc in conn.execute("select id, text, speaker, sha256 from documents order by id"):
                rows = list(conn.execute("select position, start, end, text from sentences where document_id = ? "
                                         "order by position", [doc["id"]]))
                expected = segment(doc["text"], default_speaker=doc["speaker"])
                if hashlib.sha256(doc["text"].encode()).hexdigest() != doc["sha256"]:
                    problems.append(f"document {doc['id']}: sha256 does not match its text")
                if [r["position"] for r in rows] != list(range(len(rows))):
                    problems.append(f"document {doc['id']}: sentence positions not contiguous")
                if [(r["start"], r["end"], r["text"]) for r in rows] != [(s.start, s.end, s.text) for s in expected]:
                    problems.append(f"document {doc['id']}: {len(rows)} stored sentences, "
                                    f"re-segmenting its text gives {len(expected)}")
        if conn.execute("select count(*) from sqlite_master where name = 'embeddings'").fetchone()[0]:
            bad = conn.execute("select count(*) from embeddings where length(vector) != 64 * 4 "
                               "and model_id = 'fake-embed'").fetchone()[0]
            if bad:
                problems.append(f"{bad} cached vectors of the wrong length")
        if conn.execute("select count(*) from sqlite_master where name = 'runs'").fetchone()[0]:
            for run in conn.execute("select id, status, finished_at from runs where status = 'ok'"):
                if not run["finished_at"]:
                    problems.append(f"run {run['id']} is ok but has no finish time")
            orphans = conn.execute("select count(*) from evidence e left join verdicts v on v.id = e.verdict_id "
                                   "where v.id is null").fetchone()[0]
            if orphans:
                problems.append(f"{orphans} evidence rows without their verdict")
    finally:
        conn.close()
    return problems


def index_header_matches_file(embeddings_dir: Path, slug: str = "fake-embed") -> bool | None:
    """None when there is no index; else whether the header's checksum matches the file."""
    path, meta = embeddings_dir / f"{slug}.faiss", embeddings_dir / f"{slug}.json"
    if not path.exists() or not meta.exists():
        return None
    try:
        header = json.loads(meta.read_text())
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("sha256") == hashlib.sha256(path.read_bytes()).hexdigest()


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy of a (WAL-mode) database, via SQLite's backup API."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    a, b = sqlite3.connect(str(src)), sqlite3.connect(str(dst))
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return dst


def official_sentence_count(db: Path) -> int:
    return scalar(db, "select count(*) from sentences s join documents d on d.id = s.document_id "
                      "where d.kind = 'official'")


def distinct_official_texts(db: Path) -> int:
    return scalar(db, "select count(distinct s.text_hash) from sentences s join documents d "
                      "on d.id = s.document_id where d.kind = 'official'")


def scalar(db: Path, sql: str, params=()):
    conn = connect(db)
    try:
        return conn.execute(sql, list(params)).fetchone()[0]
    finally:
        conn.close()
