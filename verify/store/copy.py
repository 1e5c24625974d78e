"""Copying a whole corpus from one store to another, and proving the copy whole.

The way a desk moves its corpus.db onto the shared PostgreSQL server (and back, for a
laptop on the road): every table row for row with its ids, in one transaction on the
target, then a check that each table has the same rows on both sides and that the
official corpus has the same fingerprint.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from verify.errors import CorpusError
from verify.store.corpus import Corpus

# Parents before children, so foreign keys hold at every insert. Derived data is not copied:
# the target indexes the sentences as it stores them (FTS), and builds its vector index from
# the copied embeddings cache at its first check.
TABLES = ("documents", "sentences", "speakers", "settings", "embeddings", "nli_scores", "claims", "runs",
          "verdicts", "evidence", "calibrations", "reviews", "document_edits", "stale_claims")
BATCH = 2000


@dataclass
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_digest: str
    target_digest: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_digest == self.target_digest


@dataclass
class CopyReport:
    tables: list[TableCopy] = field(default_factory=list)
    source_fingerprint: str = ""
    target_fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables) and self.source_fingerprint == self.target_fingerprint

    def to_dict(self) -> dict:
        return {"ok": self.ok, "fingerprint": {"source": self.source_fingerprint, "target": self.target_fingerprint},
                "tables": [{"table": t.table, "rows": t.source_rows, "copied": t.target_rows,
                            "digest": t.source_digest, "match": t.ok} for t in self.tables]}


def _value(v) -> bytes:
    if v is None:
        return b"\x00"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return b"b" + bytes(v)
    if isinstance(v, float):
        return b"f" + repr(v).encode()
    return b"s" + str(v).encode()


def table_digest(corpus: Corpus, table: str) -> tuple[int, str]:
    """(rows, digest) of a table: the digest is a sum of per-row hashes, so it does not
    depend on the order either engine returns rows in (their collations differ)."""
    total, n = 0, 0
    cur = corpus.execute(f'select * from "{table}"')
    for row in cur:
        h = hashlib.sha256(b"\x1f".join(_value(v) for v in row)).digest()
        total = (total + int.from_bytes(h, "big")) % 2**256
        n += 1
    return n, f"{total:064x}"[:16]


def copy_corpus(source: Corpus, target: Corpus, progress=None) -> CopyReport:
    """Copy every row of ``source`` into the empty ``target``, then verify the copy.

    Args:
        progress: called with the rows copied, batch by batch.

    Raises:
        CorpusError: the target already holds documents or runs, or the two stores are at
            different schema versions.
    """
    if target.count("documents") or target.count("runs"):
        raise CorpusError(f"{target.location} is not empty: copy into a new database")
    if source.schema_version() != target.schema_version():
        raise CorpusError(f"schema versions differ ({source.schema_version()} and {target.schema_version()}): "
                          "open both with this verify first")
    with target.transaction():
        for table in TABLES:
            cur = source.execute(f'select * from "{table}"')
            cols = [c[0] for c in cur.description]
            while True:
                rows = cur.fetchmany(BATCH)
                if not rows:
                    break
                target.load_rows(table, [dict(zip(cols, r)) for r in rows])
                if progress:
                    progress(len(rows))
        target.sync_ids()
    report = CopyReport(source_fingerprint=source.fingerprint(), target_fingerprint=target.fingerprint())
    for table in TABLES:
        (n, digest), (m, other) = table_digest(source, table), table_digest(target, table)
        report.tables.append(TableCopy(table, n, m, digest, other))
    return report
