"""What each page of the desk shows, read from the store (no HTML here).

Claim and verdict data come through the functions the CLI and the HTML report use
(``evidence_trail``, ``Corpus.verdict_history``, ``Corpus.reviews``, ``Corpus.documents``, the
``Drift`` of a recheck); whole reports through the store's bulk queries (``verify.store.desk``),
so a 500-claim page costs a few statements. Evidence records may gain fields: they are read
with ``.get`` and given defaults here, so the templates see every key they name.
"""
from __future__ import annotations

import json
import re

from verify.errors import CorpusError
from verify.outputs.export import claim_pieces
from verify.pipeline.check import evidence_trail
from verify.pipeline.recheck import SCORE_LINE, Drift
from verify.pipeline.verdict import LABELS
from verify.store import desk

REVIEW_LABELS = (*LABELS, "unsure")


def review_disagrees(review: dict | None, label: str | None, run_id: int | None) -> bool:
    """Whether a machine verdict made after a desk review disagrees with it, as the drift report
    flags it (``Drift.against_review``): "unsure" disagrees with nothing."""
    if not review or label is None or review.get("label") in ("unsure", label):
        return False
    reviewed_run = review.get("run_id")
    return reviewed_run is None or (run_id is not None and run_id > reviewed_run)


# --- the latest recheck -------------------------------------------------------------------------

def latest_drift(corpus) -> tuple[dict | None, list[Drift]]:
    """The newest recheck run and its drift, rebuilt from what the run stored: each claim whose
    label changed or whose score crossed ``SCORE_LINE`` against its previous verdict, with the
    official sentences new since then that entered its evidence (the recheck's "caused by")."""
    run = desk.recheck_run(corpus)
    if run is None:
        return None, []
    try:
        run["manifest"] = json.loads(run["manifest"] or "{}")
    except ValueError:
        run["manifest"] = {}
    drift, cut_of_run = [], {}
    for row in desk.verdicts_against_previous(corpus, run["id"]):
        old, new = row["old_label"], row["new_label"]
        if old is not None and old == new and (row["old_score"] >= SCORE_LINE) == (row["new_score"] >= SCORE_LINE):
            continue
        cut = 0
        if row["old_run_id"] is not None:
            if row["old_run_id"] not in cut_of_run:
                manifest = json.loads(corpus.run(row["old_run_id"])["manifest"] or "{}")
                cut_of_run[row["old_run_id"]] = manifest.get("max_official_sentence_id", 0) or 0
            cut = cut_of_run[row["old_run_id"]]
        ids = [e["sentence_id"] for e in corpus.evidence_for(row["verdict_id"]) if e["sentence_id"] > cut]
        sentences = corpus.sentences_by_id(ids)
        causes = [{"sentence_id": s["id"], "text": s["text"], "speaker": s.get("speaker"), "date": s.get("published"),
                   "title": s.get("title"), "document_id": s["document_id"], "url": s.get("url")}
                  for s in (sentences[i] for i in ids if i in sentences)]
        d = Drift(row["claim_id"], row["text"], old, row["old_score"], new, row["new_score"], causes,
                  corpus.latest_review(row["claim_id"]))
        d.document_id = row["document_id"]
        drift.append(d)
    return run, drift


# --- reports ----------------------------------------------------------------------------------------

def reports(corpus) -> tuple[list[dict], dict | None]:
    """Every report with its counts per label, needing review, unreviewed, and its claims that
    changed in the latest recheck; and that recheck run."""
    summaries = desk.report_summaries(corpus)
    run, drift = latest_drift(corpus)
    changed: dict[int, int] = {}
    for d in drift:
        changed[d.document_id] = changed.get(d.document_id, 0) + 1
    out = []
    for doc in corpus.documents(kind="report"):
        s = summaries.get(doc["id"], {})
        claims = s.get("claims", 0)
        out.append(doc | {"claims": claims, "consistent": s.get("consistent", 0), "novel": s.get("novel", 0),
                          "contradictory": s.get("contradictory", 0), "needs_review": s.get("needs_review", 0),
                          "unreviewed": claims - s.get("reviewed", 0), "changed": changed.get(doc["id"], 0)})
    return out, run


