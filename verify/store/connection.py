"""corpus.db's connection: WAL, the write lock and how long a writer waits for it,
transactions, named file locks, and sqlite3's exceptions turned into verify's own.

Readers never block the nightly writer, nor it them (WAL). Two writers take turns: a
transaction starts with ``BEGIN IMMEDIATE``, so the second waits there, up to
``LOCK_WAIT``, instead of failing half-way through its work.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from verify.errors import Conflict, CorpusBusy, CorpusError, CorpusUnreadable, LockHeld, WriteRefused

LOCK_WAIT = 30.0  # seconds a writer waits for another process's write to finish
_TICK = 1.0  # while someone wants to hear about a wait, BEGIN retries this often
_savepoints = itertools.count(1)


def store_error(error: sqlite3.Error, where: str) -> BaseException:
    """verify's exception for a sqlite3 one, about the database ``where``.

    Programming errors (a closed connection, a wrong number of parameters) are bugs, not
    something a user can fix: they are returned unchanged.
    """
    message = str(error)
    if isinstance(error, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return error
    if isinstance(error, sqlite3.IntegrityError):
        kind = Conflict if message.startswith("UNIQUE constraint failed") else WriteRefused
        return kind(f"{where}: write refused ({message})")
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in message or "busy" in message:
            return CorpusBusy(f"{where}: another process is writing to it and did not finish within {LOCK_WAIT:.0f} s")
        if any(w in message for w in ("full", "readonly", "disk I/O")):
            return WriteRefused(f"{where}: {message}; nothing of this write was kept")
        if "unable to open" in message:
            return CorpusUnreadable(f"{where}: cannot open it ({message})")
        return CorpusError(f"{where}: {message}")
    return CorpusUnreadable(f"{where}: not a usable SQLite database ({message})")


@contextlib.contextmanager
def translated(where: str) -> Iterator[None]:
    """Raise verify's exception for any sqlite3 error inside, with the original as its cause."""
    try:
        yield
    except sqlite3.Error as e:
        mine = store_error(e, where)
        if mine is e:
            raise
        raise mine from e


class Rows:
    """A statement's cursor: fetching rows turns sqlite3's errors into verify's, as running it does."""

    __slots__ = ("_cursor", "_where")

    def __init__(self, cursor: sqlite3.Cursor, where: str):
        self._cursor, self._where = cursor, where

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self):
        with translated(self._where):
            return self._cursor.fetchone()

    def fetchmany(self, size: int = 1) -> list:
        with translated(self._where):
            return self._cursor.fetchmany(size)

    def fetchall(self) -> list:
        with translated(self._where):
            return self._cursor.fetchall()

    def __iter__(self):
        with translated(self._where):
            yield from self._cursor


def connect(path: Path | None) -> sqlite3.Connection:
    """A connection to the database file ``path`` (None: in memory) in autocommit mode (the
    only transactions are ``atomic``'s), with foreign keys on, in WAL mode, and waiting up
    to ``LOCK_WAIT`` for another process's write lock."""
    where = str(path) if path is not None else ":memory:"
    with translated(where):
        conn = sqlite3.connect(where, timeout=LOCK_WAIT, isolation_level=None)
        try:
            conn.execute("pragma foreign_keys = on")
            if path is not None:
                _enable_wal(conn)
                conn.execute("pragma synchronous = normal")
        except BaseException:
            conn.close()
            raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL once; the switch ignores the busy timeout, so retry while another writes."""
    deadline = time.monotonic() + LOCK_WAIT
    while conn.execute("pragma journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("pragma journal_mode = wal")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def atomic(conn: sqlite3.Connection, where: str, on_wait: Callable[[float], None] | None = None) -> Iterator[None]:
    """A transaction: everything inside commits together or not at all.

    As sqlite-utils' ``Database.atomic()``: a block inside another is a savepoint, so an
    error the caller catches undoes only the inner block; a COMMIT that fails is rolled
    back; a rollback is issued only while a transaction is open (SQLite ends some by
    itself, a full disk for one), and never hides the error that caused it.

    Args:
        where: the database, for messages.
        on_wait: called with the seconds waited so far, about once a second, while another
            process holds the write lock (so a user sees why nothing happens).

    Raises:
        CorpusBusy: the write lock was not free within ``LOCK_WAIT`` seconds.
        WriteRefused: the COMMIT failed (a deferred constraint, a full disk); nothing of the
            block was kept.
    """
    if conn.in_transaction:
        savepoint = f"verify_{next(_savepoints)}"
        with translated(where):
            conn.execute(f"savepoint {savepoint}")
        try:
            yield
        except BaseException as e:
            # An error can end the whole transaction (a full disk): then there is no savepoint
            # left to go back to, and the outer block's rollback finds nothing open either.
            if conn.in_transaction:
                _undo(conn, e, f"rollback to {savepoint}", f"release {savepoint}")
            raise
        with translated(where):
            conn.execute(f"release {savepoint}")
        return
    _begin(conn, where, on_wait)
    try:
        yield
    except BaseException as e:
        if conn.in_transaction:
            _undo(conn, e, "rollback")
        raise
    try:
        conn.execute("commit")
    except sqlite3.Error as e:
        # A failed COMMIT can leave the transaction open (a deferred foreign key): left so,
        # every later transaction would nest inside it, and nothing would commit again.
        if conn.in_transaction:
            _undo(conn, e, "rollback")
        mine = store_error(e, where)
        if mine is e:
            raise
        raise mine from e


def _undo(conn: sqlite3.Connection, error: BaseException, *statements: str) -> None:
    """Roll back after ``error``; a failure to do so is noted on it, never raised instead."""
    try:
        for sql in statements:
            conn.execute(sql)
    except sqlite3.Error as e:
        error.add_note(f"and rolling back failed: {e}")


def _begin(conn: sqlite3.Connection, where: str, on_wait: Callable[[float], None] | None) -> None:
    # IMMEDIATE takes the write lock now: a second writer waits here, before any work,
    # rather than failing at its first write.
    if on_wait is None:
        with translated(where):
            conn.execute("begin immediate")  # SQLite's busy timeout (LOCK_WAIT) does the waiting
        return
    start = time.monotonic()
    conn.execute(f"pragma busy_timeout = {int(_TICK * 1000)}")
    try:
        while True:
            try:
                conn.execute("begin immediate")
                return
            except sqlite3.OperationalError as e:
                waited = time.monotonic() - start
                if "locked" not in str(e) or waited >= LOCK_WAIT:
                    raise store_error(e, where) from e
                on_wait(waited)
    finally:
        conn.execute(f"pragma busy_timeout = {int(LOCK_WAIT * 1000)}")


@contextlib.contextmanager
def file_lock(db_path: Path | None, name: str, wait: float = 0.0) -> Iterator[None]:
    """An exclusive ``flock`` named ``name`` beside the database file ``db_path`` (None: no
    lock), released when the block ends or the process dies.

    Raises:
        LockHeld: another process held it for ``wait`` seconds.
    """
    import fcntl

    if db_path is None:
        yield
        return
    # The recheck lock keeps the file name older verify releases (and scripts) use.
    lock_path = Path(f"{db_path}.lock" if name == "recheck" else f"{db_path}.{name}.lock")
    with open(lock_path, "a+") as f:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(f"another {name} holds {lock_path}") from None
                time.sleep(0.2)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
