"""`verify eval`: check labelled claims against a pool of evidence and score the verdicts.

Input format: ``../shared/eval/README.md`` — one claim per line with ``label``
(consistent | novel | contradictory | null) and ``evidence`` items; the pool of official
sentences is the union of all evidence items unless a pool file is given. Each pool item
is stored as one official sentence (not re-split) so gold evidence ids stay exact.
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from verify.errors import InputError
from verify.pipeline.speakers import infer_speakers
from verify.pipeline.verdict import LABELS
from verify.store.corpus import Corpus, Document, SentenceSpan


def expected_calibration_error(scores, correct, bins: int = 10) -> float | None:
    """Weighted mean |accuracy - confidence| over equal-width score bins."""
    if not len(scores):
        return None
    s, c = np.asarray(scores, float), np.asarray(correct, float)
    idx = np.minimum((s * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(c[m].mean() - s[m].mean())
    return round(float(ece), 4)


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    rows = []
    with open(path, encoding="utf-8", errors="strict") as f:
        try:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: malformed JSON ({e.msg})") from None
                if not isinstance(row, dict) or any(k not in row for k in required):
                    raise InputError(f"{path}:{n}: needs fields {', '.join(required)}")
                rows.append(row)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not valid UTF-8") from None
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


def build_pool(claims: list[dict], pool_path: str | None) -> tuple[list[dict], list[str]]:
    """The pool of evidence sentences, and warnings about evidence ids that had to be re-keyed.

    An id that comes back with another text (a file that numbers evidence per claim) is
    re-keyed as ``<claim id>/<evidence id>`` for that claim, its gold ids included, so no
    sentence is silently dropped from the pool.
    """
    if pool_path:
        pool = read_jsonl(pool_path, ("id", "text"))
        texts: dict[str, str] = {}
        for item in pool:
            if texts.setdefault(str(item["id"]), item["text"]) != item["text"]:
                raise InputError(f"{pool_path}: id {item['id']!r} is given to two different texts")
        return pool, []
    seen: dict[str, str] = {}
    pool, rekeyed = [], 0
    for n, c in enumerate(claims):
        for e in c.get("evidence") or []:
            text = str(e.get("text", ""))
            if not text.strip():
                continue
            key = str(e["id"])
            if key in seen and seen[key] != text:
                new = f"{c.get('id', n)}/{key}"
                c["gold_evidence_ids"] = [new if str(g) == key else g for g in c.get("gold_evidence_ids") or []]
                e = dict(e, id=new)
                key = new
                rekeyed += 1
            if key not in seen:
                seen[key] = text
                pool.append(e)
    if not pool:
        raise InputError("no evidence in the claims file and no --pool given")
    warnings = [f"{rekeyed} evidence item(s) reuse an id another claim gives to a different text; "
                "re-keyed as <claim id>/<evidence id>"] if rekeyed else []
    return pool, warnings


def load_pool(corpus: Corpus, pool: list[dict]) -> dict[int, set[str]]:
    """Store each pool item as a one-sentence official document; map sentence id -> item ids.

    Items with identical text become one sentence that answers to all their ids.
    """
    mapping = {}
    with corpus.transaction():
        for item in pool:
            text = " ".join(str(item["text"]).split())
            doc = Document(kind="official", text=text, title=item.get("title"), url=item.get("url"),
                           speaker=item.get("speaker"), published=item.get("date"), source=f"pool:{item['id']}",
                           format="pool", sentences=[SentenceSpan(0, len(text), text, item.get("speaker"))])
            doc.speakers = infer_speakers(doc)
            res = corpus.add_document(doc)
            sid = corpus.first_sentence_id(res.document_id)
            mapping.setdefault(sid, set()).add(item["id"])
    return mapping


def metrics(gold: list[str], pred: list[str]) -> dict:
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, pred):
        confusion[g][p] += 1
    per_label = {}
    for lab in LABELS:
        tp = confusion[lab][lab]
        fp = sum(confusion[g][lab] for g in LABELS if g != lab)
        fn = sum(confusion[lab][p] for p in LABELS if p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_label[lab] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                          "support": tp + fn}
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0
    macro = sum(v["f1"] for v in per_label.values()) / len(LABELS)
    return {"accuracy": round(acc, 4), "macro_f1": round(macro, 4), "per_label": per_label, "confusion": confusion}


def retrieval_recall(checker, texts: list[str], gold: list[set[str]], mapping: dict[int, set[str]],
                     k: int = 5) -> dict[str, float | None]:
    """Evidence recall@k of each retrieval mode alone (no NLI): dense, lexical, hybrid."""
    from verify.pipeline.claims import split_frame
    from verify.pipeline.embed import embed_cached
    from verify.pipeline.retrieve import MODES, retrieve

    props = [split_frame(t)[1] for t in texts]
    vectors = embed_cached(checker.corpus, checker.embedder, props)
    keep = [i for i, g in enumerate(gold) if g]
    out: dict[str, float | None] = {}
    for mode in MODES:
        if not keep:
            out[mode] = None
            continue
        hits = retrieve(checker.corpus, checker.index, [props[i] for i in keep], vectors[keep], k, mode)
        found = sum(bool(gold[i] & set().union(*(mapping.get(s, set()) for s, _ in h)))
                    for i, h in zip(keep, hits))
        out[mode] = round(found / len(keep), 4)
    return out


def score_file(claims_path: str, pool_path: str | None = None, *, embedder=None, nli="auto", k: int = 5,
               thresholds=None, limit: int | None = None, progress=None, retrieval: str = "hybrid") -> dict:
    """Check every labelled claim of a file against its pool, keeping all the evidence.

    Returns:
        ``claims`` (the labelled rows), ``results`` ([(Verdict, [Evidence])]),
        ``recall_by_retrieval``, ``hits``/``with_gold`` for recall@5 and the ``manifest``.
    """
    from verify.pipeline.check import Checker

    claims = read_jsonl(claims_path, ("claim", "label"))
    if limit:
        claims = claims[:limit]
    pool, warnings = build_pool(claims, pool_path)
    scored = [c for c in claims if c["label"] is not None]
    bad = {c["label"] for c in scored} - set(LABELS)
    if bad:
        raise InputError(f"{claims_path}: unknown labels {', '.join(sorted(map(str, bad)))}")
    with tempfile.TemporaryDirectory(prefix="verify-eval-") as tmp:
        corpus = Corpus(Path(tmp) / "eval.db")
        mapping = load_pool(corpus, pool)
        checker = Checker(corpus, embedder=embedder, nli=nli, k=k, thresholds=thresholds, retrieval=retrieval)
        texts = [" ".join(c["claim"].split()) for c in scored]
        results = []
        for start in range(0, len(texts), 64):
            results.extend(checker.score_claims(texts[start:start + 64]))
            if progress:
                progress(min(64, len(texts) - start))
        hits = with_gold = 0
        for c, (_, evidence) in zip(scored, results):
            gold_ids = set(c.get("gold_evidence_ids") or [])
            if gold_ids:
                with_gold += 1
                top5 = set().union(*(mapping.get(e.sentence["id"], set()) for e in evidence[:5]))
                hits += bool(gold_ids & top5)
        manifest = checker.manifest("verify eval")
        by_mode = retrieval_recall(checker, texts, [set(c.get("gold_evidence_ids") or []) for c in scored], mapping)
        corpus.close()
    return {"claims": scored, "skipped": len(claims) - len(scored), "pool": len(pool), "results": results,
            "hits": hits, "with_gold": with_gold, "recall_by_retrieval": by_mode, "manifest": manifest,
            "warnings": warnings}


def evaluate(claims_path: str, pool_path: str | None = None, *, embedder=None, nli="auto", k: int = 5,
             thresholds=None, limit: int | None = None, progress=None, retrieval: str = "hybrid",
             per_claim: bool = False) -> dict:
    """Check every labelled claim against the whole pool; return the metrics dict.

    Args:
        per_claim: also return ``claims``: each claim's gold and predicted label, score,
            needs-review reason and the evidence that decided it.
    """
    f = score_file(claims_path, pool_path, embedder=embedder, nli=nli, k=k, thresholds=thresholds, limit=limit,
                   progress=progress, retrieval=retrieval)
    preds = [v.label for v, _ in f["results"]]
    gold = [c["label"] for c in f["claims"]]
    out = metrics(gold, preds)
    manifest = f["manifest"]
    out.update({
        "n": len(gold), "skipped": f["skipped"], "pool": f["pool"],
        "recall_at_5": round(f["hits"] / f["with_gold"], 4) if f["with_gold"] else None,
        "claims_with_gold": f["with_gold"], "recall_at_5_by_retrieval": f["recall_by_retrieval"],
        "retrieval": retrieval, "ece": expected_calibration_error(
            [v.score for v, _ in f["results"]], [g == p for g, p in zip(gold, preds)]),
        "predicted": dict(Counter(preds)), "embed_model": manifest["embed_model"],
        "nli_model": manifest["nli_model"], "mode": manifest["mode"], "k": k,
        "thresholds": manifest["thresholds"], "file": str(claims_path), "warnings": f["warnings"],
        "contradiction_precision": out["per_label"]["contradictory"]["precision"],
        "needs_review": sum(bool(v.needs_review) for v, _ in f["results"]),
        **review_split(gold, [v for v, _ in f["results"]]),
    })
    if per_claim:
        out["claims"] = [_claim_row(c, v, evs) for c, (v, evs) in zip(f["claims"], f["results"])]
    return out


def review_split(gold: list[str], verdicts: list) -> dict:
    """Accuracy of the verdicts flagged "needs review" and of the others: the flag is worth
    having only if the flagged ones are the shakier ones."""
    out = {}
    for name, want in (("accuracy_needs_review", True), ("accuracy_unflagged", False)):
        pairs = [(g, v.label) for g, v in zip(gold, verdicts) if bool(v.needs_review) == want]
        out[name] = round(sum(g == p for g, p in pairs) / len(pairs), 4) if pairs else None
    return out


def _claim_row(claim: dict, verdict, evidence) -> dict:
    best = evidence[verdict.decisive] if verdict.decisive is not None and evidence else None
    return {"id": claim.get("id"), "claim": claim["claim"], "gold": claim["label"], "predicted": verdict.label,
            "right": claim["label"] == verdict.label, "score": verdict.score, "needs_review": verdict.needs_review,
            "reason": verdict.reason, "code": verdict.code, "probabilities": verdict.probabilities,
            "evidence": None if best is None else {
                "text": best.sentence["text"], "similarity": round(best.similarity, 4), "p_entail": best.p_entail,
                "p_neutral": best.p_neutral, "p_contradict": best.p_contradict}}


# --- NLI evaluation on pairs ----------------------------------------------------------------

NLI_TO_VERDICT = {"entailment": "consistent", "neutral": "novel", "contradiction": "contradictory"}
VERDICT_TO_NLI = {v: k for k, v in NLI_TO_VERDICT.items()}


def read_nli_pairs(path: str | Path) -> list[tuple[str, str, str]]:
    """(premise, hypothesis, NLI label) from either pairs JSONL or claims JSONL.

    Pairs files have ``premise``, ``hypothesis``, ``label`` (entailment | neutral |
    contradiction). Claims files (``../shared/eval`` format) give the claim as hypothesis
    and its first evidence item as premise; claims with a null label are skipped.
    """
    rows = read_jsonl(path, ())
    out = []
    for n, r in enumerate(rows, 1):
        if "premise" in r:
            label = r.get("label")
            if label not in NLI_TO_VERDICT:
                raise InputError(f"{path}:{n}: label must be entailment, neutral or contradiction")
            out.append((r["premise"], r["hypothesis"], label))
        elif "claim" in r:
            if r.get("label") is None or not r.get("evidence"):
                continue
            if r["label"] not in VERDICT_TO_NLI:
                raise InputError(f"{path}:{n}: unknown label {r['label']!r}")
            out.append((r["evidence"][0]["text"], r["claim"], VERDICT_TO_NLI[r["label"]]))
        else:
            raise InputError(f"{path}:{n}: needs premise/hypothesis/label or claim/evidence/label")
    return out


def evaluate_nli(model, pairs: list[tuple[str, str, str]], batch: int = 256, progress=None) -> dict:
    """Accuracy, macro-F1, per-label figures and confusion of an NLI model on labelled pairs."""
    import time

    preds = []
    names = ("entailment", "neutral", "contradiction")
    t0 = time.perf_counter()
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        for probs in model.score([(p, h) for p, h, _ in chunk]):
            preds.append(names[max(range(3), key=lambda i: probs[i])])
        if progress:
            progress(len(chunk))
    m = metrics([NLI_TO_VERDICT[g] for _, _, g in pairs], [NLI_TO_VERDICT[p] for p in preds])
    rename = lambda d: {VERDICT_TO_NLI[k]: v for k, v in d.items()}  # noqa: E731
    seconds = time.perf_counter() - t0
    return {"n": len(pairs), "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "pairs_per_second": round(len(pairs) / seconds, 1) if seconds > 0 else None,
            "per_label": rename(m["per_label"]),
            "confusion": {VERDICT_TO_NLI[g]: rename(row) for g, row in m["confusion"].items()},
            "model": model.model_id}