def _details(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def report(corpus, document_id: int, *, label: str | None = None, needs_review: bool = False,
           reviewed: str | None = None, speaker: str | None = None) -> dict:
    """A report's text with its claims, the claims passing the filters, and the choices the
    filters offer.

    Args:
        label: only claims with this latest label.
        needs_review: only claims the machine flagged for review.
        reviewed: "yes" only claims with a desk review, "no" only those without.
        speaker: only claims whose own sentence names this speaker, or whose deciding
            evidence this speaker said.
    """
    doc = corpus.document(document_id)
    if doc["kind"] != "report":
        raise CorpusError(f"document {document_id} is not a report")
    rows = desk.report_claims(corpus, document_id)
    reviews = desk.latest_reviews(corpus, document_id)
    speakers_of = desk.evidence_speakers(corpus, [r["verdict_id"] for r in rows])
    for r in rows:
        details = _details(r.pop("details"))
        decisive = details.get("decisive")
        said_by = speakers_of.get(r["verdict_id"], [])
        r["decisive_speaker"] = (said_by[decisive] if isinstance(decisive, int) and not isinstance(decisive, bool)
                                 and 0 <= decisive < len(said_by) else None)
        r["review"] = reviews.get(r["claim_id"])
        r["conflicting"] = bool(r["conflicting"])
        r["disagrees"] = review_disagrees(r["review"], r["label"], r["run_id"])
        r["speakers"] = sorted({s for s in (r["claim_speaker"], r["decisive_speaker"]) if s})

    def keep(r: dict) -> bool:
        return ((not label or r["label"] == label) and (not needs_review or bool(r["needs_review"]))
                and (reviewed not in ("yes", "no") or bool(r["review"]) == (reviewed == "yes"))
                and (not speaker or speaker in r["speakers"]))

    shown = [r for r in rows if keep(r)]
    shown_ids = {r["claim_id"] for r in shown}
    counts = {lab: sum(r["label"] == lab for r in rows) for lab in LABELS}
    return {"doc": doc, "claims": rows, "shown": shown, "shown_ids": shown_ids,
            "pieces": claim_pieces(doc["text"], rows), "counts": counts,
            "needs_review": sum(bool(r["needs_review"]) for r in rows),
            "reviewed": sum(bool(r["review"]) for r in rows),
            "speakers": sorted({s for r in rows for s in r["speakers"]}),
            "unchecked": corpus.claim_count(document_id) - len(rows)}


# --- one claim ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_STOP = frozenset("""a an the and or but of to in on at by for with from as that this these those it its is are was were
be been being has have had will would shall should can could may might must do does did not no nor so than then there
their they them he she his her we our you your i me my mr mrs ms said says say also into over under about after before
which who whom whose what when where while if""".split())


def _stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    w = w[:-2] if w.endswith("'s") else w
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[:-len(suffix)]
    return w


def content_stems(text: str) -> set[str]:
    """The words that carry meaning in a text, lower-cased and crudely stemmed."""
    return {_stem(m.group()) for m in _WORD.finditer(text or "") if m.group().lower() not in _STOP}


def mark_words(text: str, stems: set[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, marked) runs: marked where a content word's stem is in ``stems``."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _WORD.finditer(text or ""):
        if m.group().lower() in _STOP or _stem(m.group()) not in stems:
            continue
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((m.group(), True))
        pos = m.end()
    if pos < len(text or ""):
        out.append((text[pos:], False))
    return out


def _evidence(e: dict, i: int, decisive, stems: set[str]) -> dict:
    """One evidence record with every field the claim page names (absent: None or empty)."""
    def number(key):
        value = e.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    text = e.get("text") or ""
    return {"rank": e.get("rank", i), "text": text, "marked": mark_words(text, stems),
            "speaker": e.get("speaker"), "publisher": e.get("publisher"), "affiliation": e.get("affiliation"),
            "attribution": e.get("attribution"), "cue": e.get("cue"), "date": e.get("date") or e.get("published"),
            "title": e.get("title"), "url": e.get("url"), "document_id": e.get("document_id"),
            "start": e.get("start"), "end": e.get("end"), "page": e.get("page"),
            "ocr_confidence": number("ocr_confidence"), "relation": e.get("relation"),
            "similarity": number("similarity"), "p_entail": number("p_entail"), "p_neutral": number("p_neutral"),
            "p_contradict": number("p_contradict"), "counted": e.get("counted", True) is not False,
            "mismatches": [m for m in (e.get("mismatches") or []) if isinstance(m, dict)],
            "decisive_mismatches": [m for m in (e.get("decisive_mismatches") or []) if isinstance(m, dict)],
            "flags": [str(f) for f in (e.get("flags") or [])], "why_not": e.get("why_not"),
            "is_decisive": decisive == i}


def claim(corpus, claim_id: int) -> dict:
    """A claim's verdict, reason and evidence trail (matching words marked), its verdict history
    and reviews, and its neighbours in its report."""
    trail = evidence_trail(corpus, claim_id)
    c, v = trail["claim"], trail["verdict"]
    evidence = trail.get("evidence") or []
    decisive = v.get("decisive")
    decisive = decisive if isinstance(decisive, int) and not isinstance(decisive, bool) else None
    claim_stems = content_stems(c.get("proposition") or c["text"])
    records = [_evidence(e, i, decisive, claim_stems) for i, e in enumerate(evidence)]
    decider = next((e for e in records if e["is_decisive"]), records[0] if records else None)
    reviews = corpus.reviews(claim_id)
    latest = reviews[-1] if reviews else None
    siblings = corpus.claim_ids(c["document_id"]) if c.get("document_id") else [claim_id]
    at = siblings.index(claim_id) if claim_id in siblings else 0
    return {"claim": c, "verdict": v, "run": trail.get("run") or {}, "evidence": records,
            "claim_marked": mark_words(c["text"], content_stems(decider["text"]) if decider else set()),
            "history": corpus.verdict_history(claim_id), "reviews": reviews, "review": latest,
            "disagrees": review_disagrees(latest, v["label"], (trail.get("run") or {}).get("id")),
            "previous": siblings[at - 1] if at > 0 else None,
            "next": siblings[at + 1] if at + 1 < len(siblings) else None}


# --- documents -----------------------------------------------------------------------------------------

def document(corpus, doc_id: int) -> dict:
    """A document's metadata, its edits, and the claims that rely on it (with their latest verdict)."""
    doc = corpus.document(doc_id)
    relying = []
    for cid in corpus.dependent_claims(doc_id):
        v = corpus.latest_verdict(cid)
        relying.append({"claim_id": cid, "text": corpus.claim(cid)["text"], "label": v["label"] if v else None})
    return {"doc": doc, "edits": corpus.document_history(doc_id), "relying": relying,
            "sentences": corpus.sentence_count(doc_id),
            "stale": corpus.stale_claims()}
