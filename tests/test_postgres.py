"""The store on both backends: corpus.db (SQLite + FAISS) and PostgreSQL (+ pgvector).

``store`` (conftest) runs each test against both; the PostgreSQL ones use a throw-away
cluster (tests/pgserver.py) and skip only where the server binaries are absent.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from verify.errors import CorpusError
from verify.store import open_corpus
from verify.store.corpus import MIGRATIONS, SCHEMA_VERSION

import crashkit as ck
from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPO, REPORT_TEXT, make_document

WORKER = REPO / "tests" / "worker.py"


def _populate(c) -> int:
    c.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken", published="2022-01-26",
                                 title="Remarks to the press"))
    c.add_document(make_document("official", OFFICIAL_TEXT_2, speaker="Jens Stoltenberg", published="2022-01-27",
                                 title="NATO press conference"))
    return c.add_document(make_document("report", REPORT_TEXT, published="2022-02-02")).document_id


def _checker(c, **kw):
    from verify.pipeline.check import Checker

    from fakes import FakeEmbedder, FakeNLI

    return Checker(c, embedder=FakeEmbedder(), nli=FakeNLI(), k=3, **kw)


def _json(run) -> str:
    """A run's JSON as `verify check --json` prints it, less the clock."""
    from verify.outputs.render import render_run

    out = json.loads(render_run(run, "json"))
    out["run"].pop("time", None)
    return json.dumps(out, indent=2, ensure_ascii=False)


# --- the store's behaviour, on both backends ----------------------------------------------------

def test_migrations_are_the_same_numbered_list_and_apply_once(store):
    assert store.schema_version() == SCHEMA_VERSION
    rows = list(store.execute("select id, name from _migrations order by id"))
    assert [tuple(r) for r in rows] == [(n, name) for n, (name, _) in enumerate(MIGRATIONS, 1)]
    assert store.migrate() == []


def test_same_tables_and_columns_in_the_same_order(tmp_path, pg_dsn):
    lite, pg = open_corpus(str(tmp_path / "c.db")), open_corpus(pg_dsn)
    for table in ("documents", "sentences", "embeddings", "nli_scores", "claims", "runs", "verdicts", "evidence",
                  "calibrations", "reviews", "speakers", "settings", "document_edits", "stale_claims",
                  "latest_verdicts", "claim_verdicts", "official_sentences"):
        cols = [[c[0] for c in db.execute(f'select * from "{table}" limit 0').description] for db in (lite, pg)]
        assert cols[0] == cols[1], table


def test_a_document_is_stored_once_with_its_sentences(store):
    doc = make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken", published="2022-01-26")
    first = store.add_document(doc)
    again = store.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken"))
    assert first.created and not again.created and again.document_id == first.document_id
    assert store.count("documents") == 1 and store.count("sentences") == first.sentences == 4
    row = next(store.sentences(containing="reciprocal limits"))
    assert OFFICIAL_TEXT[row["start"]:row["end"]] == row["text"]
    assert row["speaker"] == "Antony Blinken" and row["kind"] == "official"


def test_a_failed_transaction_leaves_nothing(store):
    _populate(store)
    before = store.count("sentences")
    doc = make_document("official", "The council met again in Brussels on Friday. It agreed nothing.")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_document(doc)
            raise RuntimeError("the ingest failed half-way")
    assert store.count("sentences") == before
    assert store.find_document(doc.sha256) is None
    assert store.add_document(doc).created  # and the store still takes it afterwards


def test_reviews_and_document_edits_are_append_only_in_the_database(store):
    report = _populate(store)
    claim = store.claim_for_sentence(next(store.sentences(document_id=report)))
    store.add_review(claim, "consistent", "checked with the spokesman", "ana")
    store.edit_document(1, {"title": "Remarks"}, "ana")
    for sql in ("update reviews set label = 'novel'", "delete from reviews",
                "update document_edits set new = 'x'", "delete from document_edits"):
        with pytest.raises(Exception, match="append-only"):
            with store.transaction():
                store.execute(sql)
    assert store.latest_review(claim)["label"] == "consistent"
    assert [e["new"] for e in store.document_history(1)] == ["Remarks"]


