"""A subprocess worker for crash and concurrency tests: verify's library with the fake models.

Usage::

    python tests/worker.py DB ingest KIND PATH...        # verify.pipeline.ingest.ingest_paths
    python tests/worker.py DB index                      # open_index(corpus, FakeEmbedder()).ensure()
    python tests/worker.py DB check REPORT_PATH          # ingest the report, Checker(...).check_documents
    python tests/worker.py DB recheck [--wait SECONDS]   # verify.pipeline.recheck.recheck under the recheck lock

DB is a corpus.db path or a postgresql:// URL.
    python tests/worker.py DB cli ARGS...                # the real `verify` command line, fake models

The worker prints ``ready`` on stdout once the corpus is open (so a test can time a kill
from there), ``stored N`` after each batch of verdicts a check stores, then one JSON line
with the result. A ``VerifyError`` is printed as one
``error: ...`` line on stderr with exit status 2, the way the real command line does;
anything else is left to raise (a traceback is a test failure).

Environment:

* ``FAKE_SLOW_MS``: the fake models sleep this long per text / pair (see fakes.py).
* ``WORKER_SLOW_INGEST_MS``: sleep this long per sentence while a document's sentences are
  inserted, i.e. inside the document's transaction, so kills land mid-write.
* ``WORKER_NET_LOG``: a file; every socket connect / DNS lookup is appended to it.
* ``WORKER_HOLD_AT``: a progress line (``stored 64``) or its first word (``stored``: the
  first batch). Having printed the first progress line that matches, the worker waits for a
  line on stdin before going on: a test that kills it then kills it mid-run by construction,
  with that batch stored and the next not begun (``crashkit.kill_on``).

The module also has helpers (``write_official_dir``, ``write_report``) that tests import.
"""
from __future__ import annotations

import json
import os
import random
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))


# --- generated corpora (used by tests, and cheap to make) ----------------------------------

SUBJECTS = ["The United States", "NATO", "The alliance", "Washington", "The delegation", "The minister",
            "The Secretary of State", "The spokesman", "The embassy", "The government"]
VERBS = ["proposed", "rejected", "discussed", "welcomed", "offered", "announced", "postponed", "supported"]
OBJECTS = ["talks on missile limits", "transparency measures on force posture",
           "reciprocal limits on military exercises", "a new round of talks in Geneva",
           "the reopening of its office in Moscow",
           "a withdrawal of troops from the border", "an exchange of letters on arms control",
           "a meeting of the council", "sanctions on the energy sector", "a ceasefire along the line of contact"]
TAILS = ["in Europe", "on Wednesday", "with its partners", "after the summit", "for the first time",
         "in a written response", "at the press conference", "during the visit"]
CITIES = ["Geneva", "Brussels", "Vienna", "Moscow", "Kyiv", "Warsaw", "Riga", "Oslo"]


def sentence(rng: random.Random) -> str:
    return (f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}, "
            f"in round {rng.randint(1, 99999)}.")


def official_text(i: int, n_sentences: int, seed: int = 0) -> str:
    rng = random.Random(seed * 100003 + i)
    lines = [f"Briefing number {i} took place in {rng.choice(CITIES)} on day {1 + i % 28} of the month."]
    lines += [sentence(rng) for _ in range(n_sentences - 1)]
    return "\n".join(lines) + "\n"


def write_official_dir(directory: Path, n_docs: int, n_sentences: int = 6, seed: int = 0) -> list[Path]:
    """``n_docs`` distinct official statements, one .txt file each, ``n_sentences`` sentences each."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_docs):
        p = directory / f"statement_{seed:03d}_{i:04d}.txt"
        p.write_text(official_text(i, n_sentences, seed))
        paths.append(p)
    return paths


def write_report(path: Path, n_claims: int, seed: int = 0) -> Path:
    """A leak report of ``n_claims`` distinct check-worthy sentences, one per line."""
    rng = random.Random(10_000 + seed)
    lines = [f"Leaked cables, part {seed}", ""]
    for i in range(n_claims):
        s = sentence(rng)
        s = s[0].lower() + s[1:] if s.startswith("The ") else s
        lines.append(f"According to leaked cable number {seed}-{i}, {s}")
    path.write_text("\n".join(lines) + "\n")
    return path


# --- instrumentation -------------------------------------------------------------------------

def _install_net_log(log: str) -> None:
    """Record (and still allow) every outbound socket operation, in this process."""
    def record(what, address):
        with open(log, "a") as f:
            f.write(f"{what} {address!r}\n")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto, real_create, real_gai = socket.socket.sendto, socket.create_connection, socket.getaddrinfo

    def connect(self, address):
        record("connect", address)
        return real_connect(self, address)

    def connect_ex(self, address):
        record("connect_ex", address)
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        record("sendto", args[-1] if args else None)
        return real_sendto(self, data, *args)

    def create_connection(address, *args, **kwargs):
        record("create_connection", address)
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        record("getaddrinfo", host)
        return real_gai(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
    socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo


class _SlowSentences(list):
    """A document's sentence list that is slow to iterate: add_document iterates it while
    inserting sentence rows, after the document row, inside the document's transaction."""

    def __iter__(self):
        ms = float(os.environ.get("WORKER_SLOW_INGEST_MS") or 0)
        for item in super().__iter__():
            if ms:
                time.sleep(ms / 1000.0)
            yield item


