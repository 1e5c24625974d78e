"""Full-text search in PostgreSQL, to the last bit FTS5's: each sentence's FTS5 porter tokens
(tokenized by an in-memory SQLite, so both stores split words alike) stored with their
positions, and FTS5's BM25 computed over them, so both stores pick the same candidates."""
from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections import Counter

from verify.store.engine import Engine
from verify.store.postgres.connection import pg_sql
from verify.store.sentences import scope_where


class PgSearch(Engine):
    # corpus.db ranks lexical candidates by FTS5's bm25(); so does this store, over the same
    # tokens (Fts5Terms), with the same statistics and the same arithmetic in the same order,
    # so both stores pick the same candidates and report the same cutoffs.
    def _index_sentences(self, document_ids: list[int]) -> None:
        """Write the FTS rows of these documents' sentences that have none yet."""
        rows = self._pg(
            "select s.id, s.text from sentences s left join sentences_fts f on f.sentence_id = s.id "
            "where s.document_id = any(%s) and f.sentence_id is null order by s.id", [document_ids]).fetchall()
        if not rows:
            return
        terms = _FTS5.terms([t or "" for _, t in rows])
        with self.driver_errors(), self.conn.cursor() as cur:
            with cur.copy("copy sentences_fts (sentence_id, tsv, ntokens) from stdin") as copy:
                for (sid, _), toks in zip(rows, terms):
                    copy.write_row((sid, _tsvector(toks), len(toks)))
            with cur.copy("copy fts_terms (term, sentence_id, tf, ntokens) from stdin") as copy:
                for (sid, _), toks in zip(rows, terms):
                    for term, tf in Counter(toks).items():
                        copy.write_row((term, sid, tf, len(toks)))
            cur.execute("insert into fts_totals (rows, tokens) values (%s, %s)", [len(rows), sum(map(len, terms))])

    def _phrases(self, match: str) -> list[list[str]]:
        """The phrases of an FTS5 query of quoted words (``retrieve.fts_query``), tokenized as
        FTS5 tokenizes them."""
        return [p for p in _FTS5.terms(re.findall(r'"([^"]*)"', match)) if p]

    def _bm25_weights(self, phrases: list[list[str]]) -> tuple[list[float], float]:
        """FTS5's IDF of each phrase and the mean row length, over every row (fts5_aux.c)."""
        n_row, n_token = self._pg(
            "select coalesce(sum(rows), 0)::bigint, coalesce(sum(tokens), 0)::bigint from fts_totals").fetchone()
        idf = []
        for p in phrases:
            if len(p) == 1:
                n_hit = self._pg("select count(*) from fts_terms where term = %s", p).fetchone()[0]
            else:
                n_hit = self._pg("select count(*) from sentences_fts where tsv @@ %s::tsquery",
                                          [_phrase_query(p)]).fetchone()[0]
            value = math.log((n_row - n_hit + 0.5) / (n_hit + 0.5))
            idf.append(value if value > 0.0 else 1e-6)
        return idf, (n_token / n_row if n_row else 1.0)

    def _bm25_search(self, match: str, scope, k: int, bounds: tuple[int, int | None] = (0, None),
                     columns: str = "s.id") -> list[tuple]:
        """Official sentences in ``scope`` matching ``match`` (every phrase with AND, any with OR),
        best BM25 first, with ids in (bounds[0], bounds[1]]: ``columns`` and the score."""
        phrases = self._phrases(match)
        if not phrases:
            return []
        idf, avgdl = self._bm25_weights(phrases)
        where, params = scope_where(scope)
        after, upto = bounds[0], bounds[1] if bounds[1] is not None else 2**62
        need = len(phrases) if " AND " in match else 1
        # score = -(sum over the phrases, in query order, of idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))),
        # with FTS5's k1 = 1.2 and b = 0.75, in its order of operations: the same doubles.
        rows = self._pg(
            "with q as (select i, p, t, idf from unnest(%s::text[], %s::text[], %s::float8[]) "
            "           with ordinality as x(p, t, idf, i)), "
            "freq as (select ft.sentence_id, ft.ntokens, q.i, q.idf, ft.tf::float8 as f "
            "         from q join fts_terms ft on ft.term = q.p and ft.sentence_id > %s and ft.sentence_id <= %s "
            "         where q.t is null "
            "         union all "
            "         select f.sentence_id, f.ntokens, q.i, q.idf, fts_phrase_freq(f.tsv, q.p) "
            "         from q join sentences_fts f on f.tsv @@ q.t::tsquery "
            "         where q.t is not null and f.sentence_id > %s and f.sentence_id <= %s), "
            "scored as (select sentence_id, -1.0::float8 * sum(idf * ((f * (1.2::float8 + 1.0::float8)) / "
            "(f + 1.2::float8 * (1 - 0.75::float8 + 0.75::float8 * ntokens::float8 / %s::float8))) order by i) "
            "as score from freq where f > 0 group by sentence_id having count(*) >= %s) "
            f"select {columns}, sc.score from scored sc join sentences s on s.id = sc.sentence_id "
            f"join documents d on d.id = s.document_id where {pg_sql(where)} order by sc.score, s.id limit %s",
            [[" ".join(p) for p in phrases], [_phrase_query(p) if len(p) > 1 else None for p in phrases], idf,
             after, upto, after, upto, avgdl, need, *params, k]).fetchall()
        return rows

    def lexical_search(self, match: str, scope, k: int, after: int = 0,
                       upto: int | None = None) -> list[tuple[int, float]]:
        """BM25 search of the official sentences in ``scope`` (``Corpus.lexical_search``): (id, bm25)
        best first, FTS5's numbers and sign (lower is better), ids in (after, upto]."""
        return [(r[0], r[1]) for r in self._bm25_search(match, scope, k, (after, upto))]

    def quote_candidates(self, match: str, scope, limit: int) -> list[tuple]:
        rows = self._bm25_search(match, scope, limit, columns='s.id, s.text, s.document_id, s.speaker, d.published, '
                                 'd.title, d.url, s.start, s."end"')
        return [tuple(r[:-1]) for r in rows]


class _Fts5Terms:
    """FTS5's own tokenizer (``porter`` over ``unicode61``, as corpus.db's sentences_fts uses),
    run by an in-memory SQLite: the tokens of each text, in order."""

    def __init__(self):
        # Made on first use (most processes never search PostgreSQL), under the lock that
        # every use takes: two threads' first searches make one connection, not two.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def terms(self, texts: list[str]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in texts]
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(":memory:", check_same_thread=False)
                self._conn.execute("create virtual table t using fts5(text, tokenize='porter')")
                self._conn.execute("create virtual table v using fts5vocab(t, 'instance')")
            self._conn.executemany("insert into t (rowid, text) values (?, ?)", list(enumerate(texts, 1)))
            for doc, term in self._conn.execute("select doc, term from v order by doc, offset"):
                out[doc - 1].append(term)
            self._conn.execute("delete from t")
        return out


_FTS5 = _Fts5Terms()


def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _phrase_query(tokens: list[str]) -> str:
    """A phrase of several tokens as a tsquery: each followed by the next."""
    return " <-> ".join(_quote(t) for t in tokens)


def _tsvector(tokens: list[str]) -> str:
    """Tokens as a tsvector with their 1-based positions (FTS5 offsets + 1)."""
    positions: dict[str, list[int]] = {}
    for i, t in enumerate(tokens, 1):
        positions.setdefault(t, []).append(min(i, 16383))
    return " ".join(f"{_quote(t)}:{','.join(map(str, p))}" for t, p in positions.items())
