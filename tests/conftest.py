"""Shared fixtures: deterministic fake models, a fresh corpus, and a no-network guard.

Unit tests never load a real model: ``FakeEmbedder`` and ``FakeNLI`` are small,
deterministic stand-ins that satisfy verify's model interfaces (``verify.pipeline.embed.Embedder``
and ``verify.pipeline.nli.NLIModel``).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository: the seed documents and labelled data. Tests that need
# it skip (see ``needs_shared``) where it is absent, as on a fresh clone without it;
# ``VERIFY_REQUIRE_SHARED=1`` (set by .ci/run) turns that skip into a failure, so CI cannot
# pass by quietly leaving them out.
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "seeds"
EVAL_DIR = SHARED / "eval"
needs_shared = pytest.mark.needs_shared


def require_shared() -> None:
    """Skip the calling test where ../shared is absent; fail it instead under VERIFY_REQUIRE_SHARED."""
    if SEEDS.exists() and EVAL_DIR.exists():
        return
    reason = f"../shared (seed documents, eval data) is not beside the repo ({SHARED})"
    if os.environ.get("VERIFY_REQUIRE_SHARED", "").strip() not in ("", "0"):
        pytest.fail(reason + " (VERIFY_REQUIRE_SHARED is set)", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_shared") is not None:
        require_shared()

# The fakes live in tests/fakes.py so that subprocess workers (tests/worker.py) can use them too.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from fakes import NEGATIONS, STOPWORDS, FakeEmbedder, FakeNLI, content_words, words  # noqa: F401

# --- a tiny hand-written corpus ---------------------------------------------------------

OFFICIAL_TEXT = (
    "SECRETARY BLINKEN: The United States delivered a written response to Russia on Wednesday.\n"
    "We will not halt the enlargement of NATO, and the alliance door remains open.\n"
    "Washington is ready to discuss reciprocal limits on military exercises in Europe.\n"
    "The response proposes transparency measures on force posture in Ukraine.\n"
)
OFFICIAL_TEXT_2 = (
    "NATO Secretary General Jens Stoltenberg said the alliance offered to reopen its office in Moscow.\n"
    "The alliance also called on Russia to withdraw its troops from Ukraine, Georgia and Moldova.\n"
)
REPORT_TEXT = (
    "Leaked replies to Moscow\n"
    "\n"
    "The leaked text says Washington is ready to discuss reciprocal limits on military exercises in Europe.\n"
    "According to the documents, the United States will halt the enlargement of NATO, and the alliance door remains open.\n"
    "The papers claim that a secret tunnel was dug under the embassy garden last spring.\n"
    "Back to top button\n"
)


@pytest.fixture
def register_models():
    """``verify.loading.register``, undone after the test: the one way tests swap models."""
    from verify import loading

    yield loading.register
    loading.reset()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_nli() -> FakeNLI:
    return FakeNLI()


@pytest.fixture
def corpus(tmp_path):
    from verify.store.corpus import Corpus

    c = Corpus(tmp_path / "corpus.db")
    yield c
    try:
        c.close()
    except Exception:
        pass


@pytest.fixture
def checker(corpus, fake_embedder, fake_nli):
    from verify.pipeline.check import Checker

    return Checker(corpus, embedder=fake_embedder, nli=fake_nli, k=3)


def make_document(kind: str, text: str, **meta):
    """A Document built the way ingestion builds it (normalised, segmented)."""
    from verify.pipeline.ingest import build_document

    return build_document(kind, text, meta, source=meta.pop("source", f"test:{kind}"), fmt="txt")


# --- PostgreSQL: a throw-away cluster (tests/pgserver.py) -----------------------------------

def pytest_collection_modifyitems(items):
    # Every test that uses the cluster is marked `postgres`, so `make test-fast` can leave
    # them out like the other tests that start processes.
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "pg_server" in item.fixturenames or "pg_dsn" in item.fixturenames or params.get("store") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_server():
    from pgserver import start_server

    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server):
    """The URL of a new, empty database on the test cluster, dropped after the test."""
    dsn = pg_server.new_database()
    yield dsn
    pg_server.drop_database(dsn)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """A fresh corpus in each backend: the store's tests run against both."""
    from verify.store import open_corpus

    target = str(tmp_path / "corpus.db") if request.param == "sqlite" else request.getfixturevalue("pg_dsn")
    c = open_corpus(target, user="ana")
    yield c
    c.close()


@pytest.fixture
def populated(corpus):
    """The corpus with two official statements and one leak report; returns the report id."""
    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken",
                                      published="2022-01-26", title="Remarks to the press"))
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2, speaker="Jens Stoltenberg",
                                      published="2022-01-26", title="NATO press conference"))
    return corpus.add_document(make_document("report", REPORT_TEXT, published="2022-02-02")).document_id


# --- no network ----------------------------------------------------------------------------

def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # an AF_UNIX socket path
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it would need the network


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to a non-loopback address fails the test that made it."""
    attempts: list = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def guard(address):
        if not _is_local(address):
            attempts.append(address)
            raise NetworkBlocked(f"network access attempted: {address!r}")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        guard(address)
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield attempts
    assert not attempts, f"test tried to reach the network: {attempts}"
