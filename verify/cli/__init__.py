"""The `verify` command line: a thin shell over the library.

It parses arguments, shows progress on a terminal, formats results, and turns named
errors into one line on stderr with a non-zero exit (never a traceback).
"""
from __future__ import annotations

import os
import sqlite3
import sys

import typer

from verify.cli import checking, desk, documents, outputs, quality, web  # noqa: F401  (they register their commands)
from verify.cli.common import _err, _Progress, app  # noqa: F401  (tests patch _Progress)
from verify.errors import VerifyError


@app.command()
def version():
    """Print verify's version."""
    from verify import __version__

    typer.echo(f"verify {__version__}")


INTERRUPTED = "interrupted; nothing half-written was kept"


def main() -> None:
    import importlib

    # Click's exceptions, wherever this typer keeps them (newer releases vendor click).
    cx = importlib.import_module(typer.BadParameter.__module__)
    no_args = getattr(cx, "NoArgsIsHelpError", ())
    try:
        # Not standalone: typer would print a usage error as a boxed paragraph; verify says
        # every error in one line.
        code = app(standalone_mode=False)
    except no_args as e:
        e.show()
        sys.exit(e.exit_code)
    except cx.ClickException as e:  # a bad option or value, an unknown command
        usage = isinstance(e, cx.UsageError) and e.ctx is not None
        _err(" ".join(e.format_message().split()) + (f" (see `{e.ctx.command_path} --help`)" if usage else ""))
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _err(INTERRUPTED)
        sys.exit(130)
    except VerifyError as e:
        _err(str(e))
        sys.exit(e.exit_code)
    except sqlite3.OperationalError as e:
        _err(f"database: {e}" + (" (another verify process holds it; try again)" if "locked" in str(e) else ""))
        sys.exit(2)
    except sqlite3.DatabaseError as e:
        _err(f"database damaged or not a verify corpus: {e}")
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug: still one line, and the details on request
        psycopg = sys.modules.get("psycopg")  # a PostgreSQL corpus: the server went away, or refused
        if psycopg is not None and isinstance(e, psycopg.Error):
            from verify.util import first_line

            lost = isinstance(e, psycopg.OperationalError)
            _err(f"database {'connection lost' if lost else 'error'}: {first_line(e)}"
                 + (" (nothing half-written was kept; run the command again)" if lost else ""))
            sys.exit(2)
        if os.environ.get("VERIFY_DEBUG"):
            raise
        _err(f"unexpected {type(e).__name__}: {e} (set VERIFY_DEBUG=1 for details)")
        sys.exit(2)
    if isinstance(code, int) and not isinstance(code, bool) and code:  # typer.Exit(code) from a command
        if code == 130:  # typer turns Ctrl-C inside a command into exit 130
            _err(INTERRUPTED)
        sys.exit(code)
