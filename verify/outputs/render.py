"""Output formats for check runs: table, json, jsonl, csv, markdown, and the explain view.

The JSON shape is stable (documented in the README): ``{"run": {...}, "summary": {...},
"claims": [ClaimResult.to_dict(), ...]}``.
"""
from __future__ import annotations

import csv
import io
import json

FORMATS = ("table", "json", "jsonl", "csv", "markdown")
COLOURS = {"consistent": "green", "novel": "yellow", "contradictory": "red"}


def run_dict(run) -> dict:
    return {"run": {"id": run.run_id, **run.manifest}, "summary": run.counts(),
            "claims": [r.to_dict() for r in run.results]}


def render_run(run, fmt: str, *, color: bool = True) -> str:
    if fmt == "json":
        return json.dumps(run_dict(run), indent=2, ensure_ascii=False)
    if fmt == "jsonl":
        return "\n".join(json.dumps({"run_id": run.run_id, **r.to_dict()}, ensure_ascii=False) for r in run.results)
    if fmt == "csv":
        return records_csv([r.to_dict() for r in run.results])
    if fmt == "markdown":
        c = run.counts()
        head = [f"## verify run {run.run_id}" if run.run_id else "## verify scratch check (not saved)", "",
                f"{c['consistent']} consistent, {c['novel']} novel, {c['contradictory']} contradictory "
                f"({run.manifest['mode']}; NLI model {run.manifest['nli_model'] or 'none'})", ""]
        return "\n".join(head) + "\n" + records_markdown([r.to_dict() for r in run.results])
    return _table(run, color)


# --- one output record ---------------------------------------------------------------------------
# Every claim leaves verify as the record ``ClaimResult.to_dict`` builds (``export`` builds
# the same from stored verdicts): the CSV and Markdown writers below take those records,
# so a check's output and an export have the same columns.

CSV_COLUMNS = ["claim_id", "document_id", "label", "score", "conflicting", "needs_review", "review", "claim",
               "reason", "evidence", "speaker", "affiliation", "date", "url", "similarity", "p_entail",
               "p_contradict"]


def deciding_evidence(record: dict) -> dict:
    """The evidence record that decided the verdict ({} when none did)."""
    i, evidence = record.get("decisive"), record.get("evidence") or []
    return evidence[i] if i is not None and i < len(evidence) else {}


def records_csv(records: list[dict]) -> str:
    """Claim records as CSV: one row each, the deciding evidence beside it, formulas neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in records:
        best = deciding_evidence(r)
        w.writerow([csv_safe(x) for x in [
            r["claim_id"], r.get("document_id") or "", r["label"], r["score"], int(r["conflicting"]),
            r.get("needs_review") or "", (r.get("review") or {}).get("label", ""), r["text"], r["reason"],
            best.get("text", ""), speaker_of(best), best.get("affiliation") or "", best.get("date") or "",
            best.get("url") or "", best.get("similarity", ""), best.get("p_entail", ""), best.get("p_contradict", "")]])
    return buf.getvalue().rstrip("\n")


def records_markdown(records: list[dict]) -> str:
    """Claim records as a Markdown table, every cell inert (``md_cell``)."""
    lines = ["| # | label | score | claim | reason | needs review | review |", "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['claim_id']} | {r['label']}{' (conflicting)' if r['conflicting'] else ''} "
                     f"| {r['score']:.2f} | {md_cell(r['text'])} | {md_cell(r['reason'])} "
                     f"| {md_cell(r.get('needs_review') or '')} | {md_cell((r.get('review') or {}).get('label', ''))} |")
    return "\n".join(lines)


def csv_safe(value):
    """Neutralise spreadsheet formulas: source text must never run in a desk's spreadsheet."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def speaker_of(e: dict) -> str:
    """Who said an evidence sentence: its speaker, or for narration its publisher."""
    if e.get("speaker"):
        return e["speaker"]
    return f"{e['publisher']} (narration)" if e.get("publisher") else ""


def md_cell(text: str) -> str:
    """Source text as inert Markdown: no tables broken, no HTML, links or images rendered."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "|[]!`*_":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _table(run, color: bool) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, expand=False)
    for col in ("#", "label", "score", "claim", "reason"):
        table.add_column(col, overflow="fold")
    for r in run.results:
        label = r.verdict.label + (" ⚠" if r.verdict.conflicting else "") + (" ⚑" if r.verdict.needs_review else "")
        style = COLOURS[r.verdict.label] if color else None
        reason = r.verdict.reason + (f" — needs review: {r.verdict.needs_review}" if r.verdict.needs_review else "")
        table.add_row(str(r.claim_id), f"[{style}]{label}[/]" if style else label, f"{r.verdict.score:.2f}",
                      r.text, reason)
    c = run.counts()
    console = Console(file=io.StringIO(), width=_width(), no_color=not color, force_terminal=color, highlight=False)
    console.print(table)
    review = sum(bool(r.verdict.needs_review) for r in run.results)
    side = run.manifest.get("official_side")
    console.print(f"{'run ' + str(run.run_id) if run.run_id else 'scratch check (not saved)'}: "
                  f"{c['consistent']} consistent, {c['novel']} novel, "
                  f"{c['contradictory']} contradictory, {review} need review (⚑) · "
                  f"NLI: {run.manifest['nli_model'] or 'none (similarity only)'} · "
                  f"official side: {', '.join(side) if side else 'any speaker'}")
    return console.file.getvalue().rstrip("\n")


def _width() -> int:
    """The terminal's width when printing to one (the claim column folds into it); 160 otherwise."""
    import shutil
    import sys

    if sys.stdout.isatty():
        return max(60, shutil.get_terminal_size((160, 24)).columns)
    return 160


