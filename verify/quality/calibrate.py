"""Fitting the decision on labelled claims.

``verify calibrate LABELLED.jsonl...`` checks labelled claims once (retrieval and NLI are
the slow part; a file ``X_pool.jsonl`` beside ``X.jsonl`` is its pool of official
sentences), measures each (``verify.pipeline.assess``) and fits:

* with an NLI model, a small classifier over the measured features (``fit_decision``):
  scikit-learn's logistic regression, validated across files so that its figures are out
  of sample, under a contradiction-precision constraint; its probabilities are the scores;
* without one, the similarity bar from a grid, and per-label isotonic score calibration
  (``fit_grid``), so a score of 0.8 means "right about 80% of the time on data like this".

The fit, with its provenance (files, their hashes, sizes, figures before, held out and in
sample), is stored in corpus.db and used by later runs of the same NLI model; the same JSON
can be shipped as the package default (``--save-default``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, replace
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
GRID_SIMILARITY = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]  # sim_consistent, without NLI
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
    """Fit the decision on labelled claims: with NLI a classifier (``fit_decision``),
    without it the similarity bar (``fit_grid``).

    Args:
        scored: (gold label, first-pass Verdict, evidence list) per claim.
        groups: the file each claim came from: the classifier is validated across files
            (fit on the others, figures on each), and files weigh alike in the fit.
    """
    if nli:
        return fit_decision(scored, base, groups)
    return fit_grid(scored, nli, base, groups)


# The fitted decision may not call a claim contradictory below this P(contradictory),
# whatever its other probabilities; the fit raises it until contradiction precision holds.
CONTRADICT_BARS = (0.0, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def fit_decision(scored: list[tuple[str, object, list]], base: Thresholds | None = None,
                 groups: list[str] | None = None) -> dict:
    """A multinomial logistic regression over ``assess.FEATURES``, validated across files.

    Each file weighs alike, and each label within it, so a large file of one kind of prose
    does not decide for the others. Its figures are out of sample: with two or more files,
    each file's claims are decided by a fit on the other files only ("held_out"). The
    contradiction bar is a constraint, not the objective: the held-out contradiction
    precision must not fall below that of the unfitted rules on the same claims, and among
    bars that keep it the one with the best held-out macro-F1 is chosen. A fit that does not
    beat the unfitted rules held out is recorded (``rejected_fit``, with why) and not used.
    """
    from sklearn.linear_model import LogisticRegression

    from verify.pipeline.assess import FEATURES, assess
    from verify.pipeline.verdict import rules

    base = base or Thresholds()
    gold = [g for g, _, _ in scored]
    groups = groups or ["all"] * len(scored)
    names = list(dict.fromkeys(groups))
    assessed = [assess(evs, base, nli=True, quotes=v.quotes, clauses=v.clauses) for _, v, evs in scored]
    X = np.array([list(a.features().values()) for a in assessed], dtype=float)
    y = np.array(gold)
    weight = np.ones(len(gold))
    for g in names:
        in_g = np.array([x == g for x in groups])
        for lab in LABELS:
            sel = in_g & (y == lab)
            if sel.any():
                weight[sel] = 1.0 / (len(names) * len(LABELS) * sel.sum())
    weight *= len(gold) / weight.sum()

    def train(rows) -> dict:
        mean, scale = X[rows].mean(0), X[rows].std(0)
        scale[scale < 1e-6] = 1.0
        model = LogisticRegression(C=1.0, max_iter=2000)
        model.fit((X[rows] - mean) / scale, y[rows], sample_weight=weight[rows])
        labels = [str(c) for c in model.classes_]
        if set(labels) != set(LABELS):
            raise ValueError("the labelled claims must hold all three labels: "
                             f"found only {', '.join(labels)}")
        return {"features": list(FEATURES), "labels": labels, "mean": mean.round(6).tolist(),
                "scale": scale.round(6).tolist(), "coef": model.coef_.round(6).tolist(),
                "intercept": model.intercept_.round(6).tolist()}

    def decided(fitted: dict | None, bar: float, rows) -> list[str]:
        t = replace(base, fit=(fitted | {"contradict_bar": bar}) if fitted else None)
        return [rules(assessed[i], t).label for i in rows]

    everything = list(range(len(gold)))
    unfitted = decided(None, 0.0, everything)
    floor = metrics(gold, unfitted)["per_label"]["contradictory"]["precision"]
    # Held out: each file decided by a fit on the others (one file: the fit's own claims).
    folds = ([([i for i in everything if groups[i] != g], [i for i in everything if groups[i] == g]) for g in names]
             if len(names) > 1 else [(everything, everything)])
    fold_fits = [train(tr) for tr, _ in folds]
    held_out = {}
    for bar in CONTRADICT_BARS:
        labels = [None] * len(gold)
        for fitted, (_, te) in zip(fold_fits, folds):
            for i, lab in zip(te, decided(fitted, bar, te)):
                labels[i] = lab
        held_out[bar] = labels
    ok = [b for b in CONTRADICT_BARS
          if metrics(gold, held_out[b])["per_label"]["contradictory"]["precision"] >= floor - 1e-9]
    bar = max(ok or [CONTRADICT_BARS[-1]], key=lambda b: (metrics(gold, held_out[b])["macro_f1"], -b))
    fitted = train(everything) | {"contradict_bar": bar}
    # The fit is used only where it beats the rules on claims it did not see: the mean over
    # files of held-out macro-F1 (each file weighs alike, as in the fit).
    def mean_f1(labels) -> float:
        return float(np.mean([metrics([gold[i] for i in te], [labels[i] for i in te])["macro_f1"] for _, te in folds]))

    fit_f1, rules_f1 = mean_f1(held_out[bar]), mean_f1(unfitted)
    adopted = fit_f1 > rules_f1 + 0.005
    after = decided(fitted, bar, everything) if adopted else unfitted
    per_file = {}
    for name in names:
        idx = [i for i, g in enumerate(groups) if g == name]
        per_file[name] = {
            "n": len(idx),
            "unfitted": metrics([gold[i] for i in idx], [unfitted[i] for i in idx]),
            "held_out": metrics([gold[i] for i in idx], [held_out[bar][i] for i in idx]),
            "as_used": metrics([gold[i] for i in idx], [after[i] for i in idx]),
        }
    return {
        "thresholds": {k: v for k, v in asdict(base).items() if k not in ("source", "score_steps", "fit")},
        "fit": fitted if adopted else None,
        "rejected_fit": None if adopted else fitted | {
            "why": f"held out it does not beat the rules: mean macro-F1 over files {fit_f1:.3f} "
                   f"against {rules_f1:.3f}"},
        "contradiction_precision_floor": floor,
        "score_steps": {},
        "metrics": {"before": metrics(gold, unfitted), "held_out": metrics(gold, held_out[bar]),
                    "after": metrics(gold, after)},
        "n": len(gold),
        "per_file": per_file,
    }


def fit_grid(scored: list[tuple[str, object, list]], nli: bool, base: Thresholds | None = None,
             groups: list[str] | None = None) -> dict:
    """Grid-search thresholds for macro-F1, then fit per-label score calibration (used
    without an NLI model, where the decision is one similarity bar)."""
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
    grid = GRID if nli else {"sim_consistent": GRID_SIMILARITY}
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
              progress=None, cache: Path | None = None) -> dict:
    """Fit the decision on labelled claim files; return the record.

    Args:
        cache: a folder to keep each file's checked claims in, keyed by the file, its pool,
            the models, ``k``, ``limit`` and verify's version: refitting after a change to the
            fit reuses them instead of checking every claim again. A pickle: keep it private.
    """
    import pickle

    from verify import __version__, loading
    from verify.quality.evaluate import score_file

    nli = loading.nli(None) if nli == "auto" else nli
    embedder = embedder if embedder is not None else loading.embedder()
    scored, manifest, files, groups = [], None, [], []
    for path in paths:
        pool = pool_beside(path)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        pool_digest = hashlib.sha256(pool.read_bytes()).hexdigest() if pool else None
        key = hashlib.sha256(json.dumps([digest, pool_digest, nli.model_id if nli else None, embedder.model_id,
                                         k, limit, __version__]).encode()).hexdigest()[:24]
        kept = Path(cache) / f"{Path(path).stem}-{key}.pickle" if cache else None
        if kept is not None and kept.exists():
            f = pickle.loads(kept.read_bytes())
            if progress:
                progress(len(f["claims"]))
        else:
            f = score_file(path, str(pool) if pool else None, nli=nli, embedder=embedder, k=k, limit=limit,
                           progress=progress, thresholds=Thresholds())
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                tmp = kept.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps({x: f[x] for x in ("claims", "results", "skipped", "manifest")}))
                tmp.replace(kept)
        scored += [(c["label"], v, evs) for c, (v, evs) in zip(f["claims"], f["results"])]
        groups += [Path(path).name] * len(f["claims"])
        manifest = f["manifest"]
        files.append({"path": str(path), "sha256": digest[:16], "claims": len(f["claims"]), "skipped": f["skipped"],
                      "pool": str(pool) if pool else None, "pool_sha256": pool_digest[:16] if pool else None})
    record = fit(scored, nli=manifest["nli_model"] is not None, groups=groups)
    record["provenance"] = {
        "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "files": files,
        "nli_model": manifest["nli_model"], "embed_model": manifest["embed_model"], "k": k,
        "method": ("logistic regression over assess.FEATURES (scikit-learn), files and labels weighted alike, "
                   "validated across files; contradiction bar under a held-out precision floor"
                   if "rejected_fit" in record else
                   "coordinate ascent over a threshold grid for macro-F1; per-label isotonic score calibration"),
    }
    return record


def pool_beside(path: str | Path) -> Path | None:
    """``X_pool.jsonl`` beside ``X.jsonl``: the pool of official sentences its claims are checked against."""
    path = Path(path)
    pool = path.with_name(path.stem + "_pool" + path.suffix)
    return pool if pool.exists() else None
