"""`verify serve` and `verify users`: the desk in a browser, and who may log in to it."""
from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Optional

import typer

from verify.cli.common import DbOption, _corpus, _note, app
from verify.errors import InputError


class Role(StrEnum):
    reviewer = "reviewer"
    viewer = "viewer"


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on; any but loopback requires login")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8000,
    login: Annotated[bool, typer.Option("--login", help="require login even on 127.0.0.1 with a corpus.db file")] = False,
    trusted_proxy: Annotated[Optional[list[str]], typer.Option(
        "--trusted-proxy", help="address of a TLS proxy in front (repeatable): its X-Forwarded-Proto/For are believed, "
                                "so cookies are Secure behind it")] = None,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", help="always mark cookies Secure (the desk is only reached over https)")] = False,
    by: Annotated[Optional[str], typer.Option(
        "--by", envvar="VERIFY_USER", help="without login: the name recorded on reviews [default: the login name]")] = None,
):
    """Serve the review desk in a browser: reports, claims, reviews, documents, drift.

    On 127.0.0.1 with a corpus.db file it runs as you (no login). On any other address, or on
    a PostgreSQL store, everyone logs in: add accounts with `verify users add`.

    Example: verify serve --db corpus.db --port 8000
    """
    import socket

    from verify.store import is_postgres
    from verify.store.corpus import current_user
    from verify.store.users import users
    from verify.web.app import LOOPBACK_NAMES, DeskConfig, create_app, is_loopback, needs_login

    corpus = _corpus(db)  # opens (and migrates) the store once; each worker thread opens its own
    target = db or (str(corpus.path) if corpus.path is not None else None)
    if target is None:
        raise InputError("--db: the desk needs a corpus file or a postgresql:// URL")
    require_login = login or needs_login(target, host)
    if require_login and not users(corpus):
        raise InputError("this desk requires login and has no accounts yet: add one with "
                         "`verify users add NAME --role reviewer`" + (f" --db {target}" if db else ""))
    corpus.close()
    config = DeskConfig(target=target, login=require_login, local_user=by or current_user(),
                        allowed_hosts=LOOPBACK_NAMES if is_loopback(host) and not is_postgres(target) else None,
                        secure_cookies=secure_cookies)
    try:  # bound here, so a taken port is one line, not a server's traceback
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host.strip("[]"), port), family=family)
    except (OSError, OverflowError) as e:
        raise InputError(f"cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e})") from None
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    _note(f"verify desk on http://{shown}:{sock.getsockname()[1]}/ "
          + ("(login required)" if require_login else f"(no login: everything is recorded as {config.local_user})")
          + "; Ctrl-C stops it")
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), log_level="warning", access_log=False, proxy_headers=bool(trusted_proxy),
        forwarded_allow_ips=list(trusted_proxy) if trusted_proxy else None, server_header=False))
    server.run(sockets=[sock])


users_app = typer.Typer(help="Accounts of the desk in a browser (`verify serve`): reviewers review, viewers read.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def _password(confirm: bool = True) -> str:
    """The password from a prompt on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        return typer.prompt("password", hide_input=True, confirmation_prompt=confirm)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="login name (letters, digits, . _ @ -)")],
    role: Annotated[Role, typer.Option("--role", help="reviewer: reviews and corrects; viewer: reads only")],
    replace: Annotated[bool, typer.Option("--replace", help="set a new password and role for an existing account")] = False,
    by: Annotated[Optional[str], typer.Option("--by", envvar="VERIFY_USER",
                                              help="who adds it [default: the login name]")] = None,
    db: DbOption = None,
):
    """Add an account; the password is asked for (or read from standard input) and stored as an argon2 hash.

    Example: verify users add ana --role reviewer
    """
    from verify.store.corpus import current_user
    from verify.web.auth import add_user, check_name

    name = check_name(name)  # before the prompt: a bad name is refused without asking for a password
    password = _password()
    new = add_user(_corpus(db), name, role.value, password, by=by or current_user(), replace=replace)
    typer.echo(f"user {name} {'added' if new else 'updated'} ({role.value})")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOption = None):
    """List the accounts and their roles.

    Example: verify users list
    """
    from verify.store.users import users

    rows = users(_corpus(db))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']:<24} {r['role']:<9} added {r['created_at']} by {r['created_by']}")
    if not rows:
        _note("no accounts yet: `verify users add NAME --role reviewer`")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="login name")], db: DbOption = None):
    """Remove an account and end its sessions (its reviews keep its name).

    Example: verify users remove ana
    """
    from verify.store.users import remove_user

    remove_user(_corpus(db), name)
    typer.echo(f"user {name} removed")
