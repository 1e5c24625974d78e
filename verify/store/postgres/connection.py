"""The PostgreSQL connection: the store's SQL in psycopg's dialect, advisory-lock keys, and
psycopg's exceptions turned into verify's own."""
from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator

from verify.errors import Conflict, ConnectionLost, CorpusBusy, CorpusError, WriteRefused
from verify.util import first_line

# Fixed keys for PostgreSQL's advisory locks: migrations and vector-table creation (bigint
# keys), and the named locks of ``exclusive`` and free-text claims (this int key and a hash).
LOCK_BASE = 0x7665726966  # "verif"
LOCK_KEY = LOCK_BASE % 2**31


def redact(dsn: str) -> str:
    """The connection string without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The store's SQL for psycopg: ``?`` placeholders become ``%s`` (a literal % doubles)."""
    return sql.replace("%", "%%").replace("?", "%s")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def store_error(error: Exception, where: str, conn=None) -> BaseException:
    """verify's exception for a psycopg one, about the database ``where`` (``conn``: the
    connection it came from, to tell a lost connection from a refused statement).

    Programming errors (a statement the server cannot parse, a closed cursor) are bugs, not
    something a user can fix: they are returned unchanged.
    """
    import psycopg
    from psycopg import errors as pe

    message = first_line(error)
    if isinstance(error, pe.UniqueViolation):
        return Conflict(f"{where}: write refused ({message})")
    if isinstance(error, (psycopg.IntegrityError, pe.RaiseException, pe.InsufficientPrivilege, pe.DiskFull,
                          pe.ReadOnlySqlTransaction)):
        return WriteRefused(f"{where}: write refused ({message})")
    if isinstance(error, (pe.LockNotAvailable, pe.DeadlockDetected, pe.SerializationFailure)):
        return CorpusBusy(f"{where}: {message}")
    if isinstance(error, psycopg.OperationalError) or (conn is not None and conn.broken):
        return ConnectionLost(f"database connection lost ({where}): {message}")
    if isinstance(error, (psycopg.ProgrammingError, psycopg.InterfaceError)):
        return error
    return CorpusError(f"{where}: {message}")


@contextlib.contextmanager
def translated(where: str, conn=None) -> Iterator[None]:
    """Raise verify's exception for any psycopg error inside, with the original as its cause."""
    import psycopg

    try:
        yield
    except psycopg.Error as e:
        mine = store_error(e, where, conn)
        if mine is e:
            raise
        raise mine from e