def test_runs_record_who_ran_them_and_a_failed_run_is_never_latest(store):
    report = _populate(store)
    claim = store.claim_for_sentence(next(store.sentences(document_id=report)))

    class Verdict:
        label, score, reason, conflicting, needs_review = "consistent", 0.9, "entailed", False, None
        flags, quotes, cutoffs, clauses, decisive = [], [], {}, [], None

    with store.new_run({"command": "verify check"}) as ok_run:
        store.store_verdict(ok_run, claim, Verdict, [])
    with pytest.raises(KeyboardInterrupt), store.new_run({"command": "verify check"}) as failed:
        Verdict.label = "contradictory"
        store.store_verdict(failed, claim, Verdict, [])
        raise KeyboardInterrupt
    assert store.run(ok_run)["by"] == "ana" and store.run(ok_run)["status"] == "ok"
    assert store.run(failed)["status"] == "failed"
    latest = store.latest_verdict(claim)
    assert latest["run_id"] == ok_run and latest["label"] == "consistent"


def test_lexical_search_ranks_the_matching_sentence_first_within_scope(store):
    from verify.pipeline.retrieve import Scope, fts_query

    _populate(store)
    query = fts_query("reopen the office in Moscow")
    hits = store.lexical_search(query, Scope(), 5)
    best = store.sentences_by_id([hits[0][0]])[hits[0][0]]
    assert "office in Moscow" in best["text"]
    assert all(score <= 0 for _, score in hits)  # FTS5's sign: lower is better, on both
    assert [h[1] for h in hits] == sorted(h[1] for h in hits)
    by_blinken = store.lexical_search(query, Scope(speaker="blinken"), 5)
    assert all(store.sentences_by_id([i])[i]["speaker"] == "Antony Blinken" for i, _ in by_blinken)
    assert hits[0][0] not in [i for i, _ in by_blinken]
    assert store.lexical_search(query, Scope(as_of="2022-01-26"), 5) == []  # Stoltenberg spoke on the 27th
    # a quote: every word must appear
    rows = store.quote_candidates('"reopen" AND "office" AND "moscow"', Scope(), 5)
    assert [r[0] for r in rows] == [hits[0][0]]


def test_dense_search_finds_each_sentence_itself_and_respects_a_scope(store):
    import numpy as np

    from verify.pipeline.index import open_index

    from fakes import FakeEmbedder

    _populate(store)
    index = open_index(store, FakeEmbedder())
    status = index.ensure()
    assert status.count == len(index) == store.official_sentence_count() == 6
    again = open_index(store, FakeEmbedder()).ensure()
    assert again.added == 0  # nothing embedded twice
    rows = store.official_sentences_after(0)
    vecs = FakeEmbedder().encode([t for _, t in rows])
    for (sid, _), hits in zip(rows, index.search(vecs, 3)):
        assert hits[0][0] == sid and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    allowed = np.array([rows[0][0], rows[1][0]])
    for hits in index.search(vecs, 3, ids=allowed):
        assert {h[0] for h in hits} <= set(allowed.tolist())


def test_a_removed_document_leaves_every_search(store):
    from verify.pipeline.index import open_index
    from verify.pipeline.retrieve import Scope, fts_query

    from fakes import FakeEmbedder

    _populate(store)
    open_index(store, FakeEmbedder()).ensure()
    store.remove_document(2, "ana")
    found = store.lexical_search(fts_query("NATO offered to reopen its office in Moscow"), Scope(), 5)
    assert all(store.sentences_by_id([i])[i]["document_id"] == 1 for i, _ in found)
    index = open_index(store, FakeEmbedder())
    index.ensure()
    vec = FakeEmbedder().encode(["NATO offered to reopen its office in Moscow"])
    assert all(store.sentences_by_id([sid])[sid]["document_id"] == 1 for sid, _ in index.search(vec, 5)[0])


def test_caches_ignore_what_they_already_hold(store):
    store.store_vectors("m", [("h1", b"\x00\x01"), ("h2", b"\x02")])
    store.store_vectors("m", [("h1", b"\xff"), ("h3", b"\x03")])
    assert store.cached_vectors(["h1", "h2", "h3", "h4"], "m") == {"h1": b"\x00\x01", "h2": b"\x02", "h3": b"\x03"}
    store.store_nli("n", [("p", "h", 0.7, 0.2, 0.1, 0)])
    store.store_nli("n", [("p", "h", 0.1, 0.1, 0.8, 1)])
    assert store.cached_nli("n", [("p", "h"), ("p", "x")]) == {("p", "h"): (0.7, 0.2, 0.1, 0)}


