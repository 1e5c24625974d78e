"""Calibrations: fitted thresholds and score steps, kept per NLI model with their record
(``verify calibrate``); a check uses the newest for its model."""
from __future__ import annotations

import json

from verify.store.engine import Engine


class Calibrations(Engine):
    def store_calibration(self, record: dict) -> int:
        with self.transaction():
            return self._insert("calibrations", {
                "fitted_at": record["provenance"]["fitted_at"], "nli_model": record["provenance"]["nli_model"],
                "record": json.dumps(record)})

    def latest_calibration(self, nli_model_id: str | None) -> tuple[int, dict] | None:
        """The newest stored calibration for this NLI model: (id, record)."""
        if not self._has_table("calibrations"):
            return None
        row = self.execute("select id, record from calibrations where coalesce(nli_model, '') = coalesce(?, '') "
                           "order by id desc limit 1", [nli_model_id]).fetchone()
        return (row[0], json.loads(row[1])) if row else None
