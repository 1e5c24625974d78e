"""Runs: each check or recheck recorded with its manifest, from 'running' to 'ok' or
'failed', and what they found, run by run."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from verify.errors import CorpusError
from verify.settings import settings
from verify.store.engine import Engine
from verify.store.records import now


def current_user() -> str:
    """Who is working: ``$VERIFY_USER``, else the login name; recorded on runs and reviews."""
    import getpass

    try:
        return settings().user or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's numeric uid)
        return "unknown"


class Runs(Engine):
    def start_run(self, manifest: dict) -> int:
        with self.transaction():
            return self._insert("runs", {
                "started_at": now(), "status": "running", "command": manifest.get("command"),
                "code_version": manifest.get("code_version"), "embed_model": manifest.get("embed_model"),
                "nli_model": manifest.get("nli_model"), "thresholds": json.dumps(manifest.get("thresholds")),
                "corpus_fingerprint": manifest.get("corpus_fingerprint"), "manifest": json.dumps(manifest),
            } | ({"by": self.user or current_user()} if self.has_run_authors else {}))

    def finish_run(self, run_id: int, status: str = "ok") -> None:
        with self.transaction():
            self._update("runs", run_id, {"status": status, "finished_at": now()})

    @contextlib.contextmanager
    def new_run(self, manifest: dict) -> Iterator[int]:
        """A run's whole life: recorded 'running', then 'ok' when the block ends, or 'failed'
        on any exception (Ctrl-C included), so no half-written run ever reads as done."""
        run_id = self.start_run(manifest)
        try:
            yield run_id
        except BaseException:
            self.finish_run(run_id, "failed")
            raise
        self.finish_run(run_id, "ok")

    def run(self, run_id: int) -> dict:
        row = self.row("runs", run_id)
        if row is None:
            raise CorpusError(f"no run with id {run_id}")
        return row

    def run_summaries(self, limit: int) -> list[dict]:
        """The newest runs with their verdict counts by label."""
        by = 'r."by"' if self.has_run_authors else "null"
        keys = ["id", "started_at", "status", "nli_model", "corpus", "by", "claims", "consistent", "novel",
                "contradictory"]
        rows = self.execute(
            f"select r.id, r.started_at, r.status, r.nli_model, r.corpus_fingerprint, {by}, count(v.id), "
            "sum(case when v.label = 'consistent' then 1 else 0 end), sum(case when v.label = 'novel' then 1 else 0 end), "
            "sum(case when v.label = 'contradictory' then 1 else 0 end) "
            "from runs r left join verdicts v on v.run_id = r.id group by r.id order by r.id desc limit ?", [limit])
        return [dict(zip(keys, r)) for r in rows]

    def run_diff(self, run_a: int, run_b: int) -> list[tuple]:
        """(claim id, text, label and score in run a, label and score in run b) for claims in either."""
        return list(self.execute(
            "select c.id, c.text, a.label, a.score, b.label, b.score from claims c "
            "left join verdicts a on a.claim_id = c.id and a.run_id = ? left join verdicts b on b.claim_id = c.id "
            "and b.run_id = ? where a.id is not null or b.id is not null order by c.id", [run_a, run_b]))
