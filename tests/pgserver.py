"""A throw-away PostgreSQL cluster for the tests: initdb into a temporary directory, a server
on a Unix socket there (no TCP port), a fresh database per test, everything removed at the end.

The tests that need it skip, saying why, only when the server binaries (initdb, pg_ctl) are
not installed. ``VERIFY_REQUIRE_POSTGRES=1`` (set by .ci/run) turns that skip into a failure,
so CI cannot pass by quietly skipping them. The pgvector extension must be installed with
the server; its absence fails the tests (the backend needs it).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def server_bindir() -> Path | None:
    """Where initdb and pg_ctl are: beside pg_config, else Debian's /usr/lib/postgresql/N/bin."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


class Server:
    """A running throw-away cluster; ``new_database()`` gives a DSN of an empty database."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="verify-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, and there is no postgres user to run the test server as")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.base / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.base / "log"), "-o",
                  f"-k {self.base} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off -c max_connections=50", "start")
        self.dsn_base = f"postgresql://postgres@/{{}}?host={self.base}"

    def _run(self, tool: str, *args: str) -> None:
        out = subprocess.run([*self.prefix, str(self.bindir / tool), *args], capture_output=True, text=True)
        if out.returncode != 0:
            log = (self.base / "log").read_text() if (self.base / "log").exists() else ""
            raise RuntimeError(f"{tool} failed: {out.stderr.strip()} {log[-2000:]}")

    def admin(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn_base.format("postgres"), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f"create database {name}")
        return self.dsn_base.format(name)

    def drop_database(self, dsn: str) -> None:
        name = dsn.split("@/", 1)[1].split("?")[0]
        self.admin(f"drop database if exists {name} with (force)")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> Server:
    bindir = server_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed: the PostgreSQL store is not tested"
        if os.environ.get("VERIFY_REQUIRE_POSTGRES"):
            pytest.fail(reason + " (VERIFY_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: install verify with its test extras")
    server = Server(bindir)
    if not server.admin("select 1 from pg_available_extensions where name = 'vector'"):
        server.stop()
        pytest.fail(f"the pgvector extension is not installed for the server in {bindir}")
    return server
