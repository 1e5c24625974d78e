"""Exports of stored verdicts: an HTML report for editors, and data formats for other tools.

All HTML goes through jinja2 with autoescaping: leaked documents can contain hostile markup
and it must show as text, never run. The page also forbids scripts by its CSP header.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from verify.errors import CorpusError, InputError
from verify.outputs.render import records_csv, records_markdown
from verify.store.corpus import Corpus

EXPORT_FORMATS = ("jsonl", "csv", "markdown", "claimreview")
RATING = {"consistent": (5, "Consistent with official statements"),
          "novel": (3, "Not addressed in official statements"),
          "contradictory": (1, "Contradicted by official statements")}


def latest_results(corpus: Corpus, document_id: int | None = None) -> tuple[dict | None, list[dict]]:
    """The newest verdict of each claim (of one report, or of all), as ``to_dict`` rows."""
    from verify.pipeline.check import evidence_trail

    ids = corpus.claim_ids(document_id)
    rows, run = [], None
    for cid in ids:
        try:
            trail = evidence_trail(corpus, cid)
        except CorpusError:
            continue  # never checked
        c, v = trail["claim"], trail["verdict"]
        details = json.loads(corpus.verdict_in_run(cid, trail["run"]["id"])["details"] or "{}")
        review = corpus.latest_review(cid)
        rows.append({"claim_id": cid, "text": c["text"], "document_id": c["document_id"], "start": c["start"],
                     "end": c["end"], "frame": c.get("frame") or "", "label": v["label"], "score": v["score"],
                     "reason": v["reason"], "conflicting": v["conflicting"], "needs_review": v.get("needs_review"),
                     "decisive": v.get("decisive"),
                     "flags": details.get("flags", []),
                     "quotes": details.get("quotes", []), "evidence": trail["evidence"], "run_id": trail["run"]["id"],
                     "review": {k: review[k] for k in ("label", "note", "by", "at")} if review else None})
        if run is None or trail["run"]["id"] > run["id"]:
            run = trail["run"]
    return run, rows


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def human_date(value) -> str:
    """``2022-01-26`` (or a timestamp) -> ``26 January 2022``; ``2022-01`` -> ``January 2022``."""
    from datetime import datetime

    s = str(value or "").strip()
    try:
        if len(s) >= 10:
            d = datetime.fromisoformat(s[:10])
            return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
        if len(s) == 7:
            d = datetime.strptime(s, "%Y-%m")
            return f"{MONTHS[d.month - 1]} {d.year}"
    except ValueError:
        pass
    return s  # a bare year, or something unparsable: shown as stored


def human_time(value) -> str:
    """``2026-12-01T10:42:07+00:00`` -> ``1 December 2026, 10:42 UTC``."""
    from datetime import datetime, timezone

    s = str(value or "").strip()
    if len(s) <= 10:
        return human_date(s)
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return s
    zone = ""
    if t.tzinfo is not None:
        t, zone = t.astimezone(timezone.utc), " UTC"
    return f"{t.day} {MONTHS[t.month - 1]} {t.year}, {t:%H:%M}{zone}"


def claim_pieces(text: str, rows: list[dict]) -> list[dict]:
    """A report's text cut at its claims: ``{"text", "claim"}`` pieces in order, ``claim`` the
    row (with ``start`` and ``end``) of a highlighted piece, None between claims. A claim that
    overlaps the one before it is left unhighlighted."""
    pieces, pos = [], 0
    for r in sorted(rows, key=lambda r: r["start"]):
        if r["start"] < pos:
            continue
        pieces.append({"text": text[pos:r["start"]], "claim": None})
        pieces.append({"text": text[r["start"]:r["end"]], "claim": r})
        pos = r["end"]
    pieces.append({"text": text[pos:], "claim": None})
    return pieces


def html_report(corpus: Corpus, document_id: int) -> str:
    """A self-contained page for editors: the report with its claims highlighted, a legend and a
    CSS-only filter, one block per claim (the evidence row that decided it marked, weaker rows
    folded away), human dates, and the run manifest folded at the end.
    """
    import jinja2

    def compact(value) -> str:
        if value is None or value == {} or value == []:
            return "none"
        if isinstance(value, dict):
            return " · ".join(f"{k} {compact(v)}" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return ", ".join(compact(v) for v in value)
        return str(value)

    doc = corpus.document(document_id)
    if doc["kind"] != "report":
        raise InputError(f"document {document_id} is an official statement, not a report")
    run, rows = latest_results(corpus, document_id)
    if not rows:
        raise CorpusError(f"report {document_id} has not been checked yet; run `verify check {document_id}`")
    pieces = claim_pieces(doc["text"], rows)
    summary = {lab: sum(r["label"] == lab for r in rows) for lab in ("consistent", "novel", "contradictory")}

    # Each claim's evidence split in two: the rows worth reading (the deciding one always among
    # them), and the weak ones (below the run's "related" similarity, or not the official side),
    # which the page folds into a <details>.
    try:
        related = float((run.get("thresholds") or {}).get("related") or 0.0)
    except (TypeError, ValueError):
        related = 0.0
    claims = []
    for r in rows:
        d = r.get("decisive")
        d = d if isinstance(d, int) and not isinstance(d, bool) and 0 <= d < len(r["evidence"]) else None
        main, more = [], []
        for i, e in enumerate(r["evidence"]):
            e = dict(e, is_decisive=i == d)
            weak = not e["is_decisive"] and (e.get("counted") is False or (e.get("similarity") or 0.0) < related)
            (more if weak else main).append(e)
        claims.append(dict(r, decisive=d, main=main, more=more))

    # The manifest as a short table, the settings an editor may be asked about first.
    first = ("embed_model", "nli_model", "mode", "thresholds", "corpus_fingerprint", "official_side", "affiliations",
             "official_sentences", "max_official_sentence_id", "retrieval", "k", "scope", "code_version", "time",
             "command", "id", "status")
    manifest = []
    for key in [k for k in first if k in run] + [k for k in run if k not in first]:
        value = run[key]
        entry = {"key": key.replace("_", " ")}
        if isinstance(value, dict) and value:
            entry["pairs"] = [(k.replace("_", " "), compact(v)) for k, v in value.items()]
        elif key == "time" and value:
            entry["value"] = f"{human_time(value)} ({value})"
        else:
            entry["value"] = compact(value)
        manifest.append(entry)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(human_date=human_date, human_time=human_time)
    return env.get_template("report.html.j2").render(
        title=doc["title"] or f"report {document_id}", report=doc, run=run, summary=summary, pieces=pieces,
        claims=claims, related=related, manifest=manifest)


@dataclass
class Desk:
    """Who publishes the reviews: ClaimReview's author, and the page they appear on."""

    name: str
    url: str | None = None


