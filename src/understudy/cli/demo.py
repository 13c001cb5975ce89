"""`understudy demo`: the main job on the bundled sample data, offline."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.console import Console

from ..errors import UsageError
from ..workspace import Workspace
from . import app, workspace
from .progress import progress
from .render import console, print_json


@app.command()
def demo(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the drafts as JSON."),
    home: Path | None = typer.Option(
        None, "--home", help="Workspace folder for the demo (default: <home>/demo)."
    ),
    embedding_model: str | None = typer.Option(
        None, "--embedding-model",
        help="Search with this encoder from now on in the demo workspace: minilm, "
             "multilingual-e5-small (adds two tickets in French) or mpnet.",
    ),
) -> None:
    """Draft answers for a sample product's open tickets, offline (workspace: <home>/demo)."""
    from ..demo import demo_home, run_demo  # the sample's index and parsers, loaded when used

    root = ctx.find_root()
    for folder in (home, root.obj):
        if isinstance(folder, Path) and folder.exists() and not folder.is_dir():
            raise UsageError(f"--home {folder} is a file: give a folder for the workspace")
    if home is not None:  # `understudy demo --home X` as well as `understudy --home X demo`
        root.obj = Workspace(home)
    elif root.obj is None:  # no --home: keep the sample out of the user's own workspace
        root.obj = Workspace(demo_home())
    ws = workspace(ctx)
    if embedding_model:
        from ..embeddings import encoder_for

        encoder_for(embedding_model)  # an unknown or missing model: one line, nothing changed
        ws.settings.set("embedding_model", embedding_model.strip().lower())
        ws.__dict__.pop("encoder", None)  # chosen again from the setting
        ws.__dict__.pop("index", None)
    out = Console(stderr=True, quiet=True) if json_out else console
    with progress("Loading the sample") as bars:
        drafts = run_demo(ws, out, bars)
    if json_out:
        print_json([d.to_dict() for d in drafts])
        return
    home = shlex.quote(str(ws.home))
    console.print(
        "\nNext: review these drafts with "
        f"[b]understudy --home {home} review[/], or draft an answer for your own question "
        f"with [b]understudy --home {home} answer FILE[/] (a text file: title on the first "
        "line, then the question)."
    )
