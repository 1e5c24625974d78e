"""The desk's accounts, login sessions, failed logins and one-time form keys (``verify.web``).

Module functions over an open corpus (``Corpus`` or ``PgCorpus``), in SQL both backends accept.
Passwords are hashed, and cookies made and checked, by ``verify.web.auth``: this module only
stores what it is given. The tables come from the corpus's migration 11 ("desk_users").
"""
from __future__ import annotations

from verify.errors import CorpusError, Exists
from verify.store.corpus import Corpus, now

ROLES = ("reviewer", "viewer")


def _need_tables(corpus: Corpus) -> None:
    if not corpus._migrated(11):
        raise CorpusError(f"{corpus.location} has no user accounts yet (schema {corpus.schema_version()}); "
                          "open it once with this verify to upgrade it")


# --- accounts -----------------------------------------------------------------------------------

def add_user(corpus: Corpus, name: str, role: str, password_hash: str, *, by: str, replace: bool = False) -> bool:
    """Store an account; returns whether it was new.

    Args:
        replace: give an existing account this role and password hash (and end its sessions)
            instead of refusing it.

    Raises:
        Exists: the account exists and ``replace`` is not set.
    """
    _need_tables(corpus)
    if role not in ROLES:
        raise CorpusError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    with corpus.transaction():
        row = corpus.execute("select id from users where name = ?", [name]).fetchone()
        if row is not None and not replace:
            raise Exists(f"user {name!r} exists")
        if row is None:
            corpus._insert("users", {"name": name, "role": role, "password_hash": password_hash,
                                     "created_at": now(), "created_by": by})
            return True
        corpus._update("users", row[0], {"role": role, "password_hash": password_hash})
        corpus.execute("delete from sessions where username = ?", [name])
    return False


def user(corpus: Corpus, name: str) -> dict | None:
    """An account (name, role, password_hash, ...), or None."""
    _need_tables(corpus)
    rows = corpus._select("users", "name = ?", [name], limit=1)
    return rows[0] if rows else None


def users(corpus: Corpus) -> list[dict]:
    """Every account without its hash, by name."""
    if not corpus._migrated(11):
        return []
    cur = corpus.execute("select name, role, created_at, created_by from users order by name")
    return [dict(zip(("name", "role", "created_at", "created_by"), r)) for r in cur]


def remove_user(corpus: Corpus, name: str) -> None:
    """Delete an account and end its sessions (its reviews keep its name: they are the record)."""
    _need_tables(corpus)
    with corpus.transaction():
        if corpus.execute("select id from users where name = ?", [name]).fetchone() is None:
            raise CorpusError(f"no user {name!r}")
        corpus.execute("delete from sessions where username = ?", [name])
        corpus.execute("delete from users where name = ?", [name])


# --- sessions -----------------------------------------------------------------------------------

def add_session(corpus: Corpus, token_hash: str, username: str, csrf: str, expires_at: str) -> None:
    with corpus.transaction():
        corpus._insert("sessions", {"token_hash": token_hash, "username": username, "csrf": csrf,
                                    "created_at": now(), "expires_at": expires_at})


def session(corpus: Corpus, token_hash: str, at: str) -> dict | None:
    """The live session with this token hash at time ``at`` (ISO, UTC): username, role and csrf.

    A session outlives neither its expiry nor its account: the role is read afresh each time,
    so a changed role applies to the next request.
    """
    row = corpus.execute(
        "select s.username, s.csrf, u.role from sessions s left join users u on u.name = s.username "
        "where s.token_hash = ? and s.expires_at > ?", [token_hash, at]).fetchone()
    return dict(zip(("username", "csrf", "role"), row)) if row else None


def end_session(corpus: Corpus, token_hash: str) -> None:
    with corpus.transaction():
        corpus.execute("delete from sessions where token_hash = ?", [token_hash])


def end_expired_sessions(corpus: Corpus, at: str) -> None:
    with corpus.transaction():
        corpus.execute("delete from sessions where expires_at <= ?", [at])


# --- login throttling -------------------------------------------------------------------------------

def add_login_failure(corpus: Corpus, username: str, address: str) -> None:
    with corpus.transaction():
        corpus._insert("login_failures", {"username": username, "address": address, "at": now()})


def login_failures(corpus: Corpus, username: str, address: str, since: str) -> tuple[int, int, str | None]:
    """Failed logins since ``since`` (ISO, UTC): (for this name, from this address, the oldest of them)."""
    row = corpus.execute(
        "select sum(case when username = ? then 1 else 0 end), sum(case when address = ? then 1 else 0 end), "
        "min(at) from login_failures where at > ? and (username = ? or address = ?)",
        [username, address, since, username, address]).fetchone()
    return int(row[0] or 0), int(row[1] or 0), row[2]


def clear_login_failures(corpus: Corpus, username: str, before: str) -> None:
    """Forget a name's failed logins (after it logged in) and everyone's older than ``before``."""
    with corpus.transaction():
        corpus.execute("delete from login_failures where username = ? or at <= ?", [username, before])


# --- one-time form keys ----------------------------------------------------------------------------------

def claim_nonce(corpus: Corpus, nonce: str, username: str) -> bool:
    """Record a submitted form's one-time key; False if it was recorded before (a form sent twice).

    Call it inside the transaction that makes the change, so the key and the change are kept
    together or not at all.
    """
    row = corpus.execute("insert into form_submissions (nonce, username, at) values (?, ?, ?) "
                         "on conflict (nonce) do nothing returning id", [nonce, username, now()]).fetchone()
    return row is not None
