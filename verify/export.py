"""Exports of stored verdicts: an HTML report for editors, and data formats for other tools.

All HTML goes through jinja2 with autoescaping: leaked documents can contain hostile markup
and it must show as text, never run. The page also forbids scripts by its CSP header.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .corpus import Corpus
from .errors import CorpusError, InputError
from .render import csv_safe

EXPORT_FORMATS = ("jsonl", "csv", "markdown", "claimreview")
RATING = {"consistent": (5, "Consistent with official statements"),
          "novel": (3, "Not addressed in official statements"),
          "contradictory": (1, "Contradicted by official statements")}


def latest_results(corpus: Corpus, document_id: int | None = None) -> tuple[dict | None, list[dict]]:
    """The newest verdict of each claim (of one report, or of all), as ``to_dict`` rows."""
    from .check import evidence_trail

    where, params = ("where c.document_id = ?", [document_id]) if document_id is not None else ("", [])
    ids = [r[0] for r in corpus.db.execute(f"select c.id from claims c {where} order by c.id", params)]
    rows, run = [], None
    for cid in ids:
        try:
            trail = evidence_trail(corpus, cid)
        except CorpusError:
            continue  # never checked
        c, v = trail["claim"], trail["verdict"]
        details = json.loads(corpus.db.execute(
            "select details from verdicts where claim_id = ? and run_id = ?", [cid, trail["run"]["id"]]).fetchone()[0] or "{}")
        review = corpus.latest_review(cid)
        rows.append({"claim_id": cid, "text": c["text"], "document_id": c["document_id"], "start": c["start"],
                     "end": c["end"], "frame": c.get("frame") or "", "label": v["label"], "score": v["score"],
                     "reason": v["reason"], "conflicting": v["conflicting"], "flags": details.get("flags", []),
                     "quotes": details.get("quotes", []), "evidence": trail["evidence"], "run_id": trail["run"]["id"],
                     "review": {k: review[k] for k in ("label", "note", "by", "at")} if review else None})
        if run is None or trail["run"]["id"] > run["id"]:
            run = trail["run"]
    return run, rows


def html_report(corpus: Corpus, document_id: int) -> str:
    """A self-contained HTML page: the report with claims highlighted, verdicts, evidence."""
    import jinja2

    doc = corpus.document(document_id)
    if doc["kind"] != "report":
        raise InputError(f"document {document_id} is an official statement, not a report")
    run, rows = latest_results(corpus, document_id)
    if not rows:
        raise CorpusError(f"report {document_id} has not been checked yet; run `verify check {document_id}`")
    text, pieces, pos = doc["text"], [], 0
    for r in sorted(rows, key=lambda r: r["start"]):
        if r["start"] < pos:
            continue
        pieces.append({"text": text[pos:r["start"]], "claim": None})
        pieces.append({"text": text[r["start"]:r["end"]], "claim": r})
        pos = r["end"]
    pieces.append({"text": text[pos:], "claim": None})
    summary = {lab: sum(r["label"] == lab for r in rows) for lab in ("consistent", "novel", "contradictory")}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2").render(
        title=doc["title"] or f"report {document_id}", report=doc, run=run, summary=summary, pieces=pieces,
        claims=rows, manifest_json=json.dumps(run, indent=2, ensure_ascii=False))


def export(corpus: Corpus, fmt: str, document_id: int | None = None) -> str:
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    _, rows = latest_results(corpus, document_id)
    if fmt == "jsonl":
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["claim_id", "document_id", "label", "score", "conflicting", "claim", "reason", "review",
                    "evidence", "speaker", "date", "url"])
        for r in rows:
            best = r["evidence"][0] if r["evidence"] else {}
            w.writerow([csv_safe(x) for x in (r["claim_id"], r["document_id"], r["label"], r["score"],
                                              int(r["conflicting"]), r["text"], r["reason"],
                                              (r["review"] or {}).get("label", ""), best.get("text", ""),
                                              best.get("speaker") or "", best.get("date") or "", best.get("url") or "")])
        return buf.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = ["| claim | label | score | reason | review |", "|---|---|---|---|---|"]
        from .render import md_cell as cell

        for r in rows:
            lines.append(f"| {r['claim_id']}: {cell(r['text'])} | {r['label']} | {r['score']:.2f} | "
                         f"{cell(r['reason'])} | {cell((r['review'] or {}).get('label', ''))} |")
        return "\n".join(lines)
    return json.dumps([claim_review(corpus, r) for r in rows], indent=2, ensure_ascii=False)


def claim_review(corpus: Corpus, row: dict) -> dict:
    """schema.org ClaimReview JSON-LD for one verdict."""
    rating, name = RATING[row["label"]]
    item = {"@type": "Claim", "appearance": []}
    if row["document_id"]:
        doc = corpus.document(row["document_id"])
        item["author"] = {"@type": "Organization", "name": doc["publisher"] or doc["title"] or "unknown"}
        if doc["published"]:
            item["datePublished"] = doc["published"]
        if doc["url"]:
            item["appearance"] = [{"@type": "CreativeWork", "url": doc["url"]}]
    review = {
        "@context": "https://schema.org", "@type": "ClaimReview",
        "claimReviewed": row["text"],
        "reviewRating": {"@type": "Rating", "ratingValue": rating, "bestRating": 5, "worstRating": 1,
                         "alternateName": name, "ratingExplanation": row["reason"]},
        "itemReviewed": item,
        "author": {"@type": "Organization", "name": "verify"},
        "datePublished": corpus.run(row["run_id"])["started_at"][:10],
    }
    best = row["evidence"][0] if row["evidence"] and row["label"] != "novel" else None
    if best and best.get("url"):
        review["url"] = best["url"]
    return review
