"""`understudy sync SOURCE`: bring threads and passages from a source into the workspace."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..records import Thread
from ..sources import SyncReport, sync
from . import app, workspace
from .render import console, err_console, print_json

sync_app = typer.Typer(
    help="Bring threads and passages from a source into the workspace (incremental).",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")


def run_sync(ctx: typer.Context, name: str, json_out: bool, **options: Any) -> SyncReport:
    """Run one source with a spinner on stderr, then print the report (or its JSON)."""
    ws = workspace(ctx)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=json_out) as progress:
        task = progress.add_task(f"Syncing {name}", total=None)
        seen = 0

        def advance(record: Any) -> None:
            nonlocal seen
            seen += 1
            label = record.external_id if isinstance(record, Thread) else record.path
            progress.update(task, description=f"Syncing {name}: {seen} records, last {label}")

        report = sync(ws, name, progress=advance, **options)
    if json_out:
        print_json(report.to_dict())
    else:
        print_report(report)
    return report


def print_report(report: SyncReport) -> None:
    """One summary line, then one line per problem."""
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    console.print(f"{report.source}: [green]{report.new} new[/], {report.updated} updated, "
                  f"{report.unchanged} unchanged{skipped}")
    for problem in report.problems:
        console.print(f"  [yellow]{problem}[/]")


@sync_app.command("gitlab")
def sync_gitlab(
    ctx: typer.Context,
    project: list[str] = typer.Option(
        None, "--project", help="Project path, e.g. group/sub/project (repeatable)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Every project of this group and its subgroups."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only issues updated on or after this date (YYYY-MM-DD)."
    ),
    include_confidential: bool = typer.Option(
        False, "--include-confidential", help="Also sync confidential issues and internal notes."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync every issue and note of GitLab projects (GITLAB_URL, GITLAB_TOKEN).

    With neither --project nor --group, every project the token is a member of is synced.
    """
    run_sync(ctx, "gitlab", json_out, projects=project or [], group=group, since=since,
             include_confidential=include_confidential)
