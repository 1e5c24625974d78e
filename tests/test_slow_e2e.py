"""End to end with the real bundled embedder (and the shipped NLI model when it exists).

Slow: loads all-MiniLM-L6-v2 (and the NLI cross-encoder). Run with ``pytest -m slow``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from verify.pipeline.nli import default_nli_path
from verify.store.corpus import Corpus

from conftest import SEEDS, needs_shared

pytestmark = pytest.mark.slow

OFFICIAL = [p for p in sorted(SEEDS.glob("*.txt")) if not p.name.startswith("002")]
REPORT = SEEDS / "002_ab1dd8fec3c35067.txt"
HAS_NLI = default_nli_path() is not None
needs_nli = pytest.mark.skipif(not HAS_NLI, reason="no shipped NLI model")
LABELS = {"consistent", "novel", "contradictory"}
CLAIM_KEYS = {"claim_id", "text", "document_id", "start", "end", "label", "score", "reason", "conflicting", "evidence"}
EVIDENCE_KEYS = {"rank", "sentence_id", "text", "document_id", "title", "url", "speaker", "date", "start", "end",
                 "similarity", "p_entail", "p_neutral", "p_contradict", "flags", "relation"}


@pytest.fixture(scope="session")
def real_embedder():
    from verify.pipeline.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def verify_cli(args, cwd, nli="none", timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("VERIFY_DB", None)
    if nli is None:
        env.pop("VERIFY_NLI_MODEL", None)
    else:
        env["VERIFY_NLI_MODEL"] = nli
    proc = subprocess.run([sys.executable, "-m", "verify", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_real_embedder_is_normalised_and_meaningful(real_embedder):
    vecs = real_embedder.encode(["NATO offered Russia talks on arms control.",
                                 "The alliance proposed arms-control talks to Moscow.",
                                 "The recipe needs two eggs and a cup of flour."])
    assert vecs.shape == (3, real_embedder.dim) and vecs.dtype == np.float32 and real_embedder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert real_embedder.encode([]).shape == (0, 384)


@needs_shared
def test_library_checks_the_seed_report_similarity_only(tmp_path, real_embedder):
    from verify.pipeline.check import Checker, evidence_trail
    from verify.pipeline.ingest import ingest_paths

    corpus = Corpus(tmp_path / "corpus.db")
    assert all(r.error is None for r in ingest_paths(corpus, "official", OFFICIAL))
    (rep,) = ingest_paths(corpus, "report", [REPORT], {"date": "2022-01-27"})
    run = Checker(corpus, embedder=real_embedder, nli=None, k=5).check_document(rep.document_id)
    text = corpus.document(rep.document_id)["text"]
    assert len(run.results) >= 10
    for r in run.results:
        assert text[r.start:r.end] == r.text
        assert r.verdict.label in {"consistent", "novel"} and "similarity only" in r.verdict.reason
        assert 0.0 <= r.verdict.score <= 1.0
        assert 1 <= len(r.evidence) <= 5
        assert all(corpus.document(e.sentence["document_id"])["kind"] == "official" for e in r.evidence)
    trail = evidence_trail(corpus, run.results[0].claim_id)
    assert trail["run"]["embed_model"] == "all-MiniLM-L6-v2"


def _check_seed_report(tmp_path, nli):
    db = tmp_path / "corpus.db"
    proc = verify_cli(["ingest", "official", *OFFICIAL, "--db", db], tmp_path, nli)
    assert proc.returncode == 0, proc.stderr
    assert "4 added, 0 unchanged, 0 failed" in proc.stderr
    proc = verify_cli(["check", REPORT, "--db", db, "--format", "json", "--date", "2022-01-27", "-q"], tmp_path, nli)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"run", "summary", "claims"}
    assert set(data["summary"]) == LABELS and sum(data["summary"].values()) == len(data["claims"]) >= 10
    assert {"id", "embed_model", "nli_model", "mode", "k", "thresholds", "corpus_fingerprint"} <= set(data["run"])
    corpus = Corpus(db)
    (report,) = corpus.db["documents"].rows_where("kind = 'report'")
    for c in data["claims"]:
        assert CLAIM_KEYS <= set(c) and c["label"] in LABELS and 0.0 <= c["score"] <= 1.0
        assert report["text"][c["start"]:c["end"]] == c["text"]
        assert c["document_id"] == report["id"]
        assert 1 <= len(c["evidence"]) <= 5
        for e in c["evidence"]:
            assert EVIDENCE_KEYS <= set(e)
            assert corpus.document(e["document_id"])["text"][e["start"]:e["end"]] == e["text"]
    assert not any("Back to top" in c["text"] or "also available in" in c["text"] for c in data["claims"])
    claim_id = data["claims"][0]["claim_id"]
    proc = verify_cli(["explain", claim_id, "--db", db, "--json"], tmp_path, nli)
    assert proc.returncode == 0, proc.stderr
    trail = json.loads(proc.stdout)
    assert trail["claim"]["id"] == claim_id and trail["verdict"]["label"] == data["claims"][0]["label"]
    assert len(trail["evidence"]) == len(data["claims"][0]["evidence"])
    proc = verify_cli(["explain", claim_id, "--db", db], tmp_path, nli)
    assert proc.returncode == 0 and proc.stdout.startswith(f"claim {claim_id}: ")
    return data


@needs_shared
def test_cli_checks_the_seed_report_similarity_only(tmp_path):
    data = _check_seed_report(tmp_path, "none")
    assert data["run"]["mode"] == "similarity-only" and data["run"]["nli_model"] is None
    assert data["summary"]["contradictory"] == 0
    assert all("similarity only" in c["reason"] for c in data["claims"])


@needs_shared
@needs_nli
def test_cli_checks_the_seed_report_with_the_shipped_nli(tmp_path):
    data = _check_seed_report(tmp_path, None)
    assert data["run"]["mode"] == "nli" and data["run"]["nli_model"]
    assert all(e["p_entail"] is not None for c in data["claims"] for e in c["evidence"])


def test_demo_labels_claims(tmp_path):
    proc = verify_cli(["demo", "--db", tmp_path / "demo.db", "--format", "json", "-q"], tmp_path, nli=None)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data["claims"]) >= 5
    assert all(c["label"] in LABELS and c["reason"] for c in data["claims"])
    assert data["run"]["mode"] == ("nli" if HAS_NLI else "similarity-only")
    assert Corpus(tmp_path / "demo.db").execute("select count(*) from runs where status = 'ok'").fetchone()[0] == 1
