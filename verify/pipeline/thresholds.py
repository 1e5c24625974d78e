"""Which thresholds a check decides with: the newest calibration fitted in the corpus for
its NLI model, else the one shipped with verify for the shipped model, else the defaults.

Kept apart from ``calibrate`` (which fits them, and checks claims to do so) so that
checking never imports fitting.
"""
from __future__ import annotations

import json
from pathlib import Path

from verify.pipeline.verdict import Thresholds

SHIPPED = Path(__file__).resolve().parents[1] / "calibration.json"


def thresholds_from(record: dict, source: str) -> Thresholds:
    t = Thresholds(**{k: v for k, v in record["thresholds"].items() if k in Thresholds.__dataclass_fields__})
    t.source = source
    t.score_steps = record.get("score_steps") or {}
    return t


def load_thresholds(corpus=None, nli_model_id: str | None = None) -> Thresholds:
    """The newest calibration stored in the corpus for this NLI model, else the shipped one."""
    found = corpus.latest_calibration(nli_model_id) if corpus is not None else None
    if found:
        return thresholds_from(found[1], f"corpus calibration {found[0]}")
    if SHIPPED.exists():
        record = json.loads(SHIPPED.read_text())
        if record["provenance"].get("nli_model") == nli_model_id:
            return thresholds_from(record, "shipped calibration (verify/calibration.json)")
    return Thresholds()
