"""corpus.db's schema: numbered migrations, each applied once, in order, in its own transaction.

As sqlite-utils' ``migrations.py`` (and llm's ``embeddings_migrations.py``): each migration
is a small function of a ``sqlite_utils.Database``, applied inside the same transaction as
the row that records it in ``_migrations``, so a migration is either done and recorded or
not done at all. Never edit a released migration: add the next one. The PostgreSQL store
has a twin of each, with the same number and name (``verify.store.postgres.schema``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from verify.errors import CorpusError

if TYPE_CHECKING:
    import sqlite_utils

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
SCHEMA_VERSION = len(MIGRATIONS)
# The migrations later features need: a corpus opened with ``migrate=False`` at an older
# version lacks them, and the queries that use them check first (``Engine.has``).
ATTRIBUTION, PAGES, LANGUAGES, RUN_AUTHORS = 6, 8, 9, 10


def migrate(corpus) -> list[str]:
    """Apply the pending migrations to a corpus.db ``Corpus``, each in its own transaction.

    Returns:
        The names of those applied (none when another process applied them first).

    Raises:
        CorpusError: the database was written by a newer verify (a schema it does not know).
    """
    from verify.store.records import now

    version = corpus.schema_version()
    if version > len(MIGRATIONS):
        raise CorpusError(f"{corpus.location} has schema version {version}, newer than this verify "
                          f"understands ({len(MIGRATIONS)}); upgrade verify to open it")
    applied = []
    for number, (name, fn) in enumerate(MIGRATIONS, 1):
        if number <= version:
            continue
        with corpus.transaction():
            # Another process may have applied it while we waited for the write lock.
            if corpus.schema_version() >= number:
                continue
            with corpus.driver_errors():
                corpus.db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id",
                                                if_not_exists=True)
                fn(corpus.db)
                corpus.db["_migrations"].insert({"id": number, "name": name, "applied_at": now()})
        applied.append(name)
    return applied
