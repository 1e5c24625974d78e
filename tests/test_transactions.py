"""One transaction behaviour on both stores (``Corpus.transaction``, as sqlite-utils' ``atomic()``):
a block inside another is a savepoint, an error undoes the block and is raised as it was, a
COMMIT that fails is rolled back, and in every case what was stored before is kept and the
next write commits.

The ``store`` fixture runs each test against corpus.db and, where tests/pgserver.py finds a
server, PostgreSQL.
"""
from __future__ import annotations

import pytest

from verify.errors import ConnectionLost, CorpusError, WriteRefused
from verify.store import open_corpus

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPORT_TEXT, make_document


def runs(store) -> list[str]:
    return [r[0] for r in store.execute("select status from runs order by id")]


def idle(store) -> bool:
    """No transaction is open on the store's connection."""
    if hasattr(store.conn, "in_transaction"):
        return not store.conn.in_transaction
    from psycopg.pq import TransactionStatus

    return store.conn.info.transaction_status == TransactionStatus.IDLE


def reopened(store):
    return open_corpus(str(store.path) if store.path is not None else store.dsn)


def test_an_inner_block_that_fails_undoes_only_itself(store):
    with store.transaction():
        store.execute("insert into runs (status) values ('outer')")
        with pytest.raises(RuntimeError, match="inner"):
            with store.transaction():
                store.execute("insert into runs (status) values ('inner')")
                raise RuntimeError("inner")
        store.execute("insert into runs (status) values ('after')")
    assert runs(store) == ["outer", "after"] and idle(store)


def test_an_error_undoes_the_whole_block_and_is_raised_as_it_was(store):
    store.add_document(make_document("official", OFFICIAL_TEXT))
    error = RuntimeError("boom")
    with pytest.raises(RuntimeError) as raised:
        with store.transaction():
            store.execute("insert into runs (status) values ('x')")
            with store.transaction():
                store.execute("insert into runs (status) values ('y')")
            raise error
    assert raised.value is error and not getattr(error, "__notes__", None)
    assert runs(store) == [] and store.document_count() == 1 and idle(store)
    with store.transaction():
        store.execute("insert into runs (status) values ('next')")
    assert runs(reopened(store)) == ["next"]


def test_a_failing_commit_is_rolled_back_and_the_next_write_commits(store):
    # A deferred foreign key is checked at COMMIT, on both engines: the COMMIT fails.
    with store.transaction():
        store.execute("create table parent_child (id integer primary key, "
                      "parent integer references parent_child (id) deferrable initially deferred)")
    kept = store.add_document(make_document("official", OFFICIAL_TEXT)).document_id
    with pytest.raises(WriteRefused) as refused:
        with store.transaction():
            store.execute("insert into runs (status) values ('lost')")
            store.execute("insert into parent_child (id, parent) values (1, 99)")
    assert "foreign key" in str(refused.value).lower() and refused.value.__cause__ is not None
    # Rolled back, not left open: before the fix every later transaction nested inside it.
    assert idle(store) and runs(store) == []
    report = store.add_document(make_document("report", REPORT_TEXT)).document_id
    with store.transaction():
        store.execute("insert into runs (status) values ('next')")
    again = reopened(store)
    assert again.document(kept) and again.document(report) and runs(again) == ["next"]
    assert again.execute("select count(*) from parent_child").fetchone()[0] == 0


def test_a_full_database_keeps_what_was_stored_and_takes_writes_once_there_is_room(tmp_path):
    from verify.store.corpus import Corpus

    store = Corpus(tmp_path / "corpus.db")
    kept = store.add_document(make_document("official", OFFICIAL_TEXT)).document_id
    pages = store.execute("pragma page_count").fetchone()[0]
    store.execute(f"pragma max_page_count = {pages + 2}")
    big = make_document("official", " ".join([OFFICIAL_TEXT_2] * 400))
    with pytest.raises(WriteRefused, match="full") as refused:
        store.add_document(big)
    assert refused.value.__cause__ is not None and not getattr(refused.value, "__notes__", None)
    assert idle(store) and store.document_count() == 1
    store.execute("pragma max_page_count = 1073741823")
    assert store.add_document(big).created
    again = Corpus(tmp_path / "corpus.db")
    assert again.document(kept) and again.document_count() == 2


def test_a_failing_commit_at_any_depth_leaves_no_savepoint_behind(store):
    with store.transaction():
        store.execute("create table deferred_ref (id integer primary key, "
                      "parent integer references deferred_ref (id) deferrable initially deferred)")
    with pytest.raises(WriteRefused):
        with store.transaction():
            with store.transaction():
                store.execute("insert into deferred_ref (id, parent) values (1, 99)")
            store.execute("insert into runs (status) values ('lost')")
    assert idle(store)
    for status in ("a", "b"):
        with store.transaction():
            store.execute("insert into runs (status) values (?)", [status])
    assert runs(reopened(store)) == ["a", "b"]


@pytest.mark.postgres
def test_a_server_that_goes_away_mid_transaction_loses_only_that_transaction(pg_dsn, pg_server):
    store = open_corpus(pg_dsn)
    kept = store.add_document(make_document("official", OFFICIAL_TEXT)).document_id
    with pytest.raises(ConnectionLost) as lost:
        with store.transaction():
            store.execute("insert into runs (status) values ('lost')")
            pg_server.admin(f"select pg_terminate_backend({store.conn.info.backend_pid})")
            store.execute("insert into runs (status) values ('lost too')")
    assert lost.value.__cause__ is not None and "connection lost" in str(lost.value)
    # The next command connects again and commits.
    with store.transaction():
        store.execute("insert into runs (status) values ('next')")
    again = open_corpus(pg_dsn)
    assert again.document(kept) and runs(again) == ["next"]


@pytest.mark.postgres
def test_a_server_that_goes_away_at_commit_is_a_lost_connection_not_a_success(pg_dsn, pg_server):
    store = open_corpus(pg_dsn)
    with pytest.raises(CorpusError):
        with store.transaction():
            store.execute("insert into runs (status) values ('lost')")
            pg_server.admin(f"select pg_terminate_backend({store.conn.info.backend_pid})")
    with store.transaction():
        store.execute("insert into runs (status) values ('next')")
    assert runs(open_corpus(pg_dsn)) == ["next"]


def test_add_document_retries_a_conflict_in_its_own_savepoint_on_both_stores(store):
    """A conflicting add undoes only itself inside a caller's transaction (PgCorpus retries it)."""
    with store.transaction():
        store.execute("insert into runs (status) values ('outer')")
        first = store.add_document(make_document("official", OFFICIAL_TEXT))
        again = store.add_document(make_document("official", OFFICIAL_TEXT))
    assert first.created and not again.created and again.document_id == first.document_id
    assert runs(store) == ["outer"] and idle(store)