def _slow_ingest() -> None:
    import verify.pipeline.ingest as ingest_mod

    real = ingest_mod.build_document

    def build_document(*args, **kwargs):
        doc = real(*args, **kwargs)
        doc.sentences = _SlowSentences(doc.sentences)
        return doc

    ingest_mod.build_document = build_document


def _fake_models() -> None:
    """Make the real command line use the fakes ('none' still means no NLI model)."""
    import verify.pipeline.embed
    import verify.pipeline.nli

    from fakes import FakeEmbedder, FakeNLI

    def load_nli(spec):
        if (spec or os.environ.get("VERIFY_NLI_MODEL") or "").lower() == "none":
            return None
        return FakeNLI()

    verify.pipeline.embed.SentenceTransformerEmbedder = lambda *a, **k: FakeEmbedder()
    verify.pipeline.nli.load_nli = load_nli


# --- commands --------------------------------------------------------------------------------

K = 3  # evidence sentences per claim, for checks and rechecks alike


def _checkpoint(line: str) -> None:
    """Print a progress line (a kill point); hold there if it is ``WORKER_HOLD_AT``'s, until told to go on."""
    print(line, flush=True)
    hold = os.environ.get("WORKER_HOLD_AT")
    if hold and (line == hold or line.startswith(hold + " ")):
        os.environ.pop("WORKER_HOLD_AT")  # once: later batches run on
        sys.stdin.readline()  # a line, or stdin closed: go on


def _ready() -> None:
    print("ready", flush=True)


def _done(result: dict) -> None:
    print(json.dumps(result), flush=True)


def setup_for(corpus) -> dict:
    """What recheck compares a verdict's manifest with, for checks made by this worker."""
    from verify.pipeline.retrieve import Scope
    from verify.pipeline.thresholds import load_thresholds

    return {"embed_model": "fake-embed", "nli_model": "fake-nli", "k": K, "retrieval": "hybrid",
            "scope": Scope().as_dict(), "thresholds": load_thresholds(corpus, "fake-nli").as_dict()}


def make_checker(corpus):
    from verify.pipeline.check import Checker

    from fakes import FakeEmbedder, FakeNLI

    return Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=K)


def cmd_ingest(corpus, kind: str, paths: list[str]) -> dict:
    from verify.pipeline.ingest import ingest_paths

    results = ingest_paths(corpus, kind, paths)
    return {"added": sum(r.created for r in results), "unchanged": sum(not r.created and not r.error for r in results),
            "errors": [r.error for r in results if r.error]}


def cmd_index(corpus) -> dict:
    from verify.pipeline.index import open_index

    from fakes import FakeEmbedder

    embedder = FakeEmbedder()
    done = 0

    def progress(n: int) -> None:  # after each batch is embedded, cached and indexed: a kill point
        nonlocal done
        done += n
        _checkpoint(f"indexed {done}")

    status = open_index(corpus, embedder).ensure(progress=progress)
    return {"action": status.action, "count": status.count, "added": status.added, "reason": status.reason,
            "texts_encoded": embedder.texts_encoded}


def cmd_check(corpus, report: str) -> dict:
    from verify.errors import InputError
    from verify.pipeline.ingest import ingest_paths

    results = ingest_paths(corpus, "report", [report])
    for r in results:
        if r.error:
            raise InputError(r.error)
    doc_ids = list(dict.fromkeys(r.document_id for r in results))
    done = 0

    def progress(n: int) -> None:  # after each batch's verdicts are stored: a kill point tests can wait for
        nonlocal done
        done += n
        _checkpoint(f"stored {done}")

    run = make_checker(corpus).check_documents(doc_ids, progress)
    return {"run_id": run.run_id, "claims": len(run.results), "counts": run.counts(), "documents": doc_ids}


def cmd_recheck(corpus, wait: float) -> dict:
    from verify.pipeline.recheck import recheck

    with corpus.exclusive("recheck", wait):
        result = recheck(corpus, lambda: make_checker(corpus), setup=setup_for(corpus))
    return {"run_id": result.run_id, "claims": result.claims, "rescored": result.rescored,
            "carried": result.carried, "model_loaded": result.model_loaded}


def cmd_cli(db: str, args: list[str]) -> int:
    import verify.cli

    _fake_models()
    os.environ["VERIFY_DB"] = db
    sys.argv = ["verify", *args]
    try:
        verify.cli.main()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def main(argv: list[str]) -> int:
    # No entity model in any worker command: loading spaCy would dominate these short
    # fake-model runs and move the points where the crash tests' kills land.
    from verify import loading

    from fakes import FakeEntityTagger

    loading.register(parser=FakeEntityTagger, entity_tagger=FakeEntityTagger)
    if os.environ.get("WORKER_NET_LOG"):
        _install_net_log(os.environ["WORKER_NET_LOG"])
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    db, command, rest = argv[0], argv[1], argv[2:]
    if command == "cli":
        return cmd_cli(db, rest)
    from verify.errors import VerifyError
    from verify.store import open_corpus

    if os.environ.get("WORKER_SLOW_INGEST_MS"):
        _slow_ingest()
    try:
        corpus = open_corpus(db)
        _ready()
        if command == "ingest":
            result = cmd_ingest(corpus, rest[0], rest[1:])
        elif command == "index":
            result = cmd_index(corpus)
        elif command == "check":
            result = cmd_check(corpus, rest[0])
        elif command == "recheck":
            wait = float(rest[rest.index("--wait") + 1]) if "--wait" in rest else 0.0
            result = cmd_recheck(corpus, wait)
        else:
            print(f"unknown command {command!r}", file=sys.stderr)
            return 64
    except VerifyError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    _done(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
