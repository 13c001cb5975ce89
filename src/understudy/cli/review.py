"""`understudy review`: the interactive loop over open tickets and their drafts."""

from __future__ import annotations

import typer

from . import app, workspace

HISTORY_FILE = "review_history"


@app.command()
def review(
    ctx: typer.Context,
    backend: str | None = typer.Option(
        None, "--backend", help="Backend that drafts the answers (default: the workspace's)."
    ),
) -> None:
    """Review drafts one ticket at a time: start, next, edit, save, send, skip (type help).

    Your place is kept in the workspace: run it again to resume on the same ticket.
    """
    # Imported here: the terminal toolkit is only worth loading for the one command that uses it.
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    from ..review import ReviewSession, command_words

    ws = workspace(ctx)
    session: PromptSession = PromptSession(
        history=FileHistory(str(ws.home / HISTORY_FILE)), completer=WordCompleter(command_words())
    )
    ReviewSession(ws, session=session, backend=backend).run()
