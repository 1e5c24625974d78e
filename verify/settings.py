"""verify's settings: every ``VERIFY_*`` environment variable, in one place.

``settings()`` reads the environment each time it is called, never at import, so a test's
``monkeypatch.setenv`` or a worker's ``os.environ`` change takes effect at once. A command-line
option, where there is one, wins over its variable.

| variable | what it sets | default |
|---|---|---|
| ``VERIFY_DB`` | the corpus: a corpus.db path or a ``postgresql://`` URL | ``./corpus.db`` |
| ``VERIFY_USER`` | who is working, recorded on runs and reviews | the login name |
| ``VERIFY_NLI_MODEL`` | an NLI model directory, or ``none`` for similarity only | the shipped model |
| ``VERIFY_DESK`` / ``VERIFY_DESK_URL`` | ClaimReview's author and the page the reviews appear on | none |
| ``VERIFY_EXACT_LIMIT`` | official sentences below which the FAISS index is exact (flat) | 200,000 |
| ``VERIFY_MAX_BYTES`` / ``VERIFY_MAX_PDF_BYTES`` | the largest text file / PDF or image ingested | 20 MiB / 200 MiB |
| ``VERIFY_OCR_TIMEOUT`` | seconds Tesseract may take over one page | 300 |
| ``VERIFY_DEBUG`` | show the traceback of an unexpected error | off |
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from verify.errors import InputError


@dataclass(frozen=True)
class Settings:
    db: str | None = None
    user: str | None = None
    nli_model: str | None = None
    desk: str | None = None
    desk_url: str | None = None
    exact_limit: int = 200_000
    max_bytes: int = 20 * 1024 * 1024
    max_pdf_bytes: int = 200 * 1024 * 1024
    ocr_timeout: float = 300.0
    debug: bool = False


def _number(env: Mapping[str, str], name: str, default, kind: type):
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise InputError(f"{name}={value!r} is not a {'whole ' if kind is int else ''}number") from None
    if number <= 0:
        raise InputError(f"{name}={value!r} must be above 0")
    return number


def settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment gives now (``env``: another mapping, for tests).

    Raises:
        InputError: a numeric variable that is not a positive number.
    """
    env = os.environ if env is None else env
    text = {name: env.get(f"VERIFY_{name.upper()}") or None for name in ("db", "user", "nli_model", "desk", "desk_url")}
    defaults = Settings()
    return Settings(
        **text,
        exact_limit=_number(env, "VERIFY_EXACT_LIMIT", defaults.exact_limit, int),
        max_bytes=_number(env, "VERIFY_MAX_BYTES", defaults.max_bytes, int),
        max_pdf_bytes=_number(env, "VERIFY_MAX_PDF_BYTES", defaults.max_pdf_bytes, int),
        ocr_timeout=_number(env, "VERIFY_OCR_TIMEOUT", defaults.ocr_timeout, float),
        debug=env.get("VERIFY_DEBUG", "").strip().lower() not in ("", "0", "false", "no"),
    )
