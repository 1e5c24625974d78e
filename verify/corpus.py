"""The corpus database: schema, migrations, and every read and write of ``corpus.db``.

``corpus.db`` is the single source of truth. Everything else (the FAISS index files in
``embeddings/``) is derived from it and can be rebuilt at any time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorpusError

if TYPE_CHECKING:
    import sqlite_utils
from .util import text_hash

DEFAULT_DB = "corpus.db"


def default_db_path() -> Path:
    """``$VERIFY_DB`` if set, else ``./corpus.db``."""
    return Path(os.environ.get("VERIFY_DB") or DEFAULT_DB)


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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("initial", _m001_initial),
    ("frames_and_details", _m002_frames_and_details),
    ("calibrations", _m003_calibrations),
    ("reviews", _m004_reviews),
    ("views", _m005_views),
]
SCHEMA_VERSION = len(MIGRATIONS)


# --- records -----------------------------------------------------------------------------

@dataclass
class SentenceSpan:
    """A sentence located in its document's stored text: ``text == doc_text[start:end]``."""

    start: int
    end: int
    text: str
    speaker: str | None = None


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

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, migrate: bool = True):
        self.path = Path(path) if str(path) != ":memory:" else None
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
        return applied

    def transaction(self):
        """A context manager: everything inside commits together or not at all."""
        return _Transaction(self.conn)

    # --- documents and sentences --------------------------------------------------------
    def find_document(self, sha256: str) -> dict | None:
        rows = list(self.db["documents"].rows_where("sha256 = ?", [sha256], limit=1))
        return rows[0] if rows else None

    def add_document(self, doc: Document) -> AddResult:
        """Store a document and its sentences in one transaction; a duplicate is a no-op."""
        existing = self.find_document(doc.sha256)
        if existing is not None:
            return AddResult(existing["id"], False, self.count("sentences", "document_id = ?", [existing["id"]]))
        with self.transaction():
            doc_id = self.db["documents"].insert({
                "kind": doc.kind, "title": doc.title, "url": doc.url, "publisher": doc.publisher,
                "speaker": doc.speaker, "published": doc.published, "sha256": doc.sha256,
                "source": doc.source, "format": doc.format, "text": doc.text, "ingested_at": now(),
            }).last_pk
            self.db["sentences"].insert_all(
                ({"document_id": doc_id, "position": i, "start": s.start, "end": s.end, "text": s.text,
                  "speaker": s.speaker or doc.speaker, "text_hash": text_hash(s.text)}
                 for i, s in enumerate(doc.sentences)), batch_size=1000)
        return AddResult(doc_id, True, len(doc.sentences))

    def document(self, doc_id: int) -> dict:
        row = self.row("documents", doc_id)
        if row is None:
            raise CorpusError(f"no document with id {doc_id}")
        return row

    def row(self, table: str, pk: int) -> dict | None:
        """One row by primary key, as a dict (None if absent)."""
        cur = self.conn.execute(f"select * from [{table}] where id = ?", [pk])
        found = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], found)) if found else None

    def sentences(self, where: str | None = None, params: Iterable = (), *, with_document=False) -> Iterator[dict]:
        sql = ("select s.*, d.kind, d.title, d.url, d.published, d.publisher from sentences s "
               "join documents d on d.id = s.document_id")
        if where:
            sql += " where " + where
        sql += " order by s.id"
        cur = self.db.execute(sql, list(params))
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
        if simple and not self.db[table].exists():
            return 0
        source = f"[{table}]" if simple else table  # a join expression is used as given
        sql = f"select count(*) from {source}" + (f" where {where}" if where else "")
        return self.db.execute(sql, list(params)).fetchone()[0]

    def fingerprint(self) -> str:
        """A short hash of the official corpus: changes whenever an official document does."""
        h = hashlib.sha256()
        for (sha,) in self.db.execute("select sha256 from documents where kind = 'official' order by id"):
            h.update(sha.encode())
        return h.hexdigest()[:16]

    # --- caches ---------------------------------------------------------------------------
    def cached_vectors(self, hashes: list[str], model_id: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for h, v in self.db.execute(
                    f"select text_hash, vector from embeddings where model_id = ? and text_hash in ({marks})",
                    [model_id, *chunk]):
                out[h] = v
        return out

    def store_vectors(self, model_id: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self.transaction():
            self.db["embeddings"].insert_all(
                ({"text_hash": h, "model_id": model_id, "vector": v} for h, v in items),
                ignore=True, batch_size=1000)

    def cached_nli(self, model_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
        out = {}
        unique = list(set(keys))
        for start in range(0, len(unique), 400):  # 2 parameters a pair, under SQLite's limit
            chunk = unique[start:start + 400]
            values = ",".join("(?, ?)" for _ in chunk)
            for p, h, *scores in self.conn.execute(
                    "select premise_hash, hypothesis_hash, entail, neutral, contradict, truncated from nli_scores "
                    f"where model_id = ? and (premise_hash, hypothesis_hash) in (values {values})",
                    [model_id, *(x for pair in chunk for x in pair)]):
                out[(p, h)] = tuple(scores)
        return out

    def store_nli(self, model_id: str, rows: Iterable[tuple[str, str, float, float, float, int]]) -> None:
        with self.transaction():
            self.db["nli_scores"].insert_all(
                ({"model_id": model_id, "premise_hash": p, "hypothesis_hash": h, "entail": e,
                  "neutral": n, "contradict": c, "truncated": t} for p, h, e, n, c, t in rows),
                ignore=True, batch_size=1000)

    # --- claims, runs, verdicts ----------------------------------------------------------
    def claim_for_sentence(self, sentence: dict, frame: str = "", proposition: str | None = None) -> int:
        row = self.db.execute("select id from claims where sentence_id = ?", [sentence["id"]]).fetchone()
        if row:
            return row[0]
        return self.db["claims"].insert({
            "document_id": sentence["document_id"], "sentence_id": sentence["id"], "text": sentence["text"],
            "start": sentence["start"], "end": sentence["end"], "text_hash": sentence["text_hash"],
            "frame": frame, "proposition": proposition or sentence["text"], "created_at": now()}).last_pk

    def claim_for_text(self, text: str, frame: str = "", proposition: str | None = None) -> int:
        h = text_hash(text)
        row = self.db.execute("select id from claims where sentence_id is null and text_hash = ?", [h]).fetchone()
        if row:
            return row[0]
        return self.db["claims"].insert({"text": text, "text_hash": h, "frame": frame,
                                         "proposition": proposition or text, "created_at": now()}).last_pk

    def claim(self, claim_id: int) -> dict:
        row = self.row("claims", claim_id)
        if row is None:
            raise CorpusError(f"no claim with id {claim_id}")
        return row

    def start_run(self, manifest: dict) -> int:
        with self.transaction():
            return self.db["runs"].insert({
                "started_at": now(), "status": "running", "command": manifest.get("command"),
                "code_version": manifest.get("code_version"), "embed_model": manifest.get("embed_model"),
                "nli_model": manifest.get("nli_model"), "thresholds": json.dumps(manifest.get("thresholds")),
                "corpus_fingerprint": manifest.get("corpus_fingerprint"), "manifest": json.dumps(manifest),
            }).last_pk

    def finish_run(self, run_id: int, status: str = "ok") -> None:
        with self.transaction():
            self.db["runs"].update(run_id, {"status": status, "finished_at": now()})

    def store_verdict(self, run_id: int, claim_id: int, verdict, evidence_rows: list[dict]) -> int:
        """Store one verdict with its evidence rows atomically."""
        with self.transaction():
            old = self.db.execute("select id from verdicts where run_id = ? and claim_id = ?", [run_id, claim_id]).fetchone()
            if old:  # re-scored within the same run: the newer verdict replaces the older whole
                self.db.execute("delete from evidence where verdict_id = ?", [old[0]])
                self.db.execute("delete from verdicts where id = ?", [old[0]])
            vid = self.db["verdicts"].insert({
                "run_id": run_id, "claim_id": claim_id, "label": verdict.label, "score": verdict.score,
                "reason": verdict.reason, "conflicting": int(verdict.conflicting),
                "details": json.dumps({"flags": verdict.flags, "quotes": verdict.quotes,
                                       "cutoffs": verdict.cutoffs})}).last_pk
            self.db["evidence"].insert_all(({"verdict_id": vid, **row} for row in evidence_rows))
        return vid

    def run(self, run_id: int) -> dict:
        row = self.row("runs", run_id)
        if row is None:
            raise CorpusError(f"no run with id {run_id}")
        return row

    def latest_verdict(self, claim_id: int) -> dict | None:
        row = self.db.execute(
            "select v.* from verdicts v join runs r on r.id = v.run_id where v.claim_id = ? "
            "and r.status = 'ok' order by v.run_id desc limit 1", [claim_id]).fetchone()
        if row is None:
            return None
        cols = [c[1] for c in self.db.execute("pragma table_info(verdicts)")]
        return dict(zip(cols, row))

    def evidence_for(self, verdict_id: int) -> list[dict]:
        cur = self.db.execute("select * from evidence where verdict_id = ? order by rank", [verdict_id])
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def official_sentence_count(self, where: str = "", params: Iterable = ()) -> int:
        """Official sentences, optionally narrowed by ``where`` (on ``s`` sentences, ``d`` documents)."""
        extra = f" and {where}" if where else ""
        return self.count("sentences s join documents d on d.id = s.document_id", f"d.kind = 'official'{extra}", params)

    def max_official_sentence_id(self) -> int:
        row = self.db.execute("select max(s.id) from sentences s join documents d on d.id = s.document_id "
                              "where d.kind = 'official'").fetchone()
        return row[0] or 0

    def copy_verdict(self, verdict_id: int, run_id: int, cutoffs: dict | None = None) -> int:
        """Carry a verdict and its evidence unchanged into a new run.

        Args:
            cutoffs: fresh retrieval cutoffs to record with the copy (the evidence is the
                same, but a new sentence may have raised the bar of a candidate list).
        """
        cols = "claim_id, label, score, reason, conflicting, details"
        ecols = "rank, sentence_id, similarity, p_entail, p_neutral, p_contradict, flags, relation"
        new = self.conn.execute(f"insert into verdicts (run_id, {cols}) select ?, {cols} from verdicts where id = ?",
                                [run_id, verdict_id]).lastrowid
        if cutoffs is not None:
            self.conn.execute("update verdicts set details = json_set(coalesce(details, '{}'), '$.cutoffs', json(?)) "
                              "where id = ?", [json.dumps(cutoffs), new])
        self.db.execute(f"insert into evidence (verdict_id, {ecols}) select ?, {ecols} from evidence "
                        "where verdict_id = ?", [new, verdict_id])
        return new

    def add_review(self, claim_id: int, label: str, note: str, by: str) -> int:
        self.claim(claim_id)
        v = self.latest_verdict(claim_id)
        with self.transaction():
            return self.db["reviews"].insert({
                "claim_id": claim_id, "label": label, "note": note, "by": by, "at": now(),
                "machine_label": v["label"] if v else None, "machine_score": v["score"] if v else None,
                "run_id": v["run_id"] if v else None}).last_pk

    def latest_review(self, claim_id: int) -> dict | None:
        rows = list(self.db["reviews"].rows_where("claim_id = ?", [claim_id], order_by="id desc", limit=1))
        return rows[0] if rows else None

    def store_calibration(self, record: dict) -> int:
        with self.transaction():
            return self.db["calibrations"].insert({
                "fitted_at": record["provenance"]["fitted_at"], "nli_model": record["provenance"]["nli_model"],
                "record": json.dumps(record)}).last_pk

    def close(self) -> None:
        self.conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; nests as a no-op."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if not self.outer:
            return False
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
