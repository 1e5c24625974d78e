"""Who may use the desk: accounts with argon2 password hashes, sessions, CSRF tokens, throttling.

Cookies carry a random token; the store keeps only its SHA-256, so a copy of the database
opens no session. Each session has its own CSRF token, which every form carries back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from verify.errors import InputError
from verify.store import users as store

ROLES = store.ROLES
SESSION_HOURS = 12
PASSWORD_MIN = 8
# Failed logins allowed in THROTTLE_MINUTES, per account name and per client address: past
# them, login is refused (without checking the password) until the oldest failure ages out.
THROTTLE_MINUTES = 15
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass
class User:
    """The person behind a request: ``name`` is recorded on every change they make."""

    name: str
    role: str
    csrf: str
    token: str | None = None  # the session cookie's value; None: no session yet

    @property
    def may_write(self) -> bool:
        return self.role == "reviewer"


class Throttled(Exception):
    """Too many failed logins: ``minutes`` until the next try is allowed."""

    def __init__(self, minutes: int):
        super().__init__(f"too many failed logins; try again in {minutes} minute{'s' if minutes != 1 else ''}")
        self.minutes = minutes


_hasher = None
_dummy_hash = None


def _argon2():
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
    return _hasher


def hash_password(password: str) -> str:
    return _argon2().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _argon2().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str:
    """An account name: letters, digits and ``._@-``, up to 64 characters."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InputError(f"{name!r} is not a user name: use letters, digits and . _ @ - (up to 64 characters)")
    return name


def add_user(corpus, name: str, role: str, password: str, *, by: str, replace: bool = False) -> bool:
    """Create an account (or, with ``replace``, reset its role and password); returns whether it was new."""
    name = check_name(name)
    if role not in ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < PASSWORD_MIN:
        raise InputError(f"the password must have at least {PASSWORD_MIN} characters")
    return store.add_user(corpus, name, role, hash_password(password), by=by, replace=replace)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def start_session(corpus, name: str, role: str) -> User:
    """A new session for ``name``: its cookie token and CSRF token. Expired sessions are
    deleted first (a local desk starts one per browser without a login)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _now()
    store.end_expired_sessions(corpus, _iso(now))
    store.add_session(corpus, token_hash(token), name, csrf, _iso(now + dt.timedelta(hours=SESSION_HOURS)))
    return User(name, role, csrf, token)


def session_user(corpus, token: str | None, *, local_role: str | None = None) -> User | None:
    """The user of a session cookie, or None (no cookie, expired, or the account is gone).

    Args:
        local_role: the role of a session that has no account (the one local user).
    """
    if not token or len(token) > 200:
        return None
    found = store.session(corpus, token_hash(token), _iso(_now()))
    if found is None:
        return None
    role = found["role"] or local_role
    if role is None:  # the account was removed: its sessions end with it
        return None
    return User(found["username"], role, found["csrf"], token)


def end_session(corpus, token: str | None) -> None:
    if token:
        store.end_session(corpus, token_hash(token))


def login(corpus, name: str, password: str, address: str) -> User | None:
    """Check a password and start a session; None if the name or password is wrong.

    Raises:
        Throttled: too many failed logins for this name or from this address lately.
    """
    now = _now()
    since = _iso(now - dt.timedelta(minutes=THROTTLE_MINUTES))
    name = (name or "").strip()[:64]
    by_name, by_address, oldest = store.login_failures(corpus, name, address, since)
    if by_name >= MAX_FAILURES_PER_NAME or by_address >= MAX_FAILURES_PER_ADDRESS:
        try:
            left = dt.datetime.fromisoformat(oldest) + dt.timedelta(minutes=THROTTLE_MINUTES) - now
        except (TypeError, ValueError):
            left = dt.timedelta(minutes=THROTTLE_MINUTES)
        raise Throttled(max(1, -(-int(left.total_seconds()) // 60)))
    account = store.user(corpus, name) if _NAME.match(name) else None
    # An unknown name costs the same hash check as a wrong password: timing tells no names.
    ok = password_matches(account["password_hash"] if account else _dummy(), password)
    if not (ok and account):
        store.add_login_failure(corpus, name, address)
        return None
    store.clear_login_failures(corpus, name, since)
    return start_session(corpus, account["name"], account["role"])


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def csrf_ok(user: User | None, sent: str | None) -> bool:
    """Whether a form's token is its session's (compared in constant time)."""
    return bool(user and sent and hmac.compare_digest(user.csrf.encode(), str(sent).encode()))
