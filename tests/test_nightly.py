"""scripts/nightly-recheck end to end, with the real command line running on fake models."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_recheck import CONFIRMATION

from conftest import OFFICIAL_TEXT, REPORT_TEXT

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "nightly-recheck"
pytestmark = [pytest.mark.subprocess,
              pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1)")]


@pytest.fixture
def desk(tmp_path):
    db = tmp_path / "corpus.db"
    fake = tmp_path / "verify-fake"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'worker.py'} {db} cli \"$@\"\n")
    fake.chmod(0o755)
    env = {**os.environ, "VERIFY": str(fake), "VERIFY_DB": str(db)}
    env.pop("VERIFY_NLI_MODEL", None)
    (tmp_path / "official.txt").write_text(OFFICIAL_TEXT)
    (tmp_path / "leak.txt").write_text(REPORT_TEXT)
    for args in (["ingest", "official", str(tmp_path / "official.txt"), "-q"],
                 ["check", str(tmp_path / "leak.txt"), "-q", "--json"]):
        assert subprocess.run([str(fake), *args], env=env, capture_output=True).returncode == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    return tmp_path, drop, env


def nightly(desk_dir, drop, env):
    return subprocess.run(["bash", str(SCRIPT), str(drop), str(desk_dir / "reports")], env=env,
                          capture_output=True, text=True, cwd=desk_dir, timeout=300)


def test_nothing_new_exits_0_and_writes_a_report(desk):
    tmp, drop, env = desk
    res = nightly(tmp, drop, env)
    assert res.returncode == 0, res.stderr
    [report] = (tmp / "reports").glob("drift-*.md")
    assert "0 changed" in report.read_text()


def test_a_confirming_statement_exits_1_with_its_cause(desk):
    tmp, drop, env = desk
    (drop / "price.txt").write_text(CONFIRMATION)
    res = nightly(tmp, drop, env)
    assert res.returncode == 1, res.stderr
    text = next((tmp / "reports").glob("drift-*.md")).read_text()
    assert "tunnel" in text and "novel" in text and "consistent" in text
    assert (drop / "done" / "price.txt").exists() and not (drop / "price.txt").exists()


def test_a_broken_file_is_set_aside_and_the_rest_still_lands(desk):
    tmp, drop, env = desk
    (drop / "price.txt").write_text(CONFIRMATION)
    (drop / "broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    res = nightly(tmp, drop, env)
    assert res.returncode == 2
    assert "broken.txt" in res.stderr and "Traceback" not in res.stderr
    assert (drop / "failed" / "broken.txt").exists() and (drop / "done" / "price.txt").exists()
    assert "tunnel" in next((tmp / "reports").glob("drift-*.md")).read_text()


def test_overlapping_runs_do_not_run_together(desk):
    tmp, drop, env = desk
    lock = Path(env["VERIFY_DB"] + ".nightly.lock")
    holder = subprocess.Popen(["flock", str(lock), "sleep", "5"])
    try:
        import time

        time.sleep(0.5)
        res = nightly(tmp, drop, env | {"NIGHTLY_LOCK_WAIT": "1"})
        assert res.returncode == 2 and "another nightly recheck is still running" in res.stderr
    finally:
        holder.kill()
