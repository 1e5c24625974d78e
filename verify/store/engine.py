"""What the named queries stand on: the few primitives a database engine supplies.

Each aggregate's queries (``documents``, ``sentences``, ``speakers``, ``caches``, ``claims``,
``runs``, ``reviews``, ``calibrations``) are a mixin written once, in SQL that SQLite and
PostgreSQL both accept, with ``?`` placeholders. ``verify.store.corpus.Corpus`` (corpus.db)
and ``verify.store.postgres.PgCorpus`` supply the primitives below; everything else is
shared.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import verify.store.schema as schema

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Engine:
    """The primitives every store supplies, and what the queries share."""

    path: Path | None  # the database file (None: in memory, or a server)
    user: str | None  # who is working (None: ``runs.current_user()``), recorded on runs
    _version: int | None  # the schema version, read once (``migrate`` resets it)

    # --- supplied by the engine -------------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the corpus lives, for messages."""
        raise NotImplementedError

    def execute(self, sql: str, params: Iterable = ()):
        """Run one statement of the store's own SQL (``?`` placeholders); returns its rows
        as a DB-API cursor."""
        raise NotImplementedError

    def transaction(self):
        """A context manager: everything inside commits together or not at all; nested, a
        savepoint that undoes only itself when its block raises."""
        raise NotImplementedError

    def schema_version(self) -> int:
        raise NotImplementedError

    def _insert(self, table: str, row: dict) -> int | None:
        """Insert one row; returns its id (None for a table keyed otherwise)."""
        raise NotImplementedError

    def _insert_rows(self, table: str, rows: Iterable[dict], *, ignore: bool = False) -> None:
        """Insert many rows; ``ignore``: skip those whose primary key exists."""
        raise NotImplementedError

    def _update(self, table: str, key, values: dict) -> None:
        """Update one row by its primary key."""
        raise NotImplementedError

    def _upsert(self, table: str, row: dict, pk: str) -> None:
        raise NotImplementedError

    def _select(self, table: str, where: str, params: Iterable, *, order_by: str | None = None,
                limit: int | None = None) -> list[dict]:
        raise NotImplementedError

    def _has_table(self, table: str) -> bool:
        """Whether a table or view exists (an older schema lacks some)."""
        raise NotImplementedError

    # --- what the schema has ------------------------------------------------------------------
    # Only a corpus opened with ``migrate=False`` at an older version lacks any of these.
    def _migrated(self, number: int) -> bool:
        if self._version is None:
            self._version = self.schema_version()
        return self._version >= number

    @property
    def has_attribution(self) -> bool:
        """Speakers, affiliations and attribution cues (migration 6)."""
        return self._migrated(schema.ATTRIBUTION)

    @property
    def has_pages(self) -> bool:
        """Sentences' ``page`` and ``ocr_confidence`` (migration 8, "pages")."""
        return self._migrated(schema.PAGES)

    @property
    def has_languages(self) -> bool:
        """Documents' and sentences' ``language`` (migration 9, "languages")."""
        return self._migrated(schema.LANGUAGES)

    @property
    def has_run_authors(self) -> bool:
        """Runs' ``by`` (migration 10, "run_authors")."""
        return self._migrated(schema.RUN_AUTHORS)

    # --- any table ----------------------------------------------------------------------------
    def row(self, table: str, pk: int) -> dict | None:
        """One row of a table keyed by ``id``, as a dict (None if absent)."""
        cur = self.execute(f'select * from "{_table(table)}" where id = ?', [pk])
        found = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], found)) if found else None

    def count(self, table: str) -> int:
        """Rows in a table or view; 0 where an older schema lacks it."""
        if not self._has_table(_table(table)):
            return 0
        return self.execute(f'select count(*) from "{table}"').fetchone()[0]


def _table(name: str) -> str:
    # Table names are the store's own; anything else (a join, a WHERE) is a caller's mistake.
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a table name: {name!r}")
    return name
