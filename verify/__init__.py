"""verify: check leak reports, claim by claim, against official public statements.

Typical use::

    from verify import Corpus, Checker
    corpus = Corpus("corpus.db")
    run = Checker(corpus).check_text("NATO offered Russia talks on missile limits.", save=False)
    for result in run.results:
        print(result.verdict.label, result.verdict.score, result.verdict.reason)

Heavy libraries (torch, faiss, transformers) are imported only when a model or an
index is first needed, so commands that need none stay fast.
"""
from __future__ import annotations

import os

# Leaked text must never leave the machine, and a desk machine may be air-gapped:
# forbid every hub download before any model library can be imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

__version__ = "0.2.0"

__all__ = ["Corpus", "Checker", "VerifyError", "open_corpus", "__version__"]


def __getattr__(name: str):
    # Lazy so that `import verify` (and `verify --help`) does not pay for numpy or models.
    if name == "Corpus":
        from verify.store.corpus import Corpus

        return Corpus
    if name == "open_corpus":  # a corpus.db path or a postgresql:// URL
        from verify.store import open_corpus

        return open_corpus
    if name == "Checker":
        from verify.pipeline.check import Checker

        return Checker
    if name == "VerifyError":
        from verify.errors import VerifyError

        return VerifyError
    raise AttributeError(name)
