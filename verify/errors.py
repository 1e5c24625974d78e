"""Named exceptions. The CLI turns each into one line on stderr and a non-zero exit.

The store raises only these: a database driver's exception (sqlite3, psycopg) is turned
into one of the ``CorpusError`` kinds below where it happens, its original kept as the
``__cause__``. Messages say what is wrong; the CLI adds which of its options fixes it.
"""


class VerifyError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 2


class InputError(VerifyError):
    """A file or argument that cannot be used as given (missing, empty, binary, malformed)."""


class ModelError(VerifyError):
    """A model directory that is missing, damaged or not of the expected kind."""


class CorpusError(VerifyError):
    """The database cannot be used (newer schema, unknown ids, nothing to check against)."""


class CorpusUnreadable(CorpusError):
    """Not a usable database: damaged, not SQLite at all, or not a verify corpus."""


class CorpusBusy(CorpusError):
    """Another process held the database's write lock for longer than a writer waits."""


class LockHeld(CorpusBusy):
    """Another process holds a named lock (``Corpus.exclusive``: the recheck lock)."""


class ConnectionLost(CorpusError):
    """The database server went away mid-command: what was not committed is gone, nothing else."""


class WriteRefused(CorpusError):
    """The database refused a write (a constraint, an append-only table, a full disk, no
    permission); the transaction it was part of was rolled back whole."""


class Conflict(WriteRefused):
    """Another writer stored a row with the same unique key first; trying again finds it."""


class Exists(CorpusError):
    """Already stored under that name (a desk account); replacing it has to be asked for."""


class InUse(CorpusError):
    """Refused because something still relies on it (a document verdicts rest on)."""
