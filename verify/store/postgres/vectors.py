"""The dense side in PostgreSQL: a pgvector table per embedding model with an HNSW cosine
index, searched in the database, so a shared server needs no FAISS file."""
from __future__ import annotations

import re

from verify.store.engine import Engine
from verify.store.postgres.connection import LOCK_BASE
from verify.util import text_hash

# Candidates the HNSW walk keeps (pgvector's default is 40): recall against exact search
# rises with it, and so does latency (scripts/bench_store.py measures both).
EF_SEARCH = 100


class PgVectors(Engine):
    def vector_table(self, model_id: str, dim: int) -> str:
        """The pgvector table of ``model_id``'s official-sentence vectors, made on first use with
        an HNSW cosine index. Derived, like a FAISS file: ``drop table`` and the next check
        rebuilds it from the embeddings cache."""
        key = f"{model_id}\x00{dim}"
        if key not in self._vector_tables:
            slug = re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_")[:40]
            name = f"vectors_{slug}_{dim}_{text_hash(model_id)[:8]}"
            with self.transaction():
                self._pg("select pg_advisory_xact_lock(%s)", [LOCK_BASE + 1])
                self._pg(f"create table if not exists {name} (sentence_id bigint primary key "
                         f"references sentences (id), embedding vector({int(dim)}) not null)")
            self._vector_tables[key] = name
        return self._vector_tables[key]

    def has_vector_index(self, table: str) -> bool:
        return self._pg("select to_regclass(%s) is not null", [f"{table}_hnsw"]).fetchone()[0]

    def ensure_vector_index(self, table: str) -> bool:
        """Build the HNSW index of a vector table if it has none (after a bulk load: building
        over the loaded rows is several times faster than growing the graph row by row).
        Returns whether it built one."""
        if self.has_vector_index(table):
            return False
        with self.transaction():
            self._pg("set local maintenance_work_mem = '1GB'")
            self._pg(f"create index if not exists {table}_hnsw on {table} using hnsw (embedding vector_cosine_ops)")
        return True

    def vector_count(self, table: str) -> tuple[int, int]:
        """(rows, highest sentence id) of a vector table."""
        n, top = self._pg(f"select count(*), coalesce(max(sentence_id), 0) from {table}").fetchone()
        return n, top

    def store_sentence_vectors(self, table: str, ids: list[int], vectors) -> None:
        with self.transaction(), self.driver_errors(), self.conn.cursor() as cur:
            with cur.copy(f"copy {table} (sentence_id, embedding) from stdin") as copy:
                for sid, vec in zip(ids, vectors):
                    copy.write_row((int(sid), _vector_text(vec)))

    def nearest_sentences(self, table: str, vector, k: int, ids=None) -> list[tuple[int, list[float]]]:
        """The ``k`` official sentences nearest ``vector`` (cosine) by the HNSW index, nearest
        first, each with its stored vector: (sentence id, vector).

        Args:
            ids: only these sentence ids (a speaker or date scope).
        """
        if not self._search_settings:
            # A scope filters the graph walk's results: pgvector 0.8 keeps walking until k pass,
            # then the few out of order are sorted below.
            self._pg("set hnsw.iterative_scan = relaxed_order")
            self._pg(f"set hnsw.ef_search = {EF_SEARCH}")
            self._search_settings = True
        extra, params = "", [_vector_text(vector)]
        if ids is not None:
            extra, params = " and v.sentence_id = any(%s)", params + [[int(i) for i in ids]]
        return self._pg(
            f"with hits as materialized (select v.sentence_id, v.embedding, v.embedding <=> %s::vector as distance "
            f"from {table} v join sentences s on s.id = v.sentence_id join documents d on d.id = s.document_id "
            f"where d.kind = 'official'{extra} order by distance limit {int(k)}) "
            "select sentence_id, embedding::real[] from hits order by distance, sentence_id", params).fetchall()

    def sentence_vectors(self, table: str, ids) -> dict[int, list[float]]:
        return {sid: vec for sid, vec in self._pg(
            f"select sentence_id, embedding::real[] from {table} where sentence_id = any(%s)",
            [[int(i) for i in ids]])}


def _vector_text(vec) -> str:
    # repr of a float32 widened to a double is exact, so the stored float4 is the vector's own.
    return "[" + ",".join(repr(float(x)) for x in vec) + "]"
