"""Output formats: every one parses and carries the claims, labels and run."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from verify.outputs.render import FORMATS, render_explain, render_run
from verify.pipeline.check import CheckRun, evidence_trail

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def run(populated, checker):
    return checker.check_document(populated)


def test_formats_listed():
    assert set(FORMATS) == {"table", "json", "jsonl", "csv", "markdown"}


def test_json(run):
    data = json.loads(render_run(run, "json"))
    assert data["run"]["id"] == run.run_id and data["run"]["embed_model"] == "fake-embed"
    assert data["summary"] == {"consistent": 1, "novel": 1, "contradictory": 1}
    assert [c["text"] for c in data["claims"]] == [r.text for r in run.results]
    assert [c["label"] for c in data["claims"]] == [r.verdict.label for r in run.results]
    for c, r in zip(data["claims"], run.results):
        assert c["claim_id"] == r.claim_id and (c["start"], c["end"]) == (r.start, r.end)
        assert c["evidence"] and all({"text", "similarity", "p_entail", "speaker", "date", "url"} <= set(e)
                                     for e in c["evidence"])


def test_json_keeps_non_ascii(checker, populated):
    run = checker.check_text("The café in Zürich hosted the talks on reciprocal limits.")
    out = render_run(run, "json")
    assert "café in Zürich" in out and json.loads(out)["claims"][0]["text"].startswith("The café")


def test_jsonl(run):
    lines = render_run(run, "jsonl").splitlines()
    assert len(lines) == len(run.results)
    rows = [json.loads(line) for line in lines]
    assert all(r["run_id"] == run.run_id for r in rows)
    assert [r["text"] for r in rows] == [r.text for r in run.results]


def test_csv(run):
    rows = list(csv.reader(io.StringIO(render_run(run, "csv"))))
    header, body = rows[0], rows[1:]
    assert header[:8] == ["claim_id", "document_id", "label", "score", "conflicting", "needs_review", "review", "claim"]
    assert len(body) == len(run.results)
    for row, r in zip(body, run.results):
        record = dict(zip(header, row))
        assert record["claim"] == r.text and record["label"] == r.verdict.label
        assert int(record["claim_id"]) == r.claim_id and record["reason"] == r.verdict.reason
        assert 0.0 <= float(record["score"]) <= 1.0
        best = r.evidence[r.verdict.decisive]
        assert record["evidence"] == best.sentence["text"]


def test_csv_quotes_commas_newlines_and_quotes(checker, populated):
    run = checker.check_text('Officials said "reciprocal limits, on exercises" were offered, again.')
    (header, row) = list(csv.reader(io.StringIO(render_run(run, "csv"))))
    assert dict(zip(header, row))["claim"] == 'Officials said "reciprocal limits, on exercises" were offered, again.'


def test_markdown(run):
    out = render_run(run, "markdown")
    lines = out.splitlines()
    assert lines[0] == f"## verify run {run.run_id}"
    assert "1 consistent, 1 novel, 1 contradictory" in out and "fake-nli" in out
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| #")]
    assert len(table) == len(run.results)
    for line, r in zip(table, run.results):
        assert len(re.findall(r"(?<!\\)\|", line)) == 8  # exactly 7 cells (the last two: needs review, review)
        assert r.text in line and r.verdict.label in line


def test_markdown_escapes_pipes(checker, populated):
    run = checker.check_text("NATO | the alliance will reopen its office in Moscow.")
    row = [line for line in render_run(run, "markdown").splitlines() if "NATO" in line][0]
    assert "NATO \\| the alliance" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 8  # 7 columns, no extra cell from the claim


def test_table_without_colour(run):
    out = render_run(run, "table", color=False)
    assert not ANSI.search(out)
    for r in run.results:
        assert r.verdict.label in out and str(r.claim_id) in out
        assert r.text.split()[0] in out
    assert f"run {run.run_id}: 1 consistent, 1 novel, 1 contradictory" in out
    assert "NLI: fake-nli" in out


def test_table_with_colour(run):
    out = render_run(run, "table", color=True)
    assert ANSI.search(out)
    assert "contradictory" in ANSI.sub("", out)


def test_unknown_format_falls_back_to_table(run):
    assert render_run(run, "table", color=False) == render_run(run, "whatever", color=False)


def test_empty_run_renders_everywhere():
    empty = CheckRun(7, {"mode": "nli", "nli_model": None})
    assert json.loads(render_run(empty, "json"))["claims"] == []
    assert render_run(empty, "jsonl") == ""
    assert len(list(csv.reader(io.StringIO(render_run(empty, "csv"))))) == 1
    assert "0 consistent, 0 novel, 0 contradictory" in render_run(empty, "markdown")
    assert "run 7" in render_run(empty, "table", color=False)


def test_explain_text_and_json(corpus, run):
    target = [r for r in run.results if r.verdict.label == "contradictory"][0]
    trail = evidence_trail(corpus, target.claim_id)
    text = render_explain(trail)
    assert text.startswith(f"claim {target.claim_id}: {target.text}")
    assert f"characters {target.start}-{target.end}" in text
    assert "verdict: contradictory" in text and f"reason: {target.verdict.reason}" in text
    assert "[1] similarity" in text and "contradict 0.90" in text
    assert "We will not halt the enlargement of NATO" in text
    assert f"run {run.run_id} at" in text and "fake-embed" in text and "k=3" in text
    assert json.loads(render_explain(trail, "json")) == json.loads(json.dumps(trail))
