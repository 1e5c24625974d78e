"""The corpus database: schema, migrations, and every read and write of ``corpus.db``.

``corpus.db`` is the single source of truth. Everything else (the FAISS index files in
``embeddings/``) is derived from it and can be rebuilt at any time.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from verify.errors import CorpusError
from verify.store.sides import affiliation

if TYPE_CHECKING:
    import sqlite_utils
from verify.util import text_hash

DEFAULT_DB = "corpus.db"


def voice(s: str = "s", d: str = "d") -> str:
    """SQL for who speaks a sentence: its speaker; narration speaks with its publisher's voice;
    a transcript turn without a speaker (a journalist's question) with nobody's."""
    return (f"coalesce({s}.speaker, case when coalesce({s}.attribution, '') != 'transcript' "
            f"then {d}.publisher end)")


def scope_where(scope) -> tuple[str, list]:
    """The WHERE clause (on ``s`` sentences, ``d`` documents) of a ``retrieve.Scope``: official
    statements, by one speaker, of the official side, made by a date."""
    where, params = ["d.kind = 'official'"], []
    if scope.speaker:
        where.append("(lower(s.speaker) like ? or lower(d.speaker) like ?)")
        params += [f"%{scope.speaker.lower()}%"] * 2
    if scope.side:
        where.append(f"(select affiliation from speakers where name = {voice()}) "
                     f"in ({','.join('?' * len(scope.side))})")
        params += list(scope.side)
    if scope.as_of:
        # Undated statements cannot be shown to predate the cut-off, so they are left out.
        where.append("d.published is not null and d.published <= ?")
        params.append(scope.as_of)
    return " and ".join(where), params


def current_user() -> str:
    """Who is working: ``$VERIFY_USER``, else the login name; recorded on runs and reviews."""
    import getpass

    try:
        return os.environ.get("VERIFY_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric uid)
        return "unknown"


@contextlib.contextmanager
def file_lock(db_path: Path | None, name: str, wait: float = 0.0) -> Iterator[None]:
    """An exclusive ``flock`` named ``name`` beside the database file ``db_path`` (None: no
    lock), released when the block ends or the process dies; raises CorpusError after ``wait``
    seconds held by another process."""
    import fcntl
    import time

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
                    raise CorpusError(f"another {name} holds {lock_path}; try again later or pass --wait") from None
                time.sleep(0.2)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- migrations --------------------------------------------------------------------------
# Each migration is a small function applied once, inside the same transaction as the row
# that records it in `_migrations`. Never edit a released migration: add the next one.

def _m001_initial(db: sqlite_utils.Database) -> None:
    db["documents"].create({
        "id": int, "kind": str, "title": str, "url": str, "publisher": str, "speaker": str,
        "published": str, "sha256": str, "source": str, "format": str, "text": str,
        "ingested_at": str,
    }, pk="id", not_null={"kind", "sha256", "text"})
    db["documents"].create_index(["sha256"], unique=True)
    db["documents"].create_index(["kind"])
    db["sentences"].create({
        "id": int, "document_id": int, "position": int, "start": int, "end": int,
        "text": str, "speaker": str, "text_hash": str,
    }, pk="id", foreign_keys=[("document_id", "documents", "id")])
    db["sentences"].create_index(["document_id", "position"], unique=True)
    db["sentences"].create_index(["text_hash"])
    db["sentences"].enable_fts(["text"], create_triggers=True, tokenize="porter")
    db["embeddings"].create({"text_hash": str, "model_id": str, "vector": bytes},
                            pk=("text_hash", "model_id"))
    db["nli_scores"].create({
        "model_id": str, "premise_hash": str, "hypothesis_hash": str,
        "entail": float, "neutral": float, "contradict": float, "truncated": int,
    }, pk=("model_id", "premise_hash", "hypothesis_hash"))
    db["claims"].create({
        "id": int, "document_id": int, "sentence_id": int, "text": str, "start": int,
        "end": int, "text_hash": str, "created_at": str,
    }, pk="id", foreign_keys=[("document_id", "documents", "id"), ("sentence_id", "sentences", "id")])
    db["claims"].create_index(["sentence_id"], unique=True)
    db["claims"].create_index(["text_hash"])
    db["runs"].create({
        "id": int, "started_at": str, "finished_at": str, "status": str, "command": str,
        "code_version": str, "embed_model": str, "nli_model": str, "thresholds": str,
        "corpus_fingerprint": str, "manifest": str,
    }, pk="id")
    db["verdicts"].create({
        "id": int, "run_id": int, "claim_id": int, "label": str, "score": float,
        "reason": str, "conflicting": int,
    }, pk="id", foreign_keys=[("run_id", "runs", "id"), ("claim_id", "claims", "id")])
    db["verdicts"].create_index(["run_id", "claim_id"], unique=True)
    db["verdicts"].create_index(["claim_id"])
    db["evidence"].create({
        "id": int, "verdict_id": int, "rank": int, "sentence_id": int, "similarity": float,
        "p_entail": float, "p_neutral": float, "p_contradict": float, "flags": str,
        "relation": str,
    }, pk="id", foreign_keys=[("verdict_id", "verdicts", "id"), ("sentence_id", "sentences", "id")])
    db["evidence"].create_index(["verdict_id"])


def _m002_frames_and_details(db: sqlite_utils.Database) -> None:
    db["claims"].add_column("frame", str)
    db["claims"].add_column("proposition", str)
    db["verdicts"].add_column("details", str)  # JSON: flags, quote provenance (later also retrieval cutoffs)


def _m003_calibrations(db: sqlite_utils.Database) -> None:
    db["calibrations"].create({"id": int, "fitted_at": str, "nli_model": str, "record": str}, pk="id")


def _m004_reviews(db: sqlite_utils.Database) -> None:
    db["reviews"].create({
        "id": int, "claim_id": int, "label": str, "note": str, "by": str, "at": str,
        "machine_label": str, "machine_score": float, "run_id": int,
    }, pk="id", foreign_keys=[("claim_id", "claims", "id")])
    db["reviews"].create_index(["claim_id"])
    # The audit trail: a review is never changed or removed, only followed by a newer one.
    db.execute("create trigger reviews_no_update before update on reviews "
               "begin select raise(abort, 'reviews are append-only'); end")
    db.execute("create trigger reviews_no_delete before delete on reviews "
               "begin select raise(abort, 'reviews are append-only'); end")


def _m005_views(db: sqlite_utils.Database) -> None:
    # Readable views for Datasette or the sqlite3 shell: a desk can browse without verify.
    db.execute("""create view latest_verdicts as
        select v.* from verdicts v join runs r on r.id = v.run_id
        where r.status = 'ok' and v.run_id = (select max(v2.run_id) from verdicts v2 join runs r2
              on r2.id = v2.run_id where v2.claim_id = v.claim_id and r2.status = 'ok')""")
    db.execute("""create view claim_verdicts as
        select c.id as claim_id, c.text as claim, d.title as report, d.published as report_date,
               v.label, round(v.score, 3) as score, v.reason, v.conflicting, v.run_id,
               s.text as best_evidence, s.speaker as evidence_speaker, od.published as evidence_date,
               od.title as evidence_document, od.url as evidence_url, round(e.similarity, 3) as similarity,
               (select label from reviews rv where rv.claim_id = c.id order by rv.id desc limit 1) as human_label
        from claims c join latest_verdicts v on v.claim_id = c.id
        left join documents d on d.id = c.document_id
        left join evidence e on e.verdict_id = v.id and e.rank = (
              select min(rank) from evidence e2 where e2.verdict_id = v.id)
        left join sentences s on s.id = e.sentence_id
        left join documents od on od.id = s.document_id""")
    db.execute("""create view official_sentences as
        select s.id, s.text, s.speaker, d.published as date, d.title, d.url, d.publisher, s.document_id,
               s.start, s.end from sentences s join documents d on d.id = s.document_id
        where d.kind = 'official'""")


def _m006_attribution(db: sqlite_utils.Database) -> None:
    # Who said each sentence and the words that say so (verify.pipeline.attribute), the speakers
    # with the side they speak for, and corpus settings (the official side).
    db["sentences"].add_column("attribution", str)
    db["sentences"].add_column("cue", str)
    db["speakers"].create({"name": str, "affiliation": str, "role": str, "source": str, "updated_at": str},
                          pk="name")
    db["settings"].create({"key": str, "value": str}, pk="key")
    # Verdicts say when a desk should read the evidence first; evidence keeps its clause-level
    # NLI and whether it counted (official side) or was shown for context.
    db["verdicts"].add_column("needs_review", str)
    db["evidence"].add_column("counted", int)
    db["evidence"].add_column("units", str)
    db.execute("drop view claim_verdicts")
    db.execute("""create view claim_verdicts as
        select c.id as claim_id, c.text as claim, d.title as report, d.published as report_date,
               v.label, round(v.score, 3) as score, v.reason, v.conflicting, v.needs_review, v.run_id,
               s.text as best_evidence,
               coalesce(s.speaker,
                        case when coalesce(s.attribution, '') != 'transcript' then od.publisher end) as evidence_speaker,
               sp.affiliation as evidence_affiliation, od.published as evidence_date,
               od.title as evidence_document, od.url as evidence_url, round(e.similarity, 3) as similarity,
               (select label from reviews rv where rv.claim_id = c.id order by rv.id desc limit 1) as human_label
        from claims c join latest_verdicts v on v.claim_id = c.id
        left join documents d on d.id = c.document_id
        left join evidence e on e.verdict_id = v.id and e.rank = (
              select min(rank) from evidence e2 where e2.verdict_id = v.id)
        left join sentences s on s.id = e.sentence_id
        left join documents od on od.id = s.document_id
        left join speakers sp on sp.name = coalesce(s.speaker,
                        case when coalesce(s.attribution, '') != 'transcript' then od.publisher end)""")
    db.execute("drop view official_sentences")
    db.execute("""create view official_sentences as
        select s.id, s.text, coalesce(s.speaker,
                        case when coalesce(s.attribution, '') != 'transcript' then d.publisher end) as speaker,
               sp.affiliation, s.attribution, s.cue,
               d.published as date, d.title, d.url, d.publisher, s.document_id, s.start, s.end
        from sentences s join documents d on d.id = s.document_id
        left join speakers sp on sp.name = coalesce(s.speaker,
                        case when coalesce(s.attribution, '') != 'transcript' then d.publisher end)
        where d.kind = 'official'""")


def _m007_document_edits(db: sqlite_utils.Database) -> None:
    # A desk corrects a document's metadata or removes it; every change is kept, like reviews.
    db["document_edits"].create({"id": int, "document_id": int, "field": str, "old": str, "new": str,
                                 "by": str, "at": str}, pk="id", foreign_keys=[("document_id", "documents", "id")])
    db["document_edits"].create_index(["document_id"])
    db.execute("create trigger document_edits_no_update before update on document_edits "
               "begin select raise(abort, 'document edits are append-only'); end")
    db.execute("create trigger document_edits_no_delete before delete on document_edits "
               "begin select raise(abort, 'document edits are append-only'); end")
    # Claims whose verdict rests on something that changed; the next recheck re-scores them.
    db["stale_claims"].create({"claim_id": int, "reason": str, "at": str}, pk="claim_id",
                              foreign_keys=[("claim_id", "claims", "id")])


def _m008_pages(db: sqlite_utils.Database) -> None:
    # PDFs and scans (verify.pipeline.pdf): the page a sentence starts on, so the evidence trail can
    # say "page 3", and the mean OCR word confidence of that page (null: not OCR'd), so OCR'd
    # evidence is flagged. Both are null for documents that have no pages (txt, html, ...).
    db["sentences"].add_column("page", int)
    db["sentences"].add_column("ocr_confidence", float)


def _m009_languages(db: sqlite_utils.Database) -> None:
    # The language of each document and sentence (ISO 639-1, verify.pipeline.language): a Spanish
    # report is checked across languages, an English one as before. Null: ingested before
    # languages were recorded (verify.pipeline.language detects them again when needed).
    db["documents"].add_column("language", str)
    db["sentences"].add_column("language", str)


def _m010_run_authors(db: sqlite_utils.Database) -> None:
    # Who ran each check or recheck ($VERIFY_USER, --by): a shared corpus has many hands.
    db["runs"].add_column("by", str)


def _m011_desk_users(db: sqlite_utils.Database) -> None:
    # The desk in a browser (verify.web, verify.store.users): accounts with a role and an argon2
    # hash, login sessions (only a hash of each cookie is kept), failed logins for throttling, and
    # the one-time key of each submitted form, so a form sent twice is recorded once.
    db["users"].create({"id": int, "name": str, "role": str, "password_hash": str, "created_at": str,
                        "created_by": str}, pk="id", not_null={"name", "role", "password_hash"})
    db["users"].create_index(["name"], unique=True)
    db["sessions"].create({"id": int, "token_hash": str, "username": str, "csrf": str, "created_at": str,
                           "expires_at": str}, pk="id", not_null={"token_hash", "username", "csrf"})
    db["sessions"].create_index(["token_hash"], unique=True)
    db["login_failures"].create({"id": int, "username": str, "address": str, "at": str}, pk="id")
    db["login_failures"].create_index(["at"])
    db["form_submissions"].create({"id": int, "nonce": str, "username": str, "at": str}, pk="id",
                                  not_null={"nonce"})
    db["form_submissions"].create_index(["nonce"], unique=True)


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("initial", _m001_initial),
    ("frames_and_details", _m002_frames_and_details),
    ("calibrations", _m003_calibrations),
    ("reviews", _m004_reviews),
    ("views", _m005_views),
    ("attribution", _m006_attribution),
    ("document_edits", _m007_document_edits),
    ("pages", _m008_pages),
    ("languages", _m009_languages),
    ("run_authors", _m010_run_authors),
    ("desk_users", _m011_desk_users),
]
EDITABLE = ("title", "url", "publisher", "speaker", "published")
# A removed document keeps its rows (verdict history still shows the evidence it gave) but
# is no longer "official" or "report": every search and recheck leaves it out.
REMOVED = "removed"
SCHEMA_VERSION = len(MIGRATIONS)


# --- records -----------------------------------------------------------------------------

@dataclass
class SentenceSpan:
    """A sentence located in its document's stored text: ``text == doc_text[start:end]``.

    ``speaker`` is who said it (None: the publisher's narration, or a question in a
    transcript); ``attribution`` is how that was found and ``cue`` the words that said
    so (see ``verify.pipeline.attribute``); ``role`` the title words around the speaker's name.
    ``page`` is the 1-based page it starts on in a PDF or image, and ``ocr_confidence``
    that page's mean OCR word confidence in [0, 1] (None unless the page was OCR'd).
    """

    start: int
    end: int
    text: str
    speaker: str | None = None
    attribution: str | None = None
    cue: str | None = None
    role: str | None = None
    page: int | None = None
    ocr_confidence: float | None = None
    language: str | None = None  # ISO 639-1 code (verify.pipeline.language); None: not detected
    id: int | None = None  # the stored sentence's id, when read back from the corpus


@dataclass
class Document:
    kind: str
    text: str
    title: str | None = None
    url: str | None = None
    publisher: str | None = None
    speaker: str | None = None
    published: str | None = None
    source: str | None = None
    format: str | None = None
    sentences: list[SentenceSpan] = field(default_factory=list)
    affiliation: str | None = None  # the side ``speaker`` speaks for, when given at ingest
    language: str | None = None  # ISO 639-1 code of the whole text (verify.pipeline.language)

    @property
    def sha256(self) -> str:
        return text_hash(self.text)


@dataclass
class AddResult:
    document_id: int
    created: bool
    sentences: int


class Corpus:
    """A verify corpus stored in one SQLite file.

    Args:
        path: the database file; created (with its schema) if missing.
        migrate: apply pending migrations on open. A database written by a newer
            verify is refused rather than guessed at.

    Example:
        >>> corpus = Corpus(":memory:")
        >>> corpus.count("documents")
        0
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, migrate: bool = True, on_wait=None,
                 user: str | None = None):
        self.path = Path(path) if str(path) != ":memory:" else None
        self.on_wait = on_wait  # called with the seconds waited while another process writes
        self.user = user  # who is working (None: current_user()), recorded on runs
        self._version = None  # the schema version, read once (migrate() resets it)
        if self.path is not None and self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit mode: the only transactions are the explicit ones in transaction().
            self.conn = sqlite3.connect(str(path) if self.path else ":memory:", timeout=30,
                                        isolation_level=None)
            self._db = None
            # Readers must never block the nightly writer and vice versa; a second writer
            # waits up to 30 s for the lock instead of failing at once.
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if self.path is not None:
                self._enable_wal()
                self.conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise CorpusError(f"{path}: database is locked by another process; try again") from None
            raise CorpusError(f"{path}: not a usable SQLite database ({e})") from None
        except sqlite3.DatabaseError as e:
            raise CorpusError(f"{path}: not a usable SQLite database ({e})") from None
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

    def _enable_wal(self, wait: float = 30.0) -> None:
        """Switch to WAL once; the switch ignores busy_timeout, so retry while another writes."""
        import time

        deadline = time.monotonic() + wait
        while True:
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def location(self) -> str:
        """Where the corpus lives, for messages."""
        return str(self.path) if self.path is not None else ":memory:"

    def exclusive(self, name: str, wait: float = 0.0):
        """A lock only one process holds at a time (``name``: what it guards, e.g. "recheck"):
        a file lock beside corpus.db; none for an in-memory corpus."""
        return file_lock(self.path, name, wait)

    @property
    def embeddings_dir(self) -> Path:
        """``embeddings/`` beside the database file."""
        base = self.path.parent if self.path is not None else Path(".")
        return base / "embeddings"

    # --- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self.conn.execute("select 1 from sqlite_master where type = 'table' and name = '_migrations'").fetchone():
            return 0
        return self.conn.execute("select count(*) from _migrations").fetchone()[0]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction. Returns their names."""
        try:
            version = self.schema_version()
        except sqlite3.DatabaseError as e:
            raise CorpusError(f"{self.path}: not a usable SQLite database ({e})") from None
        if version > SCHEMA_VERSION:
            raise CorpusError(
                f"{self.path} has schema version {version}, newer than this verify "
                f"understands ({SCHEMA_VERSION}); upgrade verify to open it")
        applied = []
        for number, (name, fn) in enumerate(MIGRATIONS, 1):
            if number <= version:
                continue
            with self.transaction():
                # Another process may have applied it while we waited for the write lock.
                if self.schema_version() >= number:
                    continue
                self.db["_migrations"].create({"id": int, "name": str, "applied_at": str},
                                              pk="id", if_not_exists=True)
                fn(self.db)
                self.db["_migrations"].insert({"id": number, "name": name, "applied_at": now()})
            applied.append(name)
        self._version = None
        return applied

    def transaction(self):
        """A context manager: everything inside commits together or not at all."""
        return _Transaction(self.conn, self.on_wait)

    # --- what a backend supplies ------------------------------------------------------------
    # Every named query below is written once, in SQL both SQLite and PostgreSQL accept, with
    # ``?`` placeholders; these few primitives are what differ (verify.store.postgres).
    def execute(self, sql: str, params: Iterable = ()):
        """Run one statement; returns a DB-API cursor."""
        return self.conn.execute(sql, list(params))

    def _insert(self, table: str, row: dict) -> int:
        """Insert one row; returns its id."""
        return self.db[table].insert(row).last_pk

    def _insert_rows(self, table: str, rows: Iterable[dict], *, ignore: bool = False) -> None:
        """Insert many rows; ``ignore``: skip those whose primary key exists."""
        self.db[table].insert_all(rows, ignore=ignore, batch_size=1000)

    def _update(self, table: str, key, values: dict) -> None:
        """Update one row by its primary key."""
        self.db[table].update(key, values)

    def _upsert(self, table: str, row: dict, pk: str) -> None:
        self.db[table].upsert(row, pk=pk)

    def _select(self, table: str, where: str, params: Iterable, *, order_by: str | None = None,
                limit: int | None = None) -> list[dict]:
        return list(self.db[table].rows_where(where, list(params), order_by=order_by, limit=limit))

    def _has_table(self, table: str) -> bool:
        return self.db[table].exists()

    def load_rows(self, table: str, rows: list[dict]) -> None:
        """Insert rows as read from another store, ids included (``verify.store.copy``)."""
        self._insert_rows(table, rows)

    def sync_ids(self) -> None:
        """After ``load_rows``, make new rows take the ids after the loaded ones. SQLite does so
        by itself."""

    # --- documents and sentences --------------------------------------------------------
    def find_document(self, sha256: str) -> dict | None:
        rows = self._select("documents", "sha256 = ?", [sha256], limit=1)
        return rows[0] if rows else None

    def add_document(self, doc: Document) -> AddResult:
        """Store a document and its sentences in one transaction; a duplicate is a no-op."""
        existing = self.find_document(doc.sha256)
        if existing is not None:
            return AddResult(existing["id"], False, self.count("sentences", "document_id = ?", [existing["id"]]))
        with self.transaction():
            doc_id = self._insert("documents", {
                "kind": doc.kind, "title": doc.title, "url": doc.url, "publisher": doc.publisher,
                "speaker": doc.speaker, "published": doc.published, "sha256": doc.sha256,
                "source": doc.source, "format": doc.format, "text": doc.text, "ingested_at": now(),
            } | ({"language": doc.language} if self.has_languages else {}))
            attributed = self.has_attribution
            paged = self.has_pages
            languages = self.has_languages
            known = self.known_speakers() if attributed else {}
            rows = []
            for i, s in enumerate(doc.sentences):
                speaker = known.get(s.speaker.lower(), s.speaker) if s.speaker and " " not in s.speaker else s.speaker
                if s.attribution is None:  # built without attribution (tests, pools): the document's speaker
                    speaker = speaker or doc.speaker
                rows.append({"document_id": doc_id, "position": i, "start": s.start, "end": s.end, "text": s.text,
                             "speaker": speaker, "text_hash": text_hash(s.text)}
                            | ({"attribution": s.attribution, "cue": s.cue} if attributed else {})
                            | ({"page": s.page, "ocr_confidence": s.ocr_confidence} if paged else {})
                            | ({"language": s.language or doc.language} if languages else {}))
            self._insert_rows("sentences", rows)
            if attributed:
                self._register_speakers(doc, rows)
        return AddResult(doc_id, True, len(doc.sentences))

    # --- speakers and the official side ---------------------------------------------------
    # What the schema has: only a corpus opened with ``migrate=False`` at an older version
    # lacks any of these.
    def _migrated(self, number: int) -> bool:
        if self._version is None:
            self._version = self.schema_version()
        return self._version >= number

    @property
    def has_attribution(self) -> bool:
        """Speakers, affiliations and attribution cues (migration 6)."""
        return self._migrated(6)

    @property
    def has_pages(self) -> bool:
        """Sentences' ``page`` and ``ocr_confidence`` (migration 8, "pages")."""
        return self._migrated(8)

    @property
    def has_languages(self) -> bool:
        """Documents' and sentences' ``language`` (migration 9, "languages")."""
        return self._migrated(9)

    @property
    def has_run_authors(self) -> bool:
        """Runs' ``by`` (migration 10, "run_authors")."""
        return self._migrated(10)

    def known_speakers(self) -> dict[str, str]:
        """Surname -> full name, for surnames only one known speaker has ("blinken" -> "Antony Blinken")."""
        by_surname: dict[str, set[str]] = {}
        for (name,) in self.execute("select name from speakers where name like '% %'"):
            by_surname.setdefault(name.split()[-1].lower(), set()).add(name)
        return {k: next(iter(v)) for k, v in by_surname.items() if len(v) == 1}

    def _register_speakers(self, doc: Document, rows: list[dict]) -> None:
        """Add the document's speakers (and its publisher) with the affiliation their role implies.

        A speaker the desk has set is never overwritten; an inferred one without an
        affiliation takes one when a later document's role words give it.
        """
        found: dict[str, tuple[str | None, str | None, str]] = {}
        publisher_side = affiliation(doc.publisher)
        if doc.publisher:
            found[doc.publisher] = (publisher_side, "publisher", "inferred from the publisher's name")
        # Someone speaking in a document an organisation publishes as its own (a transcript, or
        # the document's named speaker) speaks for that organisation unless their role says otherwise.
        by_publisher = f"inferred from the publisher, {doc.publisher}" if publisher_side else "no side named"
        if doc.speaker:
            aff = doc.affiliation or affiliation(doc.speaker) or publisher_side
            found[doc.speaker] = (aff, None, "given at ingest" if doc.affiliation else by_publisher)
        for span, row in zip(doc.sentences, rows):
            name = row["speaker"]
            if not name or span.attribution in (None, "document speaker"):
                continue
            aff = affiliation(span.role) or affiliation(name)
            source = f"inferred from \u201c{span.role}\u201d" if span.role and aff else "no side named"
            if not aff and span.attribution == "transcript" and publisher_side:
                aff, source = publisher_side, by_publisher
            if name not in found or (aff and not found[name][0]):
                found[name] = (aff, span.role, source)
        for name, (aff, role, source) in found.items():
            row = self.execute("select affiliation, source from speakers where name = ?", [name]).fetchone()
            if row is None:
                self._insert("speakers", {"name": name, "affiliation": aff, "role": role, "source": source,
                                            "updated_at": now()})
            elif aff and not row[0] and not str(row[1]).startswith("set by"):
                self._update("speakers", name, {"affiliation": aff, "role": role, "source": source,
                                                  "updated_at": now()})

    def stored_spans(self, doc_id: int) -> list[SentenceSpan]:
        """A document's stored sentences as spans (id in ``SentenceSpan.id``), in order."""
        return [SentenceSpan(start, end, text, speaker, attribution=attribution, id=sid)
                for sid, start, end, text, speaker, attribution in self.execute(
                    "select id, start, \"end\", text, speaker, attribution from sentences where document_id = ? "
                    "order by position", [doc_id])]

    def set_attributions(self, doc: dict, spans: list[SentenceSpan]) -> None:
        """Store new speakers for a document's sentences (``stored_spans`` ids) and register
        the speakers. ``doc`` is the document's row (``document``)."""
        record = Document(kind=doc["kind"], text=doc["text"], publisher=doc["publisher"], speaker=doc["speaker"],
                          sentences=spans)
        with self.transaction():
            for span in spans:
                self.execute("update sentences set speaker = ?, attribution = ?, cue = ? where id = ?",
                                  [span.speaker, span.attribution, span.cue, span.id])
            self._register_speakers(record, [{"speaker": sp.speaker, "attribution": sp.attribution} for sp in spans])

    def document_ids(self) -> list[int]:
        return [r[0] for r in self.execute("select id from documents order by id")]

    def speakers(self) -> list[dict]:
        """Every speaker with their affiliation, role, how it was found, and their sentence count."""
        cur = self.execute(
            "select sp.name, sp.affiliation, sp.role, sp.source, sp.updated_at, "
            "(select count(*) from sentences s join documents d on d.id = s.document_id "
            f" where {voice()} = sp.name) from speakers sp order by sp.name")
        keys = ["name", "affiliation", "role", "source", "updated_at", "sentences"]
        return [dict(zip(keys, r)) for r in cur]

    def set_speaker(self, name: str, *, affiliation: str | None = None, role: str | None = None,
                    by: str = "the desk") -> dict:
        """Correct (or add) a speaker's affiliation or role; the desk's word is never overwritten by inference."""
        with self.transaction():
            row = self.execute("select name, affiliation, role from speakers where name = ?", [name]).fetchone()
            values = {"affiliation": affiliation if affiliation is not None else (row[1] if row else None),
                      "role": role if role is not None else (row[2] if row else None),
                      "source": f"set by {by}", "updated_at": now()}
            if row is None:
                self._insert("speakers", {"name": name, **values})
            else:
                self._update("speakers", name, values)
        return {"name": name, **values}

    def setting(self, key: str, default=None):
        if not self._has_table("settings"):
            return default
        row = self.execute("select value from settings where key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value) -> None:
        with self.transaction():
            if value is None:
                self.execute("delete from settings where key = ?", [key])
            else:
                self._upsert("settings", {"key": key, "value": json.dumps(value)}, pk="key")

    def affiliations_fingerprint(self) -> str:
        """A short hash of who speaks for which side: a rechecked verdict is stale when it changes."""
        h = hashlib.sha256()
        for name, aff in self.execute("select name, coalesce(affiliation, '') from speakers order by name"):
            h.update(f"{name}\x00{aff}\x01".encode())
        return h.hexdigest()[:16]

    # --- documents a desk corrects ------------------------------------------------------------
    def documents(self, *, kind: str | None = None, publisher: str | None = None, speaker: str | None = None,
                  since: str | None = None, search: str | None = None, include_removed: bool = False) -> list[dict]:
        """Documents without their text, newest first, with their sentence count."""
        where, params = [], []
        if kind:
            where.append("d.kind = ?")
            params.append(kind)
        elif not include_removed:
            where.append("d.kind != ?")
            params.append(REMOVED)
        for col, value in (("publisher", publisher), ("speaker", speaker)):
            if value:
                where.append(f"lower(coalesce(d.{col}, '')) like ?")
                params.append(f"%{value.lower()}%")
        if since:
            where.append("d.published >= ?")
            params.append(since)
        if search:
            where.append("(lower(coalesce(d.title, '')) like ? or lower(coalesce(d.source, '')) like ?)")
            params += [f"%{search.lower()}%"] * 2
        cur = self.execute(
            "select d.id, d.kind, d.title, d.url, d.publisher, d.speaker, d.published, d.source, d.format, "
            "d.ingested_at, (select count(*) from sentences s where s.document_id = d.id) as sentences "
            "from documents d" + (" where " + " and ".join(where) if where else "") + " order by d.id desc", params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def dependent_claims(self, doc_id: int) -> list[int]:
        """Claims whose latest verdict rests on this document: its own claims (a report), or
        claims with one of its sentences in their evidence (an official statement)."""
        rows = self.execute(
            "select distinct v.claim_id from latest_verdicts v join evidence e on e.verdict_id = v.id "
            "join sentences s on s.id = e.sentence_id where s.document_id = ? "
            "union select c.id from claims c where c.document_id = ? order by 1", [doc_id, doc_id])
        return [r[0] for r in rows]

    def edit_document(self, doc_id: int, changes: dict, by: str) -> dict:
        """Correct a document's metadata; every change is recorded in ``document_edits``.

        The claims that rely on the document are marked stale for the next recheck. A new
        speaker or publisher changes who said its sentences: ``attribute.edit_document``
        makes the edit and attributes them again in one transaction.

        Returns:
            ``{"changed": {field: (old, new)}, "stale": [claim ids]}``.
        """
        doc = self.document(doc_id)
        if doc["kind"] == REMOVED:
            raise CorpusError(f"document {doc_id} was removed")
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise CorpusError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
        changed = {k: (doc[k], v) for k, v in changes.items() if v != doc[k]}
        stale: list[int] = []
        if not changed:
            return {"changed": {}, "stale": []}
        with self.transaction():
            self._update("documents", doc_id, {k: new for k, (_, new) in changed.items()})
            for field_name, (old, new) in changed.items():
                self._log_edit(doc_id, field_name, old, new, by)
            stale = self._mark_stale(doc_id, "document {} edited: {}".format(doc_id, ", ".join(sorted(changed))))
        return {"changed": changed, "stale": stale}

    def remove_document(self, doc_id: int, by: str, force: bool = False) -> list[int]:
        """Take a document out of the corpus: no search, check or recheck sees it again.

        Its rows stay, so past verdicts still show the evidence they had; the removal is
        recorded in ``document_edits``. Refused while verdicts rely on it unless ``force``;
        then those claims are marked stale for the next recheck.

        Returns:
            The claims marked stale.
        """
        doc = self.document(doc_id)
        if doc["kind"] == REMOVED:
            raise CorpusError(f"document {doc_id} was already removed")
        depending = self.dependent_claims(doc_id)
        if depending and not force:
            shown = ", ".join(map(str, depending[:8])) + (", ..." if len(depending) > 8 else "")
            raise CorpusError(f"document {doc_id} is relied on by {len(depending)} claim(s) ({shown}); "
                              "pass --force to remove it: they are marked stale and the next recheck re-scores them")
        with self.transaction():
            self._update("documents", doc_id, {"kind": REMOVED})
            self._log_edit(doc_id, "kind", doc["kind"], REMOVED, by)
            stale = self._mark_stale(doc_id, f"document {doc_id} removed") if doc["kind"] == "official" else []
            if doc["kind"] == "report":
                self.execute("delete from stale_claims where claim_id in "
                                  "(select id from claims where document_id = ?)", [doc_id])
        return stale

    def document_history(self, doc_id: int) -> list[dict]:
        return self._select("document_edits", "document_id = ?", [doc_id], order_by="id")

    def _log_edit(self, doc_id: int, field_name: str, old, new, by: str) -> None:
        self._insert("document_edits", {"document_id": doc_id, "field": field_name,
                                          "old": None if old is None else str(old),
                                          "new": None if new is None else str(new), "by": by, "at": now()})

    def _mark_stale(self, doc_id: int, reason: str) -> list[int]:
        claims = [c for c in self.dependent_claims(doc_id)
                  if self.execute("select kind from documents d join claims c on c.document_id = d.id "
                                       "where c.id = ?", [c]).fetchone() != (REMOVED,)]
        for cid in claims:
            self._upsert("stale_claims", {"claim_id": cid, "reason": reason, "at": now()}, pk="claim_id")
        return claims

    def stale_claims(self) -> dict[int, str]:
        if not self._has_table("stale_claims"):
            return {}
        return dict(self.execute("select claim_id, reason from stale_claims"))

    def clear_stale(self, claim_ids) -> None:
        with self.transaction():
            for cid in claim_ids:
                self.execute("delete from stale_claims where claim_id = ?", [cid])

    def live_claim_ids(self) -> list[int]:
        """Every claim not belonging to a removed report: what `recheck --all` rechecks."""
        return [r[0] for r in self.execute(
            "select c.id from claims c left join documents d on d.id = c.document_id "
            "where d.kind is null or d.kind != ? order by c.id", [REMOVED])]

    def official_side(self) -> list[str] | None:
        """The affiliations whose statements count as official evidence (None: every statement counts)."""
        return self.setting("official_side")

    def set_official_side(self, sides: list[str] | None) -> None:
        self.set_setting("official_side", sorted(set(sides)) if sides else None)

    def document(self, doc_id: int) -> dict:
        row = self.row("documents", doc_id)
        if row is None:
            raise CorpusError(f"no document with id {doc_id}")
        return row

    def row(self, table: str, pk: int) -> dict | None:
        """One row by primary key, as a dict (None if absent)."""
        cur = self.execute(f'select * from "{table}" where id = ?', [pk])
        found = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], found)) if found else None

    def sentences(self, where: str | None = None, params: Iterable = ()) -> Iterator[dict]:
        # Narration has no speaker of its own: the publisher speaks, with the publisher's affiliation.
        sql = ("select s.*, d.kind, d.title, d.url, d.published, d.publisher"
               + (", sp.affiliation from sentences s join documents d on d.id = s.document_id "
                  f"left join speakers sp on sp.name = {voice()}" if self.has_attribution else
                  " from sentences s join documents d on d.id = s.document_id"))
        if where:
            sql += " where " + where
        sql += " order by s.id"
        cur = self.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        for row in cur:
            yield dict(zip(cols, row))

    def sentences_by_id(self, ids: Iterable[int]) -> dict[int, dict]:
        ids = list(ids)
        out: dict[int, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.sentences(f"s.id in ({marks})", chunk):
                out[row["id"]] = row
        return out

    def count(self, table: str, where: str | None = None, params: Iterable = ()) -> int:
        simple = " " not in table.strip()
        if simple and not self._has_table(table):
            return 0
        source = f'"{table}"' if simple else table  # a join expression is used as given
        sql = f"select count(*) from {source}" + (f" where {where}" if where else "")
        return self.execute(sql, list(params)).fetchone()[0]

    def fingerprint(self) -> str:
        """A short hash of the official corpus: changes whenever an official document does."""
        h = hashlib.sha256()
        for (sha,) in self.execute("select sha256 from documents where kind = 'official' order by id"):
            h.update(sha.encode())
        return h.hexdigest()[:16]

    # --- caches ---------------------------------------------------------------------------
    def cached_vectors(self, hashes: list[str], model_id: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for h, v in self.execute(
                    f"select text_hash, vector from embeddings where model_id = ? and text_hash in ({marks})",
                    [model_id, *chunk]):
                out[h] = v
        return out

    def store_vectors(self, model_id: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self.transaction():
            self._insert_rows("embeddings",
                ({"text_hash": h, "model_id": model_id, "vector": v} for h, v in items),
                ignore=True)

    def cached_nli(self, model_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
        out = {}
        unique = list(set(keys))
        for start in range(0, len(unique), 400):  # 2 parameters a pair, under SQLite's limit
            chunk = unique[start:start + 400]
            values = ",".join("(?, ?)" for _ in chunk)
            for p, h, *scores in self.execute(
                    "select premise_hash, hypothesis_hash, entail, neutral, contradict, truncated from nli_scores "
                    f"where model_id = ? and (premise_hash, hypothesis_hash) in (values {values})",
                    [model_id, *(x for pair in chunk for x in pair)]):
                out[(p, h)] = tuple(scores)
        return out

    def store_nli(self, model_id: str, rows: Iterable[tuple[str, str, float, float, float, int]]) -> None:
        with self.transaction():
            self._insert_rows("nli_scores",
                ({"model_id": model_id, "premise_hash": p, "hypothesis_hash": h, "entail": e,
                  "neutral": n, "contradict": c, "truncated": t} for p, h, e, n, c, t in rows),
                ignore=True)

    # --- claims, runs, verdicts ----------------------------------------------------------
    def claim_for_sentence(self, sentence: dict, frame: str = "", proposition: str | None = None) -> int:
        row = self.execute("select id from claims where sentence_id = ?", [sentence["id"]]).fetchone()
        if row:
            return row[0]
        return self._insert("claims", {
            "document_id": sentence["document_id"], "sentence_id": sentence["id"], "text": sentence["text"],
            "start": sentence["start"], "end": sentence["end"], "text_hash": sentence["text_hash"],
            "frame": frame, "proposition": proposition or sentence["text"], "created_at": now()})

    def claim_for_text(self, text: str, frame: str = "", proposition: str | None = None) -> int:
        h = text_hash(text)
        row = self.execute("select id from claims where sentence_id is null and text_hash = ?", [h]).fetchone()
        if row:
            return row[0]
        return self._insert("claims", {"text": text, "text_hash": h, "frame": frame,
                                         "proposition": proposition or text, "created_at": now()})

    def claim(self, claim_id: int) -> dict:
        row = self.row("claims", claim_id)
        if row is None:
            raise CorpusError(f"no claim with id {claim_id}")
        return row

    def start_run(self, manifest: dict) -> int:
        with self.transaction():
            return self._insert("runs", {
                "started_at": now(), "status": "running", "command": manifest.get("command"),
                "code_version": manifest.get("code_version"), "embed_model": manifest.get("embed_model"),
                "nli_model": manifest.get("nli_model"), "thresholds": json.dumps(manifest.get("thresholds")),
                "corpus_fingerprint": manifest.get("corpus_fingerprint"), "manifest": json.dumps(manifest),
            } | ({"by": self.user or current_user()} if self.has_run_authors else {}))

    def finish_run(self, run_id: int, status: str = "ok") -> None:
        with self.transaction():
            self._update("runs", run_id, {"status": status, "finished_at": now()})

    @contextlib.contextmanager
    def new_run(self, manifest: dict) -> Iterator[int]:
        """A run's whole life: recorded 'running', then 'ok' when the block ends, or 'failed'
        on any exception (Ctrl-C included), so no half-written run ever reads as done."""
        run_id = self.start_run(manifest)
        try:
            yield run_id
        except BaseException:
            self.finish_run(run_id, "failed")
            raise
        self.finish_run(run_id, "ok")

    def store_verdict(self, run_id: int, claim_id: int, verdict, evidence_rows: list[dict]) -> int:
        """Store one verdict with its evidence rows atomically."""
        with self.transaction():
            old = self.execute("select id from verdicts where run_id = ? and claim_id = ?", [run_id, claim_id]).fetchone()
            if old:  # re-scored within the same run: the newer verdict replaces the older whole
                self.execute("delete from evidence where verdict_id = ?", [old[0]])
                self.execute("delete from verdicts where id = ?", [old[0]])
            vid = self._insert("verdicts", {
                "run_id": run_id, "claim_id": claim_id, "label": verdict.label, "score": verdict.score,
                "reason": verdict.reason, "conflicting": int(verdict.conflicting),
                "needs_review": verdict.needs_review,
                "details": json.dumps({"flags": verdict.flags, "quotes": verdict.quotes,
                                       "cutoffs": verdict.cutoffs, "clauses": verdict.clauses,
                                       "decisive": verdict.decisive})})
            self._insert_rows("evidence", ({"verdict_id": vid, **row} for row in evidence_rows))
        return vid

    def run(self, run_id: int) -> dict:
        row = self.row("runs", run_id)
        if row is None:
            raise CorpusError(f"no run with id {run_id}")
        return row

    def latest_verdict(self, claim_id: int) -> dict | None:
        """The claim's verdict in its newest successful run (the ``latest_verdicts`` view)."""
        cur = self.execute("select * from latest_verdicts where claim_id = ? order by id limit 1", [claim_id])
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None

    def evidence_for(self, verdict_id: int) -> list[dict]:
        cur = self.execute("select * from evidence where verdict_id = ? order by rank", [verdict_id])
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def official_sentence_count(self, after: int | None = None, upto: int | None = None) -> int:
        """Official sentences, optionally only those with ids above ``after`` or up to ``upto``."""
        where, params = "d.kind = 'official'", []
        if after is not None:
            where, params = where + " and s.id > ?", params + [after]
        if upto is not None:
            where, params = where + " and s.id <= ?", params + [upto]
        return self.count("sentences s join documents d on d.id = s.document_id", where, params)

    def max_official_sentence_id(self) -> int:
        row = self.execute("select max(s.id) from sentences s join documents d on d.id = s.document_id "
                              "where d.kind = 'official'").fetchone()
        return row[0] or 0

    def copy_verdict(self, verdict_id: int, run_id: int, cutoffs: dict | None = None) -> int:
        """Carry a verdict and its evidence unchanged into a new run.

        Args:
            cutoffs: fresh retrieval cutoffs to record with the copy (the evidence is the
                same, but a new sentence may have raised the bar of a candidate list).
        """
        cols = "claim_id, label, score, reason, conflicting, details, needs_review"
        ecols = "rank, sentence_id, similarity, p_entail, p_neutral, p_contradict, flags, relation, counted, units"
        new = self.execute(f"insert into verdicts (run_id, {cols}) select ?, {cols} from verdicts where id = ? "
                           "returning id", [run_id, verdict_id]).fetchone()[0]
        if cutoffs is not None:
            details = json.loads(self.row("verdicts", new)["details"] or "{}")
            self.execute("update verdicts set details = ? where id = ?", [json.dumps(details | {"cutoffs": cutoffs}), new])
        self.execute(f"insert into evidence (verdict_id, {ecols}) select ?, {ecols} from evidence "
                        "where verdict_id = ?", [new, verdict_id])
        return new

    def add_review(self, claim_id: int, label: str, note: str, by: str) -> int:
        self.claim(claim_id)
        v = self.latest_verdict(claim_id)
        with self.transaction():
            return self._insert("reviews", {
                "claim_id": claim_id, "label": label, "note": note, "by": by, "at": now(),
                "machine_label": v["label"] if v else None, "machine_score": v["score"] if v else None,
                "run_id": v["run_id"] if v else None})

    def latest_review(self, claim_id: int) -> dict | None:
        rows = self._select("reviews", "claim_id = ?", [claim_id], order_by="id desc", limit=1)
        return rows[0] if rows else None

    def store_calibration(self, record: dict) -> int:
        with self.transaction():
            return self._insert("calibrations", {
                "fitted_at": record["provenance"]["fitted_at"], "nli_model": record["provenance"]["nli_model"],
                "record": json.dumps(record)})

    # --- named queries: every statement the pipeline and the CLI run lives here ------------------

    def verdict_in_run(self, claim_id: int, run_id: int) -> dict | None:
        row = self.execute("select id from verdicts where claim_id = ? and run_id = ?", [claim_id, run_id]).fetchone()
        return self.row("verdicts", row[0]) if row else None

    def latest_calibration(self, nli_model_id: str | None) -> tuple[int, dict] | None:
        """The newest stored calibration for this NLI model: (id, record)."""
        if not self._has_table("calibrations"):
            return None
        row = self.execute("select id, record from calibrations where coalesce(nli_model, '') = coalesce(?, '') "
                              "order by id desc limit 1", [nli_model_id]).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def run_summaries(self, limit: int) -> list[dict]:
        """The newest runs with their verdict counts by label."""
        by = 'r."by"' if self.has_run_authors else "null"
        keys = ["id", "started_at", "status", "nli_model", "corpus", "by", "claims", "consistent", "novel",
                "contradictory"]
        rows = self.execute(
            f"select r.id, r.started_at, r.status, r.nli_model, r.corpus_fingerprint, {by}, count(v.id), "
            "sum(case when v.label = 'consistent' then 1 else 0 end), sum(case when v.label = 'novel' then 1 else 0 end), "
            "sum(case when v.label = 'contradictory' then 1 else 0 end) "
            "from runs r left join verdicts v on v.run_id = r.id group by r.id order by r.id desc limit ?", [limit])
        return [dict(zip(keys, r)) for r in rows]

    def claim_ids(self, document_id: int | None = None) -> list[int]:
        """Claims of one report (or all), in order."""
        where, params = ("where document_id = ?", [document_id]) if document_id is not None else ("", [])
        return [r[0] for r in self.execute(f"select id from claims {where} order by id", params)]

    def run_diff(self, run_a: int, run_b: int) -> list[tuple]:
        """(claim id, text, label and score in run a, label and score in run b) for claims in either."""
        return list(self.execute(
            "select c.id, c.text, a.label, a.score, b.label, b.score from claims c "
            "left join verdicts a on a.claim_id = c.id and a.run_id = ? left join verdicts b on b.claim_id = c.id "
            "and b.run_id = ? where a.id is not null or b.id is not null order by c.id", [run_a, run_b]))

    def verdict_history(self, claim_id: int) -> list[dict]:
        """A claim's verdicts in successful runs, oldest first."""
        keys = ("run_id", "at", "label", "score", "reason")
        return [dict(zip(keys, r)) for r in self.execute(
            "select v.run_id, r.started_at, v.label, v.score, v.reason from verdicts v join runs r on r.id = v.run_id "
            "where v.claim_id = ? and r.status = 'ok' order by v.run_id", [claim_id])]

    def reviews(self, claim_id: int) -> list[dict]:
        return self._select("reviews", "claim_id = ?", [claim_id], order_by="id")

    def first_sentence_id(self, document_id: int) -> int:
        return self.execute("select id from sentences where document_id = ? order by position limit 1",
                               [document_id]).fetchone()[0]

    def official_hashes_upto(self, sentence_id: int) -> list[str]:
        """SHA-256 of each official document up to the one holding ``sentence_id``, in order."""
        return [r[0] for r in self.execute(
            "select sha256 from documents where kind = 'official' and id <= "
            "coalesce((select document_id from sentences where id = ?), 0) order by id", [sentence_id])]

    def official_sentences_after(self, sentence_id: int = 0) -> list[tuple[int, str]]:
        """(id, text) of official sentences with ids above ``sentence_id``, in id order."""
        return list(self.execute(
            "select s.id, s.text from sentences s join documents d on d.id = s.document_id "
            "where d.kind = 'official' and s.id > ? order by s.id", [sentence_id]))

    def earlier_versions(self, source: str, kind: str, sha256: str) -> list[int]:
        """Documents ingested before from the same source whose text differs."""
        return [r[0] for r in self.execute(
            "select id from documents where source = ? and kind = ? and sha256 != ? order by id",
            [source, kind, sha256])]

    def stored_languages(self, hashes: list[str]) -> dict[str, str]:
        """Language recorded at ingest for sentences with these text hashes (the first one wins)."""
        stored: dict[str, str] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            for h, lang in self.execute(
                    f"select text_hash, language from sentences where text_hash in ({','.join('?' * len(chunk))}) "
                    "and language is not null order by id", chunk):
                stored.setdefault(h, lang)
        return stored

    def latest_verdicts(self, claim_ids: list[int] | None = None) -> list[tuple]:
        """(claim id, verdict id, label, score, run manifest, details) of each claim's newest
        verdict in a successful run."""
        where = "" if claim_ids is None else f" and v.claim_id in ({','.join(str(int(c)) for c in claim_ids)})"
        return list(self.execute(
            "select v.claim_id, v.id, v.label, v.score, r.manifest, v.details from latest_verdicts v "
            f"join runs r on r.id = v.run_id where 1 = 1{where} order by v.id desc"))

    def evidence_sentence_ids(self, verdict_ids: list[int]) -> list[tuple[int, int]]:
        """(verdict id, sentence id) of these verdicts' evidence, in rank order."""
        out = []
        for start in range(0, len(verdict_ids), 500):  # one query per 500 verdicts, not one per verdict
            chunk = verdict_ids[start:start + 500]
            out += self.execute(
                f"select verdict_id, sentence_id from evidence where verdict_id in ({','.join('?' * len(chunk))}) "
                "order by verdict_id, rank", chunk).fetchall()
        return out

    def lexical_search(self, match: str, scope, k: int, after: int = 0,
                       upto: int | None = None) -> list[tuple[int, float]]:
        """BM25 search of the official sentences in ``scope`` (``retrieve.Scope``): (id, bm25)
        best first, ids in (after, upto]."""
        where, params = scope_where(scope)
        rowids = " and f.rowid > ?" + (" and f.rowid <= ?" if upto is not None else "")
        bounds = [after] + ([upto] if upto is not None else [])
        rows = self.execute(
            "select s.id, bm25(sentences_fts) from sentences_fts f join sentences s on s.id = f.rowid "
            f"join documents d on d.id = s.document_id where sentences_fts match ?{rowids} and {where} "
            "order by bm25(sentences_fts) limit ?", [match, *bounds, *params, k])
        return [(r[0], r[1]) for r in rows]

    def sentence_ids_in(self, scope, after: int | None = None, upto: int | None = None) -> list[int]:
        """Ids of the official sentences in ``scope``, optionally only those in (after, upto]."""
        where, params = scope_where(scope)
        bounds, values = "", []
        if after is not None:
            bounds, values = bounds + " and s.id > ?", values + [after]
        if upto is not None:
            bounds, values = bounds + " and s.id <= ?", values + [upto]
        return [r[0] for r in self.execute(
            f"select s.id from sentences s join documents d on d.id = s.document_id where {where}{bounds}",
            [*params, *values])]

    def quote_candidates(self, match: str, scope, limit: int) -> list[tuple]:
        """Official sentences in ``scope`` an FTS query finds, with what a quote match reports."""
        where, params = scope_where(scope)
        return list(self.execute(
            "select s.id, s.text, s.document_id, s.speaker, d.published, d.title, d.url, s.start, s.end "
            "from sentences_fts f join sentences s on s.id = f.rowid join documents d on d.id = s.document_id "
            f"where sentences_fts match ? and {where} order by bm25(sentences_fts) limit ?", [match, *params, limit]))

    def close(self) -> None:
        self.conn.close()


LOCK_WAIT = 30.0  # seconds a writer waits for another process's write to finish


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; nests as a no-op.

    While another process holds the write lock it waits up to ``LOCK_WAIT`` seconds,
    telling ``on_wait`` (seconds waited so far) about once a second, so that a user
    sees why nothing happens.
    """

    def __init__(self, conn: sqlite3.Connection, on_wait=None):
        self.conn = conn
        self.outer = False
        self.on_wait = on_wait

    def __enter__(self):
        if not self.conn.in_transaction:
            self._begin()
            self.outer = True
        return self.conn

    def _begin(self) -> None:
        if self.on_wait is None:
            self.conn.execute("BEGIN IMMEDIATE")  # SQLite's own busy timeout does the waiting
            return
        import time

        start = time.monotonic()
        self.conn.execute("PRAGMA busy_timeout = 1000")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    waited = time.monotonic() - start
                    if "locked" not in str(e) or waited >= LOCK_WAIT:
                        raise
                    self.on_wait(waited)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT * 1000)}")

    def __exit__(self, exc_type, exc, tb):
        if not self.outer:
            return False
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
