"""`understudy db`: move a workspace's SQLite file into PostgreSQL, and compare the two."""

from __future__ import annotations

import typer
from rich.console import Console

from ..errors import ConfigError
from ..text.masking import redact_url_credentials
from ..workspace import DB_FILE, Workspace
from . import app, workspace
from .progress import progress
from .render import print_json
from .tables import number, print_table, value

db_app = typer.Typer(help="The workspace's database: copy it into PostgreSQL, compare counts.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")

TO_HELP = ("The target database, postgresql://USER:PASSWORD@HOST/NAME (default: "
           "UNDERSTUDY_DATABASE_URL or database_url).")


def _stores(ws: Workspace, to: str | None):
    from ..store import Store
    from ..store.postgres import is_postgres_url

    source_path = ws.home / DB_FILE
    if not source_path.is_file():
        raise ConfigError(f"No SQLite workspace at {source_path}: give --home the workspace "
                          f"folder whose {DB_FILE} you want to copy")
    target = to or ws.settings.secret("database_url")
    if not target:
        raise ConfigError("No target database: give --to postgresql://... or set "
                          "UNDERSTUDY_DATABASE_URL")
    if not is_postgres_url(target):
        raise ConfigError(f"--to must be a postgresql:// URL (got "
                          f"{redact_url_credentials(target)!r})")
    return Store(source_path), Store(target), redact_url_credentials(target)


def _print_counts(console: Console, report_counts, where: str) -> None:
    rows = [(c.table, str(c.source), "missing" if c.target < 0 else str(c.target),
             "yes" if c.same else "[bold red]no[/]") for c in report_counts]
    print_table(console, [value("table"), number("sqlite"), number("target"), value("same")],
                rows, f"{DB_FILE} and {where}")


@db_app.command("copy")
def copy_command(
    ctx: typer.Context,
    to: str | None = typer.Option(None, "--to", help=TO_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print what was copied as JSON."),
) -> None:
    """Copy the workspace's SQLite file into PostgreSQL (run again to resume or update).

    Every table is copied with its ids: threads, drafts, review log, calls, vectors, models.
    """
    from ..store.copy import copy_store

    ws = workspace(ctx)
    source, target, where = _stores(ws, to)
    try:
        with progress("Copying") as bars:
            report = copy_store(source, target, progress=bars)
    finally:
        source.close()
        target.close()
    if as_json:
        print_json({"target": where, **report.to_json()})
        return
    console = Console()
    _print_counts(console, report.counts, where)
    total = sum(report.copied.values())
    state = "complete" if report.complete else "incomplete: the target has other rows"
    console.print(f"Copied {total} rows; the copy is {state}. Use it with "
                  f"UNDERSTUDY_DATABASE_URL={where}", highlight=False)
    if not report.complete:
        raise typer.Exit(1)


@db_app.command("check")
def check_command(
    ctx: typer.Context,
    to: str | None = typer.Option(None, "--to", help=TO_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Compare rows per table in the SQLite file and its PostgreSQL copy (exit 1: differ)."""
    from ..store.copy import counts

    ws = workspace(ctx)
    source, target, where = _stores(ws, to)
    try:
        found = counts(source, target)
    finally:
        source.close()
        target.close()
    same = all(c.same for c in found)
    if as_json:
        print_json({"target": where, "same": same,
                    "tables": {c.table: {"source": c.source, "target": c.target} for c in found}})
    else:
        _print_counts(Console(), found, where)
    if not same:
        raise typer.Exit(1)
