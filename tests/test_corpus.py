"""corpus.db: schema and migrations, WAL, refusal of newer schemas, dedup, atomicity, FTS5."""
from __future__ import annotations

import sqlite3

import pytest

from verify.errors import CorpusError
from verify.store.corpus import MIGRATIONS, SCHEMA_VERSION, Corpus, Document, SentenceSpan
from verify.util import text_hash

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPORT_TEXT, make_document


def test_migrations_are_recorded_once(tmp_path):
    path = tmp_path / "c.db"
    c = Corpus(path)
    rows = list(c.db.execute("select id, name, applied_at from _migrations order by id"))
    assert [(r[0], r[1]) for r in rows] == [(n, name) for n, (name, _) in enumerate(MIGRATIONS, 1)]
    assert rows[0][1] == "initial"
    assert all(r[2] for r in rows)
    assert c.schema_version() == SCHEMA_VERSION == len(rows)
    c.close()
    again = Corpus(path)
    assert again.migrate() == []  # nothing pending: nothing re-applied
    assert again.count("_migrations") == SCHEMA_VERSION
    for table in ("documents", "sentences", "embeddings", "nli_scores", "claims", "runs", "verdicts",
                  "evidence", "sentences_fts"):
        assert again.db[table].exists(), table


def test_migrate_false_leaves_a_new_file_unmigrated(tmp_path):
    c = Corpus(tmp_path / "raw.db", migrate=False)
    assert c.schema_version() == 0
    assert not c.db["documents"].exists()
    assert c.migrate() == [name for name, _ in MIGRATIONS]
    assert c.schema_version() == SCHEMA_VERSION


def test_file_database_uses_wal_and_foreign_keys(corpus):
    assert corpus.db.execute("pragma journal_mode").fetchone()[0].lower() == "wal"
    assert corpus.db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert corpus.db.execute("pragma busy_timeout").fetchone()[0] >= 1000


def test_memory_database_works_without_a_file():
    c = Corpus(":memory:")
    assert c.path is None
    assert c.count("documents") == 0
    assert c.schema_version() == SCHEMA_VERSION


def test_database_from_a_newer_verify_is_refused(tmp_path):
    path = tmp_path / "future.db"
    Corpus(path).close()
    conn = sqlite3.connect(path)
    conn.execute("insert into _migrations (id, name, applied_at) values (?, ?, ?)",
                 (SCHEMA_VERSION + 1, "from the future", "2099-01-01T00:00:00+00:00"))
    conn.commit()
    conn.close()
    with pytest.raises(CorpusError, match="newer"):
        Corpus(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is certainly not a database file, just some text " * 40)
    with pytest.raises(CorpusError, match="not a usable SQLite database"):
        Corpus(path)


def test_add_document_stores_text_and_sentences(corpus):
    doc = make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken", published="2022-01-26")
    res = corpus.add_document(doc)
    assert res.created and res.sentences == len(doc.sentences) == 4
    row = corpus.document(res.document_id)
    assert row["kind"] == "official" and row["sha256"] == text_hash(doc.text)
    for s in corpus.sentences(document_id=res.document_id):
        assert row["text"][s["start"]:s["end"]] == s["text"]
        assert s["text_hash"] == text_hash(s["text"])
        assert s["speaker"] == "Antony Blinken"
    positions = [s["position"] for s in corpus.sentences(document_id=res.document_id)]
    assert positions == list(range(4))


def test_duplicate_document_is_a_no_op(corpus):
    first = corpus.add_document(make_document("official", OFFICIAL_TEXT))
    second = corpus.add_document(make_document("official", OFFICIAL_TEXT))
    assert first.created and not second.created
    assert second.document_id == first.document_id
    assert second.sentences == first.sentences
    assert corpus.count("documents") == 1
    assert corpus.count("sentences") == first.sentences


def test_failed_add_rolls_back_the_whole_document(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    docs, sents = corpus.count("documents"), corpus.count("sentences")
    text = "A good first sentence. A broken second one."
    # The second sentence's text is None: hashing it fails after the document row was written.
    bad = Document(kind="official", text=text,
                   sentences=[SentenceSpan(0, 22, "A good first sentence."), SentenceSpan(23, 43, None)])
    with pytest.raises(AttributeError):
        corpus.add_document(bad)
    assert corpus.count("documents") == docs
    assert corpus.count("sentences") == sents
    assert corpus.find_document(text_hash(text)) is None
    assert not corpus.db.conn.in_transaction
    # the corpus is still usable afterwards
    assert corpus.add_document(make_document("official", OFFICIAL_TEXT_2)).created


def test_transaction_commits_or_rolls_back_together(corpus):
    with pytest.raises(RuntimeError):
        with corpus.transaction():
            corpus.db["runs"].insert({"status": "x"})
            with corpus.transaction():  # nested: a savepoint; the outer block still decides
                corpus.db["runs"].insert({"status": "y"})
            raise RuntimeError("boom")
    assert corpus.count("runs") == 0
    with corpus.transaction():
        corpus.db["runs"].insert({"status": "x"})
    assert corpus.count("runs") == 1


def test_fts5_search_finds_stemmed_words(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    rows = list(corpus.db.execute(
        "select s.text from sentences_fts f join sentences s on s.id = f.rowid "
        "where sentences_fts match ? order by rank", ["halting enlargement"]))
    assert rows == [("We will not halt the enlargement of NATO, and the alliance door remains open.",)]
    assert list(corpus.db["sentences"].search("exercise"))[0]["text"].startswith("Washington is ready")
    assert list(corpus.db.execute("select rowid from sentences_fts where sentences_fts match 'zeppelin'")) == []


def test_fingerprint_tracks_official_documents_only(corpus):
    empty = corpus.fingerprint()
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    one = corpus.fingerprint()
    assert one != empty and len(one) == 16
    corpus.add_document(make_document("report", REPORT_TEXT))
    assert corpus.fingerprint() == one  # a report is not part of what claims are checked against
    corpus.add_document(make_document("official", OFFICIAL_TEXT))  # duplicate: no change
    assert corpus.fingerprint() == one
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2))
    assert corpus.fingerprint() not in (one, empty)


def test_unknown_ids_raise_corpus_error(corpus):
    with pytest.raises(CorpusError, match="no document with id 42"):
        corpus.document(42)
    with pytest.raises(CorpusError, match="no claim with id 7"):
        corpus.claim(7)
    with pytest.raises(CorpusError, match="no run with id 3"):
        corpus.run(3)


def test_count_of_plain_tables(corpus):
    assert corpus.count("documents") == 0
    assert corpus.count("no_such_table") == 0
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    corpus.add_document(make_document("report", REPORT_TEXT))
    assert corpus.document_count("official") == 1


def test_counts_are_named_queries_that_take_no_sql(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT))
    report = corpus.add_document(make_document("report", REPORT_TEXT)).document_id
    assert corpus.official_sentence_count() == 4 and corpus.document_count("official") == 1
    assert corpus.sentence_count(report) == len(list(corpus.sentences(document_id=report)))
    with pytest.raises(ValueError, match="not a table name"):
        corpus.count("sentences s join documents d on d.id = s.document_id")


