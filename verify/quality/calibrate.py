"""Fitting the decision thresholds and making scores mean what they say.

``verify calibrate LABELLED.jsonl...`` checks labelled claims once (retrieval and NLI are
the slow part), then re-decides them cheaply under threshold settings from a small grid
(coordinate ascent: one threshold at a time) and keeps the one with the best macro-F1 among
those whose contradiction precision is at least the defaults'. It then maps each label's raw score to
the observed share of correct verdicts at that score (isotonic regression), so a score
of 0.8 means "right about 80% of the time on data like this". The fit, with its
provenance (files, their hashes, sizes, metrics before and after), is stored in
corpus.db and used by later runs; the same JSON can be shipped as the package default.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from verify.pipeline.thresholds import SHIPPED, load_thresholds, thresholds_from  # noqa: F401  (re-exported)
from verify.pipeline.verdict import LABELS, Thresholds, apply_steps, decide
from verify.quality.evaluate import expected_calibration_error, metrics, review_split

# What a calibration may tune. Not in it, by design: the entailment floor (verdict.ENTAIL_FLOOR)
# and forced number/date/name mismatches, which no fit may switch off; and the same-subject
# bar only between 0.25 and 0.5, so a contradiction always needs some shared subject.
GRID = {
    "entail": [0.5, 0.6, 0.7, 0.8, 0.9],
    "contradict": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
    "related": [0.3, 0.35, 0.4, 0.5],  # not below check.CLAUSE_MIN_SIMILARITY
    "contradict_top": [1, 2, 3, 50],  # 50: every related sentence may contradict
    "subject_overlap": [0.25, 0.35, 0.5],
}
PASSES = 3


def isotonic(x, y) -> list[tuple[float, float]]:
    """Pool-adjacent-violators fit of y on x: returns (upper x, value) steps, non-decreasing."""
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    blocks = [[ys[i], 1.0, xs[i]] for i in range(len(xs))]  # [mean, weight, max x]
    merged: list[list[float]] = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][0] > merged[-1][0]:
            m2, w2, x2 = merged.pop()
            m1, w1, _ = merged.pop()
            merged.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, x2])
    return [(round(float(xm), 4), round(float(m), 4)) for m, _, xm in merged]


def fit(scored: list[tuple[str, object, list]], nli: bool, base: Thresholds | None = None,
        groups: list[str] | None = None) -> dict:
    """Grid-search thresholds for macro-F1, then fit per-label score calibration.

    Args:
        scored: (gold label, first-pass Verdict, evidence list) per claim.
        groups: the file each claim came from; the record then also has each file's
            metrics under the fitted thresholds (in-sample figures, like the pooled ones).
    """
    base = base or Thresholds()
    gold = [g for g, _, _ in scored]

    def run(t: Thresholds):
        return [decide(evs, t, nli=nli, quotes=v.quotes, clauses=v.clauses) for _, v, evs in scored]

    # A false contradiction is the costliest error a desk can publish, so the fit may not buy
    # macro-F1 with it: settings whose contradiction precision falls below the defaults' are out.
    before = run(base)
    floor = metrics(gold, [v.label for v in before])["per_label"]["contradictory"]["precision"]

    def objective(labels) -> float:
        m = metrics(gold, labels)
        return m["macro_f1"] if m["per_label"]["contradictory"]["precision"] >= floor - 1e-9 else -1.0

    best = (objective([v.label for v in before]), base)
    grid = GRID if nli else {"sim_consistent": [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]}
    # Coordinate ascent over the grid: one threshold at a time, all its values, until a pass
    # changes nothing (at most PASSES). The full product would re-decide every claim
    # ~1,400 times; this takes ~60 and in practice finds the same optimum.
    for _ in range(PASSES):
        improved = False
        for key, values in grid.items():
            for value in values:
                t = replace(best[1], **{key: value})
                f1 = objective([v.label for v in run(t)])
                if f1 > best[0] + 1e-9:
                    best, improved = (f1, t), True
        if not improved:
            break
    chosen = best[1]
    after = run(chosen)
    steps = {}
    for lab in LABELS:
        pts = [(v.score, float(g == v.label)) for g, v in zip(gold, after) if v.label == lab]
        steps[lab] = isotonic([p[0] for p in pts], [p[1] for p in pts]) if len(pts) >= 10 else []
    calibrated = [apply_steps(steps[v.label], v.score) if steps[v.label] else v.score for v in after]
    correct = [g == v.label for g, v in zip(gold, after)]
    per_file = {}
    for name in dict.fromkeys(groups or []):
        idx = [i for i, g in enumerate(groups) if g == name]
        m = metrics([gold[i] for i in idx], [after[i].label for i in idx])
        per_file[name] = m | {
            "ece": expected_calibration_error([calibrated[i] for i in idx], [correct[i] for i in idx]),
            "needs_review": sum(bool(after[i].needs_review) for i in idx), "n": len(idx),
            **review_split([gold[i] for i in idx], [after[i] for i in idx]),
            "score_deciles": [round(float(q), 3) for q in np.quantile([calibrated[i] for i in idx],
                                                                       [0.1, 0.25, 0.5, 0.75, 0.9])]}
    return {
        "thresholds": {k: getattr(chosen, k) for k in (*GRID, "sim_consistent", "mismatch_sim", "quote",
                                                       "review_margin", "forced_mismatch",
                                                       "shared_negation")},
        "contradiction_precision_floor": floor,
        "score_steps": steps,
        "metrics": {
            "before": metrics(gold, [v.label for v in before]) | {
                "ece": expected_calibration_error([v.score for v in before], [g == v.label for g, v in zip(gold, before)])},
            "after": metrics(gold, [v.label for v in after]) | {
                "ece_raw": expected_calibration_error([v.score for v in after], correct),
                "ece": expected_calibration_error(calibrated, correct)},
        },
        "n": len(gold),
        "per_file": per_file,
    }


def calibrate(paths: list[str], *, nli="auto", embedder=None, k: int = 5, limit: int | None = None,
              progress=None) -> dict:
    """Fit thresholds and score calibration on labelled claim files; return the record."""
    from verify.quality.evaluate import score_file

    scored, manifest, files, groups = [], None, [], []
    for path in paths:
        f = score_file(path, nli=nli, embedder=embedder, k=k, limit=limit, progress=progress,
                       thresholds=Thresholds())
        scored += [(c["label"], v, evs) for c, (v, evs) in zip(f["claims"], f["results"])]
        groups += [Path(path).name] * len(f["claims"])
        manifest = f["manifest"]
        files.append({"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16],
                      "claims": len(f["claims"]), "skipped": f["skipped"]})
    record = fit(scored, nli=manifest["nli_model"] is not None, groups=groups)
    record["provenance"] = {
        "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "files": files,
        "nli_model": manifest["nli_model"], "embed_model": manifest["embed_model"], "k": k,
        "method": "coordinate ascent over a threshold grid for macro-F1; per-label isotonic score calibration",
    }
    return record
