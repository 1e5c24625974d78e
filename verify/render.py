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
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["claim_id", "label", "score", "conflicting", "claim", "reason", "evidence", "speaker",
                    "date", "url", "similarity", "p_entail", "p_contradict"])
        for r in run.results:
            best = _best(r)
            w.writerow([csv_safe(x) for x in [r.claim_id, r.verdict.label, r.verdict.score, int(r.verdict.conflicting), r.text,
                        r.verdict.reason, best.get("text", ""), best.get("speaker") or "", best.get("date") or "",
                        best.get("url") or "", best.get("similarity", ""), best.get("p_entail", ""),
                        best.get("p_contradict", "")]])
        return buf.getvalue().rstrip("\n")
    if fmt == "markdown":
        c = run.counts()
        lines = [f"## verify run {run.run_id}", "",
                 f"{c['consistent']} consistent, {c['novel']} novel, {c['contradictory']} contradictory "
                 f"({run.manifest['mode']}; NLI model {run.manifest['nli_model'] or 'none'})", "",
                 "| # | label | score | claim | reason |", "|---|---|---|---|---|"]
        for r in run.results:
            lines.append(f"| {r.claim_id} | {r.verdict.label}{' (conflicting)' if r.verdict.conflicting else ''} "
                         f"| {r.verdict.score:.2f} | {md_cell(r.text)} | {md_cell(r.verdict.reason)} |")
        return "\n".join(lines)
    return _table(run, color)


def csv_safe(value):
    """Neutralise spreadsheet formulas: source text must never run in a desk's spreadsheet."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _best(r) -> dict:
    if r.verdict.decisive is not None and r.evidence:
        from .check import evidence_dict

        return evidence_dict(r.evidence[r.verdict.decisive])
    return {}


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
        label = r.verdict.label + (" ⚠" if r.verdict.conflicting else "")
        style = COLOURS[r.verdict.label] if color else None
        table.add_row(str(r.claim_id), f"[{style}]{label}[/]" if style else label, f"{r.verdict.score:.2f}",
                      _short(r.text, 90), r.verdict.reason)
    c = run.counts()
    console = Console(file=io.StringIO(), width=160, no_color=not color, force_terminal=color, highlight=False)
    console.print(table)
    console.print(f"run {run.run_id}: {c['consistent']} consistent, {c['novel']} novel, "
                  f"{c['contradictory']} contradictory · NLI: {run.manifest['nli_model'] or 'none (similarity only)'}")
    return console.file.getvalue().rstrip("\n")


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_explain(trail: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(trail, indent=2, ensure_ascii=False)
    c, v, m = trail["claim"], trail["verdict"], trail["run"]
    out = [f"claim {c['id']}: {c['text']}"]
    if c.get("document_id"):
        out.append(f"  in document {c['document_id']} ({c.get('document_title') or 'untitled'}), "
                   f"characters {c['start']}-{c['end']}")
    out.append(f"verdict: {v['label']}{' (conflicting)' if v['conflicting'] else ''}, score {v['score']:.2f}")
    out.append(f"reason: {v['reason']}")
    out.append("evidence:")
    for e in trail["evidence"]:
        probs = ("" if e["p_entail"] is None else
                 f" entail {e['p_entail']:.2f} neutral {e['p_neutral']:.2f} contradict {e['p_contradict']:.2f}")
        out.append(f"  [{e['rank']}] similarity {e['similarity']:.2f}{probs}")
        out.append(f"      \"{e['text']}\"")
        out.append(f"      {e.get('speaker') or 'speaker unknown'} · {e.get('date') or 'date unknown'} · "
                   f"{e.get('title') or 'untitled'} · {e.get('url') or 'no URL'} · "
                   f"document {e['document_id']} chars {e['start']}-{e['end']} · said {e.get('relation') or 'unknown'} "
                   f"relative to the report")
        if e.get("flags"):
            out.append(f"      flags: {', '.join(e['flags'])}")
    out.append(f"run {m['id']} at {m.get('time')}: {m.get('code_version')}; embeddings {m.get('embed_model')}; "
               f"NLI {m.get('nli_model') or 'none (similarity only)'}; k={m.get('k')}; "
               f"corpus {m.get('corpus_fingerprint')}")
    out.append(f"thresholds: {json.dumps(m.get('thresholds'))}")
    return "\n".join(out)
