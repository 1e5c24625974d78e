"""The corpus database, ``corpus.db``: one SQLite file, the single source of truth.

Everything else (the FAISS index files in ``embeddings/``) is derived from it and can be
rebuilt at any time. ``Corpus`` is the named queries of each aggregate (documents,
sentences, speakers, caches, claims and verdicts, runs, reviews, calibrations) over this
engine: the connection (``connection``), the schema (``schema``) and the few primitives
the queries build on, through sqlite-utils.

The records (``Document``, ``SentenceSpan``, ...) live in ``verify.store.records`` and the
file lock in ``verify.store.connection``; they are importable from here too.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import verify.store.schema as schema
from verify.store.caches import Caches
from verify.store.calibrations import Calibrations
from verify.store.claims import Claims
from verify.store.connection import LOCK_WAIT, Rows, atomic, connect, file_lock, translated
from verify.store.documents import EDITABLE, REMOVED, Documents
from verify.store.records import AddResult, Document, SentenceSpan, Speaker, now
from verify.store.reviews import Reviews
from verify.store.runs import Runs, current_user
from verify.store.schema import MIGRATIONS, SCHEMA_VERSION
from verify.store.sentences import Sentences, scope_where, voice
from verify.store.speakers import Speakers

__all__ = ["DEFAULT_DB", "EDITABLE", "LOCK_WAIT", "MIGRATIONS", "REMOVED", "SCHEMA_VERSION", "AddResult", "Corpus",
           "Document", "SentenceSpan", "Speaker", "current_user", "file_lock", "now", "scope_where", "voice"]

DEFAULT_DB = "corpus.db"


class Corpus(Documents, Sentences, Speakers, Caches, Claims, Runs, Reviews, Calibrations):
    """A verify corpus stored in one SQLite file.

    Args:
        path: the database file; created (with its schema) if missing.
        migrate: apply pending migrations on open. A database written by a newer
            verify is refused rather than guessed at.
        on_wait: called with the seconds waited, about once a second, while another
            process holds the write lock.
        user: who is working (None: ``$VERIFY_USER`` or the login name), recorded on runs.

    Raises:
        CorpusError: the file is not a usable database, or was written by a newer verify.

    Example:
        >>> corpus = Corpus(":memory:")
        >>> corpus.document_count()
        0
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, migrate: bool = True, on_wait=None,
                 user: str | None = None):
        self.path = Path(path) if str(path) != ":memory:" else None
        self.on_wait = on_wait
        self.user = user
        self._version = None
        self._db = None
        if self.path is not None and self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path)
        if migrate:
            self.migrate()

    @property
    def db(self):
        """The sqlite-utils view of the connection, made on first use: importing sqlite-utils
        costs ~0.15 s (it imports numpy), which commands that only read should not pay."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else ":memory:"

    @property
    def embeddings_dir(self) -> Path:
        """``embeddings/`` beside the database file."""
        base = self.path.parent if self.path is not None else Path(".")
        return base / "embeddings"

    def exclusive(self, name: str, wait: float = 0.0):
        """A lock only one process holds at a time (``name``: what it guards, e.g. "recheck"):
        a file lock beside corpus.db; none for an in-memory corpus.

        Raises:
            LockHeld: another process held it for ``wait`` seconds.
        """
        return file_lock(self.path, name, wait)

    # --- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self._has_table("_migrations"):
            return 0
        return self.execute("select count(*) from _migrations").fetchone()[0]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction. Returns their names."""
        try:
            return schema.migrate(self)
        finally:
            self._version = None

    # --- the engine's primitives ------------------------------------------------------------
    def transaction(self):
        """A context manager: everything inside commits together or not at all; nested, a
        savepoint (``connection.atomic``)."""
        return atomic(self.conn, self.location, self.on_wait)

    def driver_errors(self):
        """A context manager turning sqlite3's exceptions inside into verify's."""
        return translated(self.location)

    def execute(self, sql: str, params: Iterable = ()) -> Rows:
        with translated(self.location):
            return Rows(self.conn.execute(sql, list(params)), self.location)

    def _insert(self, table: str, row: dict) -> int:
        with translated(self.location):
            return self.db[table].insert(row).last_pk

    def _insert_rows(self, table: str, rows: Iterable[dict], *, ignore: bool = False) -> None:
        with translated(self.location):
            self.db[table].insert_all(rows, ignore=ignore, batch_size=1000)

    def _update(self, table: str, key, values: dict) -> None:
        with translated(self.location):
            self.db[table].update(key, values)

    def _upsert(self, table: str, row: dict, pk: str) -> None:
        with translated(self.location):
            self.db[table].upsert(row, pk=pk)

    def _select(self, table: str, where: str, params: Iterable, *, order_by: str | None = None,
                limit: int | None = None) -> list[dict]:
        with translated(self.location):
            return list(self.db[table].rows_where(where, list(params), order_by=order_by, limit=limit))

    def _has_table(self, table: str) -> bool:
        return self.execute("select 1 from sqlite_master where type in ('table', 'view') and name = ?",
                            [table]).fetchone() is not None

    # --- copying between stores (verify.store.copy) -------------------------------------------
    def load_rows(self, table: str, rows: list[dict]) -> None:
        """Insert rows as read from another store, ids included."""
        self._insert_rows(table, rows)

    def sync_ids(self) -> None:
        """After ``load_rows``, make new rows take the ids after the loaded ones. SQLite does so
        by itself."""

    def close(self) -> None:
        self.conn.close()
