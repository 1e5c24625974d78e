"""A corpus in PostgreSQL: one store that several journalists share.

``PgCorpus`` is ``Corpus`` with another engine under it. The tables, their columns (in the
same order), the numbered migrations and every named query are the same; what differs is
here: the connection and the primitives the queries build on, the DDL of each migration
(``schema``), full-text search with FTS5's tokens and BM25 (``search``), and pgvector
tables with an HNSW cosine index for the dense side (``vectors``), so no FAISS file is
needed.

What PostgreSQL gives a desk that SQLite cannot: several writers at once (two checks and an
ingest), the recheck lock as an advisory lock that dies with its session (a killed job never
leaves a stale lock), and a server that everyone's ``--db postgresql://...`` points at.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator

import verify.store.postgres.schema as schema
from verify.errors import Conflict, ConnectionLost, CorpusError, LockHeld
from verify.store.corpus import Corpus
from verify.store.postgres.connection import LOCK_KEY, ident, pg_sql, redact, translated
from verify.store.postgres.search import PgSearch
from verify.store.postgres.vectors import PgVectors
from verify.store.records import AddResult, Document, now
from verify.util import first_line, text_hash

__all__ = ["PgCorpus", "redact"]

# Tables whose primary key is not "id".
PRIMARY_KEYS = {"speakers": "name", "settings": "key", "stale_claims": "claim_id",
                "embeddings": "text_hash, model_id", "nli_scores": "model_id, premise_hash, hypothesis_hash"}


class PgCorpus(PgSearch, PgVectors, Corpus):
    """A verify corpus in a PostgreSQL database (``postgresql://user@host/dbname``).

    Args:
        dsn: a libpq connection string or URL.
        migrate: apply pending migrations on open (under an advisory lock, so two
            processes opening a new database do not both migrate it).
        user: who is working: recorded on runs and reviews.

    The database needs the pgvector extension (``create extension vector``, done here when
    the role may; otherwise a superuser does it once).

    When the server goes away, the command in progress fails (``ConnectionLost``); the next
    one connects again, unless this corpus held a lock (``exclusive``) that died with the
    old session.
    """

    def __init__(self, dsn: str, *, migrate: bool = True, on_wait=None, user: str | None = None):
        self.dsn, self.path, self.on_wait, self._db = dsn, None, on_wait, None
        self.user = user
        self._depth = 0  # transactions open on this connection
        self._locks = 0  # advisory locks ``exclusive`` holds on this connection's session
        self._vector_tables: dict[str, str] = {}
        self._version = None
        self.conn = self._connect()
        if migrate:
            self.migrate()

    def _connect(self):
        import psycopg

        self._search_settings = False  # session settings, made again on a new connection
        try:
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise CorpusError(f"{redact(self.dsn)}: cannot connect ({first_line(e)})") from e

    def _live(self) -> None:
        """Connect again if the server dropped the connection between two commands. Never
        inside a transaction (its first half is gone), nor while a lock died with it."""
        if not self.conn.closed or self._depth:
            return
        if self._locks:
            raise ConnectionLost(f"database connection lost ({self.location}) while holding a lock")
        self.conn = self._connect()

    def __repr__(self) -> str:
        return f"PgCorpus({redact(self.dsn)!r})"

    @property
    def location(self) -> str:
        return redact(self.dsn)

    @property
    def db(self):
        raise AttributeError("a PostgreSQL corpus has no sqlite-utils view; use its named queries")

    # --- the primitives Corpus builds on ------------------------------------------------------
    def driver_errors(self):
        return translated(self.location, self.conn)

    def _pg(self, sql: str, params: Iterable | None = None):
        """Run one statement written for psycopg (``%s`` placeholders)."""
        self._live()
        with translated(self.location, self.conn):
            return self.conn.execute(sql, None if params is None else list(params))

    def execute(self, sql: str, params: Iterable = ()):
        return self._pg(pg_sql(sql), params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested, a savepoint that undoes
        only itself (psycopg's transactions, which behave as ``connection.atomic`` does).

        Raises:
            ConnectionLost: the server went away; nothing of the block was kept.
            WriteRefused: the COMMIT failed (a deferred constraint); nothing of the block was kept.
        """
        self._live()
        self._depth += 1
        try:
            with translated(self.location, self.conn), self.conn.transaction():
                yield
        finally:
            self._depth -= 1

    def _insert(self, table: str, row: dict) -> int | None:
        cols = ", ".join(map(ident, row))
        returning = " returning id" if table not in PRIMARY_KEYS else ""
        cur = self._pg(f"insert into {ident(table)} ({cols}) values ({', '.join(['%s'] * len(row))}){returning}",
                       list(row.values()))
        return cur.fetchone()[0] if returning else None

    def _insert_rows(self, table: str, rows: Iterable[dict], *, ignore: bool = False) -> None:
        rows = list(rows)
        if not rows:
            return
        cols = list(rows[0])
        sql = (f"insert into {ident(table)} ({', '.join(map(ident, cols))}) values ({', '.join(['%s'] * len(cols))})"
               + (" on conflict do nothing" if ignore else ""))
        self._live()
        with self.driver_errors(), self.conn.cursor() as cur:
            cur.executemany(sql, [[r.get(c) for c in cols] for r in rows])
        if table == "sentences":  # FTS5 keeps its index by triggers; here the store writes it
            self._index_sentences(sorted({r["document_id"] for r in rows}))

    def _update(self, table: str, key, values: dict) -> None:
        sets = ", ".join(f"{ident(c)} = %s" for c in values)
        self._pg(f"update {ident(table)} set {sets} where {PRIMARY_KEYS.get(table, 'id')} = %s", [*values.values(), key])

    def _upsert(self, table: str, row: dict, pk: str) -> None:
        cols = list(row)
        updates = ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in cols if c != pk)
        self._pg(f"insert into {ident(table)} ({', '.join(map(ident, cols))}) "
                 f"values ({', '.join(['%s'] * len(cols))}) on conflict ({ident(pk)}) do update set {updates}",
                 list(row.values()))

    def _select(self, table: str, where: str, params: Iterable, *, order_by: str | None = None,
                limit: int | None = None) -> list[dict]:
        sql = f"select * from {ident(table)} where {where}" + (f" order by {order_by}" if order_by else "")
        sql += f" limit {int(limit)}" if limit is not None else ""
        cur = self.execute(sql, params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def _has_table(self, table: str) -> bool:
        return self._pg("select to_regclass(%s) is not null", [ident(table)]).fetchone()[0]

    def sync_ids(self) -> None:
        for (table,) in self._pg(
                "select table_name from information_schema.columns where table_schema = current_schema() "
                "and column_name = 'id' and is_identity = 'YES'").fetchall():
            self._pg(f"select setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) "
                     f"from {ident(table)}", [table])

    # --- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self._has_table("_migrations"):
            return 0
        return self._pg("select count(*) from _migrations").fetchone()[0]

    def migrate(self) -> list[str]:
        try:
            return schema.migrate(self)
        finally:
            self._version = None

    # --- what several writers at once need ------------------------------------------------------
    def add_document(self, doc: Document) -> AddResult:
        for attempt in range(3):
            try:
                # Its own savepoint inside a caller's transaction (ingest_paths holds one per
                # file): a conflict undoes this attempt only, and the next one, a new statement,
                # sees the other writer's committed rows.
                with self.transaction():
                    return super().add_document(doc)
            except Conflict:
                # Another journalist ingested the same text, or a speaker it names, a moment ago.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def claim_for_sentence(self, sentence: dict, frame: str = "", proposition: str | None = None) -> int:
        # Two checks of one report at once: the first claim row wins, the other reads it.
        row = self._pg(
            'insert into claims (document_id, sentence_id, text, start, "end", text_hash, frame, proposition, '
            "created_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (sentence_id) do nothing returning id",
            [sentence["document_id"], sentence["id"], sentence["text"], sentence["start"], sentence["end"],
             sentence["text_hash"], frame, proposition or sentence["text"], now()]).fetchone()
        if row:
            return row[0]
        return self._pg("select id from claims where sentence_id = %s", [sentence["id"]]).fetchone()[0]

    def claim_for_text(self, text: str, frame: str = "", proposition: str | None = None) -> int:
        with self.transaction():
            # Free-text claims have no unique key: the same text checked twice at once waits here.
            self._pg("select pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_KEY, text_hash(text)])
            return super().claim_for_text(text, frame, proposition)

    @contextlib.contextmanager
    def exclusive(self, name: str, wait: float = 0.0) -> Iterator[None]:
        """An advisory lock held by this connection: released when the block ends, or when
        the process dies (the server ends its session).

        Raises:
            LockHeld: another session held it for ``wait`` seconds.
        """
        key = [LOCK_KEY, name]
        deadline = time.monotonic() + wait
        while not self._pg("select pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise LockHeld(f"another {name} holds the lock on {self.location}")
            time.sleep(0.2)
        self._locks += 1
        try:
            yield
        finally:
            self._locks -= 1
            if not self.conn.closed:  # a lost session took the lock with it
                self._pg("select pg_advisory_unlock(%s, hashtext(%s))", key)

    def close(self) -> None:
        self.conn.close()

