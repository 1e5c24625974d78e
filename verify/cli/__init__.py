"""The `verify` command line: a thin shell over the library.

It parses arguments, shows progress on a terminal, formats results, and turns named
errors into one line on stderr with a non-zero exit (never a traceback).
"""
from __future__ import annotations

import sys

import typer

from verify.cli import checking, desk, documents, outputs, quality, web  # noqa: F401  (they register their commands)
from verify.cli.common import _err, _Progress, app  # noqa: F401  (tests patch _Progress)
from verify.errors import ConnectionLost, CorpusBusy, Exists, InUse, LockHeld, VerifyError


@app.command()
def version():
    """Print verify's version."""
    from verify import __version__

    typer.echo(f"verify {__version__}")


INTERRUPTED = "interrupted; nothing half-written was kept"

# What a user can do about an error, in this command line's terms: the library's messages say
# what is wrong; which option fixes it is the command line's to say. The first kind that
# matches wins (LockHeld is a kind of CorpusBusy).
REMEDIES: tuple[tuple[type[VerifyError], str], ...] = (
    (LockHeld, "try again later or pass --wait SECONDS"),
    (InUse, "pass --force to go ahead anyway"),
    (Exists, "pass --replace to set a new password or role"),
    (CorpusBusy, "try again when it has finished"),
    (ConnectionLost, "nothing half-written was kept; run the command again"),
)


def describe(error: VerifyError) -> str:
    """The one line the command line prints for a library error: what is wrong, then what to do."""
    for kind, remedy in REMEDIES:
        if isinstance(error, kind):
            return f"{error}; {remedy}"
    return str(error)


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
        _err(describe(e))
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug: still one line, and the details on request
        # The store turns its drivers' errors into VerifyErrors; anything else is a bug.
        from verify.settings import settings  # here, not at import: `verify --help` does not pay for it

        try:
            debug = settings().debug
        except VerifyError:  # another VERIFY_* variable is malformed: not this error's business
            debug = False
        if debug:
            raise
        _err(f"unexpected {type(e).__name__}: {e} (set VERIFY_DEBUG=1 for details)")
        sys.exit(2)
    if isinstance(code, int) and not isinstance(code, bool) and code:  # typer.Exit(code) from a command
        if code == 130:  # typer turns Ctrl-C inside a command into exit 130
            _err(INTERRUPTED)
        sys.exit(code)