def render_explain(trail: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(trail, indent=2, ensure_ascii=False)
    c, v, m = trail["claim"], trail["verdict"], trail["run"]
    out = [f"claim {c['id']}: {c['text']}"]
    if c.get("document_id"):
        out.append(f"  in document {c['document_id']} ({c.get('document_title') or 'untitled'}), "
                   f"characters {c['start']}-{c['end']}")
    out.append(f"verdict: {v['label']}{' (conflicting)' if v['conflicting'] else ''}, score {v['score']:.2f}")
    out.append(f"reason: {v['reason']}" + (f" [{v['code']}]" if v.get("code") else ""))
    if v.get("probabilities"):
        out.append("fitted decision: " + ", ".join(f"P({k}) {p:.2f}" for k, p in v["probabilities"].items()))
    if v.get("needs_review"):
        out.append(f"needs review: {v['needs_review']}" + (f" [{v['review_code']}]" if v.get("review_code") else ""))
    for i, clause in enumerate(v.get("clauses") or []):
        out.append(f"  claim clause {i}: {clause}")
    side = m.get("official_side")
    out.append(f"evidence (official side: {', '.join(side) if side else 'any speaker'}):")
    for e in trail["evidence"]:
        probs = ("" if e["p_entail"] is None else
                 f" entail {e['p_entail']:.2f} neutral {e['p_neutral']:.2f} contradict {e['p_contradict']:.2f}")
        counted = "" if e.get("counted", True) else " [not counted: not the official side]"
        out.append(f"  [{e['rank']}] similarity {e['similarity']:.2f}{probs}{counted}")
        out.append(f"      \"{e['text']}\"")
        if e.get("read_as") and e["read_as"] != e["text"]:
            out.append(f"      read as: \"{e['read_as']}\"")
        if e.get("claim_read_as"):
            back = "" if e.get("reverse_entail") is None else (
                f"; the other way: entail {e['reverse_entail']:.2f} contradict {e['reverse_contradict']:.2f}")
            out.append(f"      claim read as: \"{e['claim_read_as']}\"; alignment {e['subject_overlap']:.2f}"
                       + (f" (unmatched: {', '.join(e['unmatched'])})" if e.get("unmatched") else "") + back)
        who = speaker_of(e) or "speaker unknown"
        if e.get("affiliation"):
            who += f" ({e['affiliation']})"
        if e.get("attribution"):
            who += f", {e['attribution']}" + (f": \u201c{e['cue']}\u201d" if e.get("cue") else "")
        out.append(f"      {who}")
        # A PDF's page, and OCR'd text flagged with its confidence: a misread number is the scan's, not the official's.
        page = f" page {e['page']}" if e.get("page") else ""
        if e.get("ocr_confidence") is not None:
            page += f" (OCR, confidence {e['ocr_confidence']:.2f})"
        out.append(f"      {e.get('date') or 'date unknown'} · "
                   f"{e.get('title') or 'untitled'} · {e.get('url') or 'no URL'} · "
                   f"document {e['document_id']}{page} chars {e['start']}-{e['end']} · "
                   f"said {e.get('relation') or 'unknown'} relative to the report")
        for u in e.get("clauses") or []:
            part = f"clause {u['claim_clause']} of the claim" if u["claim_clause"] is not None else "the claim"
            src = f"\u201c{u['official']}\u201d" if u["official"] else "the whole sentence"
            out.append(f"      {src} vs {part}: entail {u['p_entail']:.2f} neutral {u['p_neutral']:.2f} "
                       f"contradict {u['p_contradict']:.2f}, alignment {u['subject_overlap']:.2f}")
        if e.get("decisive_mismatches"):
            out.append("      decisive mismatch: " + "; ".join(
                f"{m['kind']}: claim {m['claim']} / official {m['official']}" for m in e["decisive_mismatches"]))
        if e.get("why_not"):
            out.append(f"      why it did not decide: {e['why_not']}")
        if e.get("flags"):
            out.append(f"      flags: {', '.join(e['flags'])}")
    out.append(f"run {m['id']} at {m.get('time')}: {m.get('code_version')}; embeddings {m.get('embed_model')}; "
               f"NLI {m.get('nli_model') or 'none (similarity only)'}; k={m.get('k')}; "
               f"corpus {m.get('corpus_fingerprint')}")
    out.append(f"thresholds: {json.dumps(m.get('thresholds'))}")
    return "\n".join(out)
