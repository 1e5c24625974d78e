"""Claims and their verdicts: a claim per report sentence or typed text, each run's
verdict with its evidence rows, and the claims a corrected document made stale."""
from __future__ import annotations

import json

from verify.errors import CorpusError
from verify.store.documents import REMOVED
from verify.store.engine import Engine
from verify.store.records import now
from verify.util import text_hash


class Claims(Engine):
    def claim_for_sentence(self, sentence: dict, frame: str = "", proposition: str | None = None) -> int:
        """The claim of a report sentence (a ``sentences`` row), made on first use."""
        row = self.execute("select id from claims where sentence_id = ?", [sentence["id"]]).fetchone()
        if row:
            return row[0]
        return self._insert("claims", {
            "document_id": sentence["document_id"], "sentence_id": sentence["id"], "text": sentence["text"],
            "start": sentence["start"], "end": sentence["end"], "text_hash": sentence["text_hash"],
            "frame": frame, "proposition": proposition or sentence["text"], "created_at": now()})

    def claim_for_text(self, text: str, frame: str = "", proposition: str | None = None) -> int:
        """The claim of a typed text (no report), made on first use."""
        h = text_hash(text)
        row = self.execute("select id from claims where sentence_id is null and text_hash = ?", [h]).fetchone()
        if row:
            return row[0]
        return self._insert("claims", {"text": text, "text_hash": h, "frame": frame,
                                       "proposition": proposition or text, "created_at": now()})

    def claim(self, claim_id: int) -> dict:
        row = self.row("claims", claim_id)
        if row is None:
            raise CorpusError(f"no claim with id {claim_id}")
        return row

    def claim_ids(self, document_id: int | None = None) -> list[int]:
        """Claims of one report (or all), in order."""
        where, params = ("where document_id = ?", [document_id]) if document_id is not None else ("", [])
        return [r[0] for r in self.execute(f"select id from claims {where} order by id", params)]

    def claim_count(self, document_id: int | None = None) -> int:
        """Claims of one report (or all)."""
        if document_id is None:
            return self.count("claims")
        return self.execute("select count(*) from claims where document_id = ?", [document_id]).fetchone()[0]

    def live_claim_ids(self) -> list[int]:
        """Every claim not belonging to a removed report: what `recheck --all` rechecks."""
        return [r[0] for r in self.execute(
            "select c.id from claims c left join documents d on d.id = c.document_id "
            "where d.kind is null or d.kind != ? order by c.id", [REMOVED])]

    def stale_claims(self) -> dict[int, str]:
        """Claims a corrected or removed document made stale, with why."""
        if not self._has_table("stale_claims"):
            return {}
        return dict(self.execute("select claim_id, reason from stale_claims"))

    def clear_stale(self, claim_ids) -> None:
        with self.transaction():
            for cid in claim_ids:
                self.execute("delete from stale_claims where claim_id = ?", [cid])

    # --- verdicts -----------------------------------------------------------------------------
    def store_verdict(self, run_id: int, claim_id: int, verdict, evidence_rows: list[dict]) -> int:
        """Store one verdict with its evidence rows atomically."""
        with self.transaction():
            old = self.execute("select id from verdicts where run_id = ? and claim_id = ?", [run_id, claim_id]).fetchone()
            if old:  # re-scored within the same run: the newer verdict replaces the older whole
                self.execute("delete from evidence where verdict_id = ?", [old[0]])
                self.execute("delete from verdicts where id = ?", [old[0]])
            vid = self._insert("verdicts", {
                "run_id": run_id, "claim_id": claim_id, "label": verdict.label, "score": verdict.score,
                "reason": verdict.reason, "conflicting": int(verdict.conflicting),
                "needs_review": verdict.needs_review,
                "details": json.dumps({"flags": verdict.flags, "quotes": verdict.quotes,
                                       "cutoffs": verdict.cutoffs, "clauses": verdict.clauses,
                                       "decisive": verdict.decisive,
                                       # the decision's codes and what it measured (verdict.Verdict):
                                       # optional, so that a verdict from before them stores as it did
                                       **{k: getattr(verdict, k, None) for k in
                                          ("code", "review_code", "probabilities", "trail")}})})
            self._insert_rows("evidence", ({"verdict_id": vid, **row} for row in evidence_rows))
        return vid

    def copy_verdict(self, verdict_id: int, run_id: int, cutoffs: dict | None = None) -> int:
        """Carry a verdict and its evidence unchanged into a new run.

        Args:
            cutoffs: fresh retrieval cutoffs to record with the copy (the evidence is the
                same, but a new sentence may have raised the bar of a candidate list).
        """
        cols = "claim_id, label, score, reason, conflicting, details, needs_review"
        ecols = "rank, sentence_id, similarity, p_entail, p_neutral, p_contradict, flags, relation, counted, units"
        new = self.execute(f"insert into verdicts (run_id, {cols}) select ?, {cols} from verdicts where id = ? "
                           "returning id", [run_id, verdict_id]).fetchone()[0]
        if cutoffs is not None:
            details = json.loads(self.row("verdicts", new)["details"] or "{}")
            self.execute("update verdicts set details = ? where id = ?", [json.dumps(details | {"cutoffs": cutoffs}), new])
        self.execute(f"insert into evidence (verdict_id, {ecols}) select ?, {ecols} from evidence "
                     "where verdict_id = ?", [new, verdict_id])
        return new

    def verdict_in_run(self, claim_id: int, run_id: int) -> dict | None:
        row = self.execute("select id from verdicts where claim_id = ? and run_id = ?", [claim_id, run_id]).fetchone()
        return self.row("verdicts", row[0]) if row else None

    def latest_verdict(self, claim_id: int) -> dict | None:
        """The claim's verdict in its newest successful run (the ``latest_verdicts`` view)."""
        cur = self.execute("select * from latest_verdicts where claim_id = ? order by id limit 1", [claim_id])
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None

    def latest_verdicts(self, claim_ids: list[int] | None = None) -> list[tuple]:
        """(claim id, verdict id, label, score, run manifest, details) of each claim's newest
        verdict in a successful run."""
        where = "" if claim_ids is None else f" and v.claim_id in ({','.join(str(int(c)) for c in claim_ids)})"
        return list(self.execute(
            "select v.claim_id, v.id, v.label, v.score, r.manifest, v.details from latest_verdicts v "
            f"join runs r on r.id = v.run_id where 1 = 1{where} order by v.id desc"))

    def verdict_history(self, claim_id: int) -> list[dict]:
        """A claim's verdicts in successful runs, oldest first."""
        keys = ("run_id", "at", "label", "score", "reason")
        return [dict(zip(keys, r)) for r in self.execute(
            "select v.run_id, r.started_at, v.label, v.score, v.reason from verdicts v join runs r on r.id = v.run_id "
            "where v.claim_id = ? and r.status = 'ok' order by v.run_id", [claim_id])]

    def evidence_for(self, verdict_id: int) -> list[dict]:
        cur = self.execute("select * from evidence where verdict_id = ? order by rank", [verdict_id])
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def evidence_sentence_ids(self, verdict_ids: list[int]) -> list[tuple[int, int]]:
        """(verdict id, sentence id) of these verdicts' evidence, in rank order."""
        out = []
        for start in range(0, len(verdict_ids), 500):  # one query per 500 verdicts, not one per verdict
            chunk = verdict_ids[start:start + 500]
            out += self.execute(
                f"select verdict_id, sentence_id from evidence where verdict_id in ({','.join('?' * len(chunk))}) "
                "order by verdict_id, rank", chunk).fetchall()
        return out
