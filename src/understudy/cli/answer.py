"""`understudy add`, `answer`, `drafts` and `send`: one ticket in, one draft out, one note back."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from ..errors import InputError, UsageError
from ..records import DRAFT_STATUSES, Thread
from ..send import send_draft
from ..sources import resolve_ticket
from ..workspace import Workspace
from . import app, workspace
from .progress import progress
from .render import build_index, console, print_json, render_draft, ticket_ref
from .tables import label, number, print_table, value

FILE_NOTE = "A ticket from a file can be answered and saved but not sent."
SEND_WAIT = 15.0  # seconds `send` waits for another sender of the same draft to finish


def _add(ws: Workspace, ref: str) -> Thread:
    thread = resolve_ticket(ws, ref)
    ws.store.upsert_thread(thread)
    return thread


@app.command()
def add(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="Issue URLs, files, or - for stdin."),
    json_out: bool = typer.Option(False, "--json", help="Print the tickets as JSON."),
) -> None:
    """Add tickets from issue URLs or files to the workspace; show a draft one already has."""
    from ..review import latest_draft

    ws = workspace(ctx)
    threads = [_add(ws, ref) for ref in refs]
    drafts = [latest_draft(ws.store.drafts(thread_id=t.id)) for t in threads]
    if json_out:
        print_json([{"id": t.id, "source": t.source, "external_id": t.external_id,
                     "url": t.url, "title": t.title, "state": t.state,
                     "draft": d.to_dict() if d else None}
                    for t, d in zip(threads, drafts, strict=True)])
        return
    for thread, draft in zip(threads, drafts, strict=True):
        console.print(f"Added ticket {thread.id}: {thread.title} ({thread.url or 'stdin'})",
                      markup=False)
        if draft is not None:
            console.print(f"It already has draft {draft.id} ({draft.status}): review it with "
                          f"'understudy review', or send it with 'understudy send {draft.id}'.",
                          markup=False)
            render_draft(console, draft)
        if thread.source == "file":
            console.print(f"  [yellow]{FILE_NOTE}[/]")


@app.command()
def answer(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(None, help="Issue URLs, files, or - for stdin."),
    backend: str | None = typer.Option(None, "--backend", help="Backend (default: retrieval)."),
    model: str | None = typer.Option(
        None, "--model", help="Model of the openai backend, or a model folder for local."
    ),
    open_tickets: bool = typer.Option(
        False, "--open", help="Draft every open ticket with no team reply and no draft yet."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the drafts as JSON."),
) -> None:
    """Draft answers for tickets, with sources and a confidence."""
    ws = workspace(ctx)
    if not refs and not open_tickets:
        raise UsageError("Give issue URLs, files or '-', or --open to draft every open ticket")
    threads = [_add(ws, ref) for ref in refs or []]
    if open_tickets:
        seen = {t.id for t in threads}
        threads += [t for t in ws.store.threads_needing_answer() if t.id not in seen]
    if not threads:  # nothing to draft: no backend, index or model to load
        if json_out:
            print_json([])
        else:
            console.print("No open tickets need an answer.")
        return
    answerer = ws.answerer(backend)
    if model:
        answerer.use_model(model)
    build_index(ws)
    drafts = []
    with progress() as bars:
        for thread in threads:
            bars("Drafting", len(drafts), len(threads))
            drafts.append(answerer.draft(thread))
    if json_out:
        calibration = answerer.judge.describe()  # which confidence map and threshold decided
        print_json([{**d.to_dict(), "calibration": calibration} for d in drafts])
        return
    for draft, thread in zip(drafts, threads, strict=True):
        render_draft(console, draft)
        if thread.source == "file":
            console.print(f"  [yellow]{FILE_NOTE}[/]")


@app.command()
def drafts(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="new, saved, sent or discarded."),
    json_out: bool = typer.Option(False, "--json", help="Print the drafts as JSON."),
) -> None:
    """List drafts."""
    if status and status not in DRAFT_STATUSES:
        raise UsageError(f"Unknown status '{status}': use one of {', '.join(DRAFT_STATUSES)}")
    found = workspace(ctx).store.drafts(status=status)
    if json_out:
        print_json([d.to_dict() for d in found])
        return
    if not found:
        console.print("No drafts yet: run 'understudy answer URL|FILE' or 'understudy review'.")
        return
    rows = [[str(d.id), d.status, "abstained" if d.abstained else f"{d.confidence:.2f}",
             escape(ticket_ref(d.thread_url)), escape(d.thread_title)] for d in found]
    columns = [number("draft"), value("status"), number("confidence"), value("ticket"),
               label("title")]
    print_table(console, columns, rows)


@app.command()
def send(
    ctx: typer.Context,
    draft_id: int = typer.Argument(..., help="The draft to send."),
    file: Path | None = typer.Option(None, "--file", help="Send this edited text instead."),
    internal: bool = typer.Option(False, "--internal", help="Post an internal note."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    again: bool = typer.Option(
        False, "--again",
        help="Post it even if another draft already answered the ticket's latest message."),
    json_out: bool = typer.Option(False, "--json", help="Print the sent draft as JSON."),
) -> None:
    """Post a draft back where its ticket came from (once, even if retried)."""
    ws = workspace(ctx)
    draft = ws.store.get_draft(draft_id)
    text = None
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read {file}: {exc}") from None
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("Not a terminal: add --yes to send without confirmation")
        render_draft(console, draft)
        typer.confirm(f"Send draft {draft_id} to {draft.thread_url}?", abort=True)
    # Another sender holding the draft usually finishes within seconds: wait, then report.
    sent = send_draft(ws, draft_id, text=text, internal=internal, wait=SEND_WAIT, again=again)
    if json_out:
        print_json(sent.to_dict())
    else:
        console.print(f"Sent draft {sent.id}: {sent.sent_to}")
