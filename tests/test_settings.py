"""verify's settings: every VERIFY_* variable read in one place, when it is used (never at import)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from verify.errors import InputError
from verify.settings import Settings, settings

PACKAGE = Path(__file__).resolve().parent.parent / "verify"


def test_defaults_without_variables():
    assert settings({}) == Settings()
    assert settings({}).exact_limit == 200_000 and settings({}).max_bytes == 20 * 1024 * 1024


def test_variables_are_read_when_asked_not_at_import(monkeypatch):
    monkeypatch.setenv("VERIFY_EXACT_LIMIT", "1000")
    monkeypatch.setenv("VERIFY_MAX_BYTES", "100")
    monkeypatch.setenv("VERIFY_MAX_PDF_BYTES", "200")
    monkeypatch.setenv("VERIFY_OCR_TIMEOUT", "2.5")
    monkeypatch.setenv("VERIFY_DB", "/tmp/x.db")
    monkeypatch.setenv("VERIFY_DEBUG", "1")
    now = settings()
    assert (now.exact_limit, now.max_bytes, now.max_pdf_bytes, now.ocr_timeout) == (1000, 100, 200, 2.5)
    assert now.db == "/tmp/x.db" and now.debug
    monkeypatch.setenv("VERIFY_DEBUG", "0")
    assert not settings().debug


def test_the_index_size_limit_applies_as_soon_as_it_is_set(monkeypatch):
    pytest.importorskip("faiss")
    import numpy as np

    from verify.pipeline.index import index_kind, new_faiss

    sample = np.random.default_rng(0).standard_normal((2000, 8)).astype(np.float32)
    monkeypatch.setenv("VERIFY_EXACT_LIMIT", "10")
    assert index_kind(new_faiss(100, 8, sample)) != "IndexFlatIP"
    monkeypatch.setenv("VERIFY_EXACT_LIMIT", "1000")
    assert index_kind(new_faiss(100, 8, sample)) == "IndexFlatIP"


@pytest.mark.parametrize("value", ["ten", "-3", "0", "1.5"])
def test_a_malformed_number_names_the_variable(value):
    with pytest.raises(InputError, match="VERIFY_EXACT_LIMIT"):
        settings({"VERIFY_EXACT_LIMIT": value})


def test_no_module_reads_a_verify_variable_but_settings():
    reads = re.compile(r"""(os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']VERIFY_""")
    found = [f"{p.relative_to(PACKAGE)}:{i}" for p in PACKAGE.rglob("*.py") if p.name != "settings.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if reads.search(line)]
    assert found == []


def test_shared_data_tests_skip_on_a_fresh_clone_and_fail_in_ci(monkeypatch, tmp_path):
    import conftest

    monkeypatch.setattr(conftest, "SEEDS", tmp_path / "no-seeds")
    monkeypatch.delenv("VERIFY_REQUIRE_SHARED", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared"):
        conftest.require_shared()
    monkeypatch.setenv("VERIFY_REQUIRE_SHARED", "1")
    with pytest.raises(pytest.fail.Exception, match="VERIFY_REQUIRE_SHARED"):
        conftest.require_shared()


def test_ci_requires_the_shared_data_and_postgres():
    ci = (PACKAGE.parent / ".ci" / "run").read_text()
    assert "VERIFY_REQUIRE_SHARED=1" in ci and "VERIFY_REQUIRE_POSTGRES=1" in ci
