"""The ``colla`` command: sub-commands, one-line errors, exit statuses."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape

from colla import __version__
from colla.cli import audit, backup, build, deploy, export, keys, lab, lifecycle, operate
from colla.errors import CollaError, ExitStatus

app = typer.Typer(
    name="colla",
    help="OpenStack services in containers: build, deploy, upgrade and roll back per service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
build.register(app)
deploy.register(app)
operate.register(app)
audit.register(app)
export.register(app)
lifecycle.register(app)
lab.register(app)
backup.register(app)
keys.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"colla {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """colla: one image per OpenStack service, deployed with one command."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in-process and return the exit status (tests call this)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # emoji=False: an operator's value such as "a:x:b" is quoted back, not turned into a picture.
    err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    try:
        # Standalone mode: usage errors are printed by the parser and end in SystemExit.
        app(args=args, prog_name="colla")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(ExitStatus.ERROR if e.code else 0)
    except CollaError as e:
        if debug:
            traceback.print_exc()
        err.print(f"[bold red]colla: error:[/] {escape(one_line(str(e)))}", markup=True)
        for line in e.details:
            err.print(f"  | {escape(line)}", markup=True)
        return int(e.exit_status)
    except KeyboardInterrupt:
        err.print("colla: interrupted")
        return 130
    except Exception as e:
        # Not a failure colla foresaw, so a defect: still one line and a status, and the
        # traceback for a bug report only when asked for.
        if debug:
            traceback.print_exc()
        text = one_line(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        hint = "" if debug else " (a bug in colla: run again with --debug for the traceback)"
        err.print(f"[bold red]colla: error:[/] {escape(text)}{hint}", markup=True)
        return int(ExitStatus.ERROR)
    return int(ExitStatus.OK)


def one_line(text: str, limit: int = 1000) -> str:
    """``text`` on one line of at most ``limit`` characters: an error is a line."""
    flat = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return flat if len(flat) <= limit else f"{flat[: limit - 3]}..."


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