def test_the_recheck_lock_is_held_by_one_corpus_at_a_time(store):
    other = open_corpus(store.dsn if hasattr(store, "dsn") else store.path)
    with store.exclusive("recheck"):
        with pytest.raises(CorpusError, match="another recheck holds"):
            with other.exclusive("recheck", wait=0.3):
                pass
    with other.exclusive("recheck"):  # released
        pass
    other.close()


# --- PostgreSQL only -------------------------------------------------------------------------------

@pytest.mark.parametrize("retrieval", ["hybrid", "dense", "lexical"])
def test_check_gives_the_same_json_on_both_stores(tmp_path, pg_dsn, retrieval):
    """The same corpus, ingested the same way, checked with the same models: the same verdicts,
    evidence, numbers and cutoffs, byte for byte."""
    outputs = []
    for target in (str(tmp_path / "c.db"), pg_dsn):
        c = open_corpus(target)
        report = _populate(c)
        outputs.append(_json(_checker(c, retrieval=retrieval).check_documents([report])))
        c.close()
    assert outputs[0] == outputs[1]
    assert '"label": "contradictory"' in outputs[0] or '"label": "consistent"' in outputs[0]


def test_bm25_is_fts5s_to_the_last_bit(tmp_path, pg_dsn):
    """PostgreSQL ranks lexical candidates with FTS5's own tokens, statistics and arithmetic:
    the same ids, in the same order, with bit-identical scores, whatever the query."""
    import random

    from verify.pipeline.retrieve import Scope, fts_query

    from worker import sentence

    rng = random.Random(5)
    extra = ["Washington didn't rule out long-range talks", "The U.S. won't halt NATO's open-door policy",
             "Moscow's 3.5-billion rouble offer isn't new", "Non-proliferation talks resumed in Geneva"]
    texts = [sentence(rng) for _ in range(400)] + [rng.choice(extra) + f", round {i}." for i in range(40)]
    stores = [open_corpus(str(tmp_path / "c.db")), open_corpus(pg_dsn)]
    for c in stores:
        for i in range(0, len(texts), 20):
            c.add_document(make_document("official", "\n".join(texts[i:i + 20]), source=f"test:{i}"))
    queries = [sentence(rng) for _ in range(60)] + extra + ["Geneva", "NATO's door"]
    compared = 0
    for q in queries:
        match = fts_query(q)
        results = [c.lexical_search(match, Scope(), 15) for c in stores]
        assert results[0] == results[1], q
        compared += len(results[0])
        after = [c.lexical_search(match, Scope(), 5, after=200, upto=400) for c in stores]
        assert after[0] == after[1] and all(200 < i <= 400 for i, _ in after[0])
    assert compared > 500
    quote = '"halt" AND "nato" AND "open" AND "door"'
    assert stores[0].quote_candidates(quote, Scope(), 5) == stores[1].quote_candidates(quote, Scope(), 5) != []


def test_copy_moves_a_corpus_into_postgres_and_back_verified(tmp_path, pg_dsn):
    from verify.store.copy import TABLES, copy_corpus

    lite = open_corpus(str(tmp_path / "c.db"))
    report = _populate(lite)
    _checker(lite).check_documents([report])
    claim = lite.claim_ids(report)[0]
    lite.add_review(claim, "consistent", "confirmed", "ana")
    pg = open_corpus(pg_dsn)
    result = copy_corpus(lite, pg)
    assert result.ok, result.to_dict()
    assert {t.table for t in result.tables} == set(TABLES)
    assert pg.latest_review(claim)["note"] == "confirmed"
    # new rows continue after the copied ids
    new = pg.add_document(make_document("official", "The council met again in Brussels on Friday.")).document_id
    assert new == lite.count("documents") + 1
    with pytest.raises(CorpusError, match="not empty"):
        copy_corpus(lite, pg)
    back = open_corpus(str(tmp_path / "back.db"))
    assert copy_corpus(pg, back).ok
    # a copy that differs is caught
    from verify.store.copy import table_digest

    pg.execute("update sentences set speaker = 'someone else' where id = 1")
    assert table_digest(pg, "sentences") != table_digest(lite, "sentences")
    assert table_digest(pg, "documents")[0] == table_digest(lite, "documents")[0] + 1