def export(corpus: Corpus, fmt: str, document_id: int | None = None, *, desk: Desk | None = None,
           include_unreviewed: bool = False) -> str:
    """Every claim's latest verdict in ``fmt``.

    ``claimreview`` is for publication: it carries the desk's review, and by default only
    reviewed claims; ``include_unreviewed`` adds machine verdicts, marked as such. The
    other formats are working files with both the machine's and the desk's label.
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    _, rows = latest_results(corpus, document_id)
    if fmt == "jsonl":
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    if fmt == "csv":
        return records_csv(rows)
    if fmt == "markdown":
        return records_markdown(rows)
    if desk is None:
        raise InputError("ClaimReview names who publishes the reviews: pass --desk NAME "
                         "(and --desk-url URL, the page they appear on), or set VERIFY_DESK / VERIFY_DESK_URL")
    publishable = [r for r in rows if publishable_review(r) or (include_unreviewed and not r["review"])]
    return json.dumps([claim_review(corpus, r, desk) for r in publishable], indent=2, ensure_ascii=False)


def publishable_review(row: dict) -> bool:
    """A desk review with a label a rating can carry ("unsure" is not one)."""
    return bool(row["review"]) and row["review"]["label"] in RATING


def claim_review(corpus: Corpus, row: dict, desk: Desk) -> dict:
    """schema.org ClaimReview JSON-LD for one claim: the desk's review, or a marked machine verdict."""
    review_row = row["review"] if publishable_review(row) else None
    label = review_row["label"] if review_row else row["label"]
    rating, name = RATING[label]
    if review_row:
        explanation = review_row["note"]
        date = review_row["at"][:10]
    else:
        name += " (machine verdict, not reviewed by the desk)"
        explanation = f"{row['reason']} (machine verdict by verify, not reviewed by the desk)"
        date = corpus.run(row["run_id"])["started_at"][:10]
    item: dict = {"@type": "Claim"}
    if row["document_id"]:
        doc = corpus.document(row["document_id"])
        if doc["publisher"]:
            item["author"] = {"@type": "Organization", "name": doc["publisher"]}
        if doc["published"]:
            item["datePublished"] = doc["published"]
        if doc["url"]:
            item["appearance"] = [{"@type": "CreativeWork", "url": doc["url"]}]
    review = {
        "@context": "https://schema.org", "@type": "ClaimReview",
        "claimReviewed": row["text"],
        "reviewRating": {"@type": "Rating", "ratingValue": rating, "bestRating": 5, "worstRating": 1,
                         "alternateName": name, "ratingExplanation": explanation},
        "itemReviewed": item,
        "author": {"@type": "Organization", "name": desk.name},
        "datePublished": date,
    }
    if desk.url:
        review["url"] = f"{desk.url}#claim-{row['claim_id']}"
    return review


def claimreview_summary(corpus: Corpus, document_id: int | None, include_unreviewed: bool) -> str:
    """What an export for publication left out, and why: one line for the desk."""
    _, rows = latest_results(corpus, document_id)
    reviewed = sum(publishable_review(r) for r in rows)
    unsure = sum(bool(r["review"]) and not publishable_review(r) for r in rows)
    machine = sum(not r["review"] for r in rows)
    line = f"{reviewed} reviewed claim(s) exported"
    if machine:
        line += (f"; {machine} machine verdict(s) added, marked as not reviewed" if include_unreviewed else
                 f"; {machine} claim(s) without a desk review left out (--include-unreviewed adds them, marked)")
    if unsure:
        line += f"; {unsure} reviewed 'unsure' left out"
    missing = [r["claim_id"] for r in rows if r["document_id"] and not corpus.document(r["document_id"])["url"]]
    if missing:
        line += "; the report has no URL, so the reviews name no appearance (ingest it with --url)"
    return line