def test_claims_are_created_once_per_sentence_and_per_text(corpus):
    corpus.add_document(make_document("report", REPORT_TEXT))
    s = next(corpus.sentences(containing="secret tunnel"))
    a, b = corpus.claim_for_sentence(s), corpus.claim_for_sentence(s)
    assert a == b
    t1, t2 = corpus.claim_for_text("NATO will reopen its office."), corpus.claim_for_text("NATO will reopen its office.")
    assert t1 == t2 != a
    assert corpus.claim(t1)["sentence_id"] is None
    assert corpus.count("claims") == 2


def test_vector_and_nli_caches_round_trip(corpus):
    corpus.store_vectors("m", [("h1", b"\x00\x01"), ("h2", b"\x02")])
    corpus.store_vectors("m", [("h1", b"ignored")])  # first write wins
    assert corpus.cached_vectors(["h1", "h2", "h3"], "m") == {"h1": b"\x00\x01", "h2": b"\x02"}
    assert corpus.cached_vectors(["h1"], "other") == {}
    corpus.store_nli("n", [("p", "h", 0.7, 0.2, 0.1, 0)])
    assert corpus.cached_nli("n", [("p", "h"), ("p", "x")]) == {("p", "h"): (0.7, 0.2, 0.1, 0)}


def test_an_older_database_is_upgraded_in_order(tmp_path):
    if len(MIGRATIONS) < 2:
        pytest.skip("only one migration exists")
    path = tmp_path / "old.db"
    old = Corpus(path, migrate=False)
    with old.transaction():
        old.db["_migrations"].create({"id": int, "name": str, "applied_at": str}, pk="id")
        MIGRATIONS[0][1](old.db)
        old.db["_migrations"].insert({"id": 1, "name": MIGRATIONS[0][0], "applied_at": "2022-01-01"})
    old.close()
    c = Corpus(path, migrate=False)
    assert c.schema_version() == 1
    assert c.migrate() == [name for name, _ in MIGRATIONS[1:]]
    assert c.schema_version() == SCHEMA_VERSION


def test_a_failing_migration_leaves_no_trace(tmp_path, monkeypatch):
    import verify.store.schema as corpus_mod

    path = tmp_path / "c.db"
    Corpus(path).close()

    def broken(db):
        db["half_done"].create({"id": int}, pk="id")
        raise RuntimeError("migration failed half way")

    monkeypatch.setattr(corpus_mod, "MIGRATIONS", [*MIGRATIONS, ("broken", broken)])
    monkeypatch.setattr(corpus_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="half way"):
        Corpus(path)
    c = Corpus(path, migrate=False)
    assert c.schema_version() == SCHEMA_VERSION
    assert not c.db["half_done"].exists()