@pytest.mark.subprocess
def test_copy_command_reports_and_verifies(tmp_path, pg_dsn):
    db = tmp_path / "c.db"
    lite = open_corpus(str(db))
    _populate(lite)
    lite.close()
    out = subprocess.run([sys.executable, str(WORKER), str(db), "cli", "copy", str(db), pg_dsn, "--json", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    rows = {t["table"]: t["rows"] for t in report["tables"]}
    assert report["ok"] and rows["sentences"] == 10 and rows["documents"] == 3
    again = subprocess.run([sys.executable, str(WORKER), str(db), "cli", "copy", str(db), pg_dsn, "-q"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "not empty" in again.stderr


def _worker(dsn: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), dsn, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


@pytest.mark.subprocess
def test_two_checks_and_an_ingest_at_once(tmp_path, pg_dsn):
    from worker import write_official_dir, write_report

    official, more = tmp_path / "official", tmp_path / "more"
    write_official_dir(official, 6, 20, seed=1)
    write_official_dir(more, 6, 20, seed=2)
    c = open_corpus(pg_dsn)
    assert subprocess.run([sys.executable, str(WORKER), pg_dsn, "ingest", "official", str(official)],
                          capture_output=True, timeout=120).returncode == 0
    reports = [write_report(tmp_path / f"r{i}.txt", 15, seed=10 + i) for i in range(2)]
    slow = {"FAKE_SLOW_MS": "5"}
    procs = [_worker(pg_dsn, "check", str(r), env=slow) for r in reports]
    procs.append(_worker(pg_dsn, "ingest", "official", str(more), env=slow))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[2]["added"] == 6
    runs = [r["run_id"] for r in results[:2]]
    assert len(set(runs)) == 2
    assert all(c.run(r)["status"] == "ok" for r in runs)
    per_run = [c.execute("select count(*) from verdicts where run_id = ?", [r]).fetchone()[0] for r in runs]
    assert [r["claims"] for r in results[:2]] == per_run
    assert c.document_count("official") == 12


def test_same_report_checked_twice_at_once_shares_its_claims(pg_dsn):
    import threading

    c = open_corpus(pg_dsn)
    report = _populate(c)
    ids, errors = [], []

    def check():
        try:
            mine = open_corpus(pg_dsn)
            ids.append(tuple(r.claim_id for r in _checker(mine).check_documents([report]).results))
            mine.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(ids) == 2 and ids[0] == ids[1]
    assert c.count("claims") == len(ids[0])


@pytest.mark.crash
def test_kill_9_mid_check_leaves_no_ok_run_half_written(tmp_path, pg_dsn):
    from worker import write_official_dir, write_report

    official = tmp_path / "official"
    write_official_dir(official, 4, 20, seed=3)
    assert subprocess.run([sys.executable, str(WORKER), pg_dsn, "ingest", "official", str(official)],
                          capture_output=True, timeout=120).returncode == 0
    report = write_report(tmp_path / "r.txt", 40, seed=4)
    # The worker waits after its first stored batch until told to go on (never): the kill
    # lands mid-run by construction, not by racing the rest of the run.
    p, seen = ck.held_at(pg_dsn, ["check", str(report)], "stored", env=ck.worker_env(FAKE_SLOW_MS="20"))
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    c = open_corpus(pg_dsn)
    runs = list(c.execute("select id, status from runs"))
    assert [status for _, status in runs] == ["running"], (runs, seen)
    stored = int(seen[-1].split()[1])
    assert c.execute("select count(*) from verdicts").fetchone()[0] == stored  # that batch, and no more
    assert c.count("latest_verdicts") == 0  # nothing from the killed run counts
    with c.exclusive("recheck", wait=5):  # its locks died with it
        pass


def test_a_lost_connection_is_one_line_and_exit_2(pg_dsn, pg_server, capsys, monkeypatch):
    import verify.cli
    import verify.cli.documents as documents

    c = open_corpus(pg_dsn)
    _populate(c)
    pid = c.conn.info.backend_pid
    pg_server.admin(f"select pg_terminate_backend({pid})")
    monkeypatch.setattr(documents, "_corpus", lambda db, by=None: c)
    monkeypatch.setattr(sys, "argv", ["verify", "documents"])
    with pytest.raises(SystemExit) as exit_:
        verify.cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: database connection lost") and err.count("\n") == 1


@pytest.mark.subprocess
def test_an_unreachable_server_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "verify", "documents", "--db",
                          f"postgresql://nobody:secret@/verify?host={tmp_path}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith("error: postgresql://nobody:***@") and "secret" not in out.stderr


@pytest.mark.slow
def test_the_demo_gives_the_same_json_on_both_stores_with_the_real_models(tmp_path, pg_dsn):
    """What a desk runs: the bundled statements ingested and the bundled leak report checked
    from the command line, once into corpus.db and once into PostgreSQL."""
    demo = REPO / "verify" / "demo_data"
    outputs = []
    for target in (str(tmp_path / "corpus.db"), pg_dsn):
        env = {**os.environ, "VERIFY_DB": target, "HF_HUB_OFFLINE": "1"}
        for args in (["ingest", "official", str(demo / "official.jsonl")],
                     ["check", str(demo / "leak_report.md"), "--date", "2022-02-02", "--json", "-q"]):
            out = subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True, text=True, env=env,
                                 timeout=600)
            assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        result["run"].pop("time")
        outputs.append(json.dumps(result, indent=2, ensure_ascii=False))
    assert outputs[0] == outputs[1]
    labels = [c["verdict"]["label"] if "verdict" in c else c["label"] for c in json.loads(outputs[0])["claims"]]
    assert len(labels) >= 8 and "consistent" in labels


@pytest.mark.subprocess
def test_each_journalist_is_recorded_on_runs_and_reviews(tmp_path, pg_dsn):
    from worker import write_official_dir, write_report

    official = tmp_path / "official"
    write_official_dir(official, 2, 10, seed=6)
    report = write_report(tmp_path / "r.txt", 3, seed=7)

    def cli(*args, user=None):
        env = {**os.environ, **({"VERIFY_USER": user} if user else {})}
        out = subprocess.run([sys.executable, str(WORKER), pg_dsn, "cli", *args], capture_output=True, text=True,
                             env=env, timeout=120)
        assert out.returncode in (0, 1), out.stderr
        return out.stdout

    cli("ingest", "official", str(official), "-q")
    cli("check", str(report), "-q", "--format", "json", user="ana")
    cli("recheck", "--all", "--exhaustive", "-q", "--by", "luis", user="ana")
    cli("review", "1", "--label", "novel", "--note", "nothing public yet", user="marta")
    runs = json.loads(cli("runs", "--json"))
    assert [r["by"] for r in sorted(runs, key=lambda r: r["id"])] == ["ana", "luis"]
    c = open_corpus(pg_dsn)
    assert c.latest_review(1)["by"] == "marta"


def test_a_role_that_may_not_create_pgvector_is_told_what_to_do(pg_server):
    pg_server.admin("do $$ begin if not exists (select from pg_roles where rolname = 'reporter') then "
                    "create role reporter login; end if; end $$")
    pg_server.admin("create database t_no_vector owner reporter")
    try:
        dsn = pg_server.dsn_base.format("t_no_vector").replace("postgres@", "reporter@")
        with pytest.raises(CorpusError, match="pgvector is not set up.*create extension vector"):
            open_corpus(dsn)
        pg_server.admin("drop database t_no_vector with (force)")
        pg_server.admin("create database t_no_vector owner reporter")
        import psycopg

        with psycopg.connect(pg_server.dsn_base.format("t_no_vector"), autocommit=True) as admin:
            admin.execute("create extension vector")  # what the superuser does once
        assert open_corpus(dsn).schema_version() == SCHEMA_VERSION  # then the desk's role migrates it
    finally:
        pg_server.admin("drop database if exists t_no_vector with (force)")


def test_the_pgvector_table_is_derived_and_rebuilt_without_re_embedding(pg_dsn):
    from verify.pipeline.index import open_index

    from fakes import FakeEmbedder

    c = open_corpus(pg_dsn)
    _populate(c)
    first = open_index(c, FakeEmbedder())
    first.ensure()
    assert c.has_vector_index(first.table)  # HNSW, built after the load
    c.execute(f"drop table {first.table}")
    again = open_corpus(pg_dsn)
    embedder = FakeEmbedder()
    index = open_index(again, embedder)
    status = index.ensure()
    assert status.count == 6 and embedder.texts_encoded == 0  # from the embeddings cache
    assert again.has_vector_index(index.table)
