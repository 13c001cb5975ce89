"""`understudy index`: bring the knowledge index up to date."""

from __future__ import annotations

import typer

from . import app, workspace
from .render import build_index, console, print_json


@app.command("index")
def index_command(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Embed every item again."),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Embed new and changed knowledge items; unchanged ones are never embedded twice."""
    stats = build_index(workspace(ctx), rebuild=rebuild)
    if json_out:
        print_json(stats.__dict__)
    else:
        console.print(f"{stats.items} items: {stats.embedded} embedded, {stats.reused} unchanged, "
                      f"{stats.removed} removed.")
