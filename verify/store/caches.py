"""The model caches: sentence vectors by text hash and NLI scores by (premise, hypothesis)
hash, per model. Written once, never changed: the first write of a key wins."""
from __future__ import annotations

from collections.abc import Iterable

from verify.store.engine import Engine


class Caches(Engine):
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
