"""Small helpers shared by several stages."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (its first), for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def text_hash(text: str) -> str:
    """Content hash used as the cache key for embeddings and NLI scores."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _umask() -> int:
    # The only way to read the umask is to set it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see either the old file or the new one, never half.

    The file gets the permissions any new file would (0666 less the umask): the temporary
    file it is renamed from is created 0600, which would lock out the other editors of a
    shared desk server.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
