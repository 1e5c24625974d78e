"""Reviews: the desk's own verdicts, append-only (the database refuses an update or a
delete), each kept with the machine's verdict it answered."""
from __future__ import annotations

from verify.store.engine import Engine
from verify.store.records import now


class Reviews(Engine):
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

    def reviews(self, claim_id: int) -> list[dict]:
        return self._select("reviews", "claim_id = ?", [claim_id], order_by="id")
