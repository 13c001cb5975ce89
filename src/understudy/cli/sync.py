"""`understudy sync SOURCE`: bring threads and passages from a source into the workspace."""

from __future__ import annotations

from typing import Any

import typer

from ..records import Thread
from ..sources import SyncReport, sync
from . import app, workspace
from .progress import progress
from .render import console, print_json

sync_app = typer.Typer(
    help="Bring threads and passages from a source into the workspace (incremental).",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")


def run_sync(ctx: typer.Context, name: str, json_out: bool, **options: Any) -> SyncReport:
    """Run one source with a spinner on stderr, then print the report (or its JSON)."""
    ws = workspace(ctx)
    with progress(f"Syncing {name}") as bars:
        seen = 0

        def advance(record: Any) -> None:
            nonlocal seen
            seen += 1
            label = record.external_id if isinstance(record, Thread) else record.path
            bars(f"Syncing {name}", seen, None, note=f"last {label}")

        report = sync(ws, name, progress=advance, **options)
    if json_out:
        print_json(report.to_dict())
    else:
        print_report(report)
    return report


def print_report(report: SyncReport) -> None:
    """One summary line, then one line per problem."""
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    removed = f", {report.removed} removed" if report.removed else ""
    console.print(f"{report.source}: [green]{report.new} new[/], {report.updated} updated, "
                  f"{report.unchanged} unchanged{skipped}{removed}")
    if report.skipped_reasons:
        reasons = ", ".join(f"{count} {reason}" for reason, count in report.skipped_reasons.items())
        console.print(f"  skipped: {reasons}", markup=False)
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


@sync_app.command("github")
def sync_github(
    ctx: typer.Context,
    repo: list[str] = typer.Option(
        None, "--repo", help="Repository as owner/name (repeatable)."
    ),
    org: str | None = typer.Option(None, "--org", help="Every repository of this organisation."),
    since: str | None = typer.Option(
        None, "--since", help="Only issues updated on or after this date (YYYY-MM-DD)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync every issue and comment of GitHub repositories (GITHUB_TOKEN, GITHUB_URL).

    Pull requests are left out. With neither --repo nor --org, the repositories of the
    token's user are synced. For GitHub Enterprise set GITHUB_URL=https://HOST.
    """
    run_sync(ctx, "github", json_out, repos=repo or [], org=org, since=since)


@sync_app.command("docs")
def sync_docs(
    ctx: typer.Context,
    path: str = typer.Argument(
        ..., help="Folder (or file) of .md, .rst, .html or .txt pages (gzipped too), or a git "
                  "URL of one."
    ),
    base_url: str = typer.Option(
        "", "--base-url", help="Where the pages are published; passage links start with it."
    ),
    url_suffix: str = typer.Option(
        ".html", "--url-suffix", metavar="SUFFIX",
        help="What .md, .rst, .txt (and .gz) become in --base-url links; '' for none.",
    ),
    max_words: int = typer.Option(300, "--max-words", min=50, help="Words per passage at most."),
    min_chars: int = typer.Option(
        80, "--min-chars", min=0, help="Shorter passages join a neighbour of their page."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync documentation pages as passages, chunked by heading (incremental).

    Sphinx and MyST markup (directives, roles, targets) becomes the text a reader sees.
    Passages of pages deleted since the last sync are removed; links that lead out of
    the folder are skipped, never read.
    """
    run_sync(ctx, "docs", json_out, path=path, base_url=base_url, max_words=max_words,
             min_chars=min_chars, url_suffix=url_suffix)


@sync_app.command("code")
def sync_code(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="Folder (or file) of source code."),
    json_out: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync functions, classes and methods of a source tree as snippets (incremental).

    Python, JavaScript, TypeScript, Go, Rust, Java, C, C++, Ruby and PHP; .gitignore is
    honoured; generated, vendored and binary files are skipped.
    """
    run_sync(ctx, "code", json_out, path=path)


@sync_app.command("csv")
def sync_csv(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="CSV file of support conversations."),
    format: str = typer.Option(
        "auto", "--format", help="twcs (Twitter customer support), generic, or auto."
    ),
    columns: list[str] = typer.Option(
        None, "--columns",
        help="Generic format: FIELD=COLUMN pairs for conversation_id, author, role, "
             "created_at, text, and the optional summary and specifics (repeatable or "
             "comma-separated).",
    ),
    project: str = typer.Option(
        "", "--project", help="Generic format: name for the conversations (default: file name)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync support conversations from a CSV file as threads (team = company or agent turns).

    Malformed rows are skipped and reported with their line numbers.
    """
    from ..sources.conversations import parse_columns

    run_sync(ctx, "csv", json_out, path=file, format=format,
             columns=parse_columns(columns or []), project=project)
