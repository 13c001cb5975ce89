"""The `understudy` command line: one module per command group, all thin over the library."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import typer
from typer.core import TyperGroup

from ..errors import UnderstudyError
from ..text.masking import redact_message
from ..workspace import Workspace
from .helptext import tidy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")



class _Group(TyperGroup):
    """Turns every UnderstudyError into one line on stderr and its exit code, credentials in
    URLs and secrets redacted (again: an error may have been given its text after it was made);
    labels every option's value in the README's words."""

    def __init__(self, *args, **kwargs):  # noqa: ANN002,ANN003  (click's own signature)
        super().__init__(*args, **kwargs)
        tidy(self)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except UnderstudyError as exc:
            typer.secho(f"Error: {redact_message(str(exc))}", fg="red", err=True)
            raise typer.Exit(exc.exit_code) from None
        except click.UsageError as exc:
            # a bad argument is echoed by click: `answer https://user:token@host/...`
            exc.message = redact_message(exc.message)
            raise
        except Exception as exc:
            if not type(exc).__module__.startswith("psycopg"):
                raise
            # PostgreSQL went away mid-command (or refused a statement): one line, no traceback.
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            typer.secho(f"Error: the database failed ({type(exc).__name__}: "
                        f"{redact_message(first)}): check that PostgreSQL is running, then run "
                        f"the command again", fg="red", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help="understudy learns how a team answers its support tickets and drafts the next answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Workspace folder (default: $UNDERSTUDY_HOME or ~/.local/share)."
    ),
) -> None:
    ctx.obj = home


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by --home (found on the root context)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Workspace):
        root.obj = Workspace(root.obj)
    return root.obj


from . import answer, dataset, db, demo, eval, index, jobs, review, serve, sync, train  # noqa: E402,F401  (registers commands)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
