"""`understudy dataset`: build training examples, check them, and export them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from . import app, workspace
from .progress import progress
from .tables import number, print_table, value

dataset_app = typer.Typer(help="Training data: build examples, check them, export them.",
                          no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("build")
def build_command(
    ctx: typer.Context,
    kind: list[str] | None = typer.Option(
        None, "--kind", help="Example kind: reply, edit, synthetic or code "
        "(repeatable; default all)."),
    team: list[str] | None = typer.Option(
        None, "--team", help="An author who counts as the team (repeatable; default: the "
        "synced team flags, or the \"team\" setting)."),
    since: str | None = typer.Option(None, "--since", help="Only replies from this date on."),
    until: str | None = typer.Option(None, "--until", help="Only replies before this date."),
    min_chars: int | None = typer.Option(
        None, "--min-chars", min=0, help="Shortest reply kept, in characters (default 20)."),
    project: list[str] | None = typer.Option(
        None, "--project", help="Only threads of this project (repeatable)."),
    sources: bool = typer.Option(
        True, "--sources/--no-sources", help="Put the retrieved sources in each prompt."),
    valid_share: float = typer.Option(
        0.2, "--valid-share", min=0.0, max=0.9, help="Share of threads held out for validation."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Build training examples from team replies and reviewers' sent edits."""
    from ..backends.openai import DEFAULT_BUDGET
    from ..datasets import BUILDERS, BuildOptions, build
    from ..dates import option_date

    ws = workspace(ctx)
    settings = ws.settings
    options = BuildOptions(
        kinds=kind or list(BUILDERS), team=team or settings.get("team") or None,
        since=option_date(since, "--since"), until=option_date(until, "--until"),
        min_chars=BuildOptions.min_chars if min_chars is None else min_chars,
        projects=project or None, sources=sources,
        budget=int(settings.get("prompt_budget") or DEFAULT_BUDGET),
        model=settings.get("model") or BuildOptions().model, valid_share=valid_share,
    )
    with progress("Building examples") as bars:
        report = build(ws, options, progress=bars.counter("Building examples"))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    console = Console()
    rows = [[name, split, str(count)] for (name, split), count in sorted(report.counts.items())]
    print_table(console, [value("kind"), value("split"), number("examples")], rows,
                f"{report.total} training examples")
    if report.skipped:
        left = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items()))
        console.print(f"Left out: {left}.")


@dataset_app.command("check")
def check_command(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", help="The model to train (default: the \"model\" setting)."),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes and save them."),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Epochs for the cost estimate (default: as OpenAI picks)."),
    file: Path | None = typer.Option(
        None, "--file", help="Check an exported JSONL file instead of the stored examples."),
    as_json: bool = typer.Option(False, "--json", help="Print problems and estimate as JSON."),
) -> None:
    """Check the training data as OpenAI's prepare_data did; estimate tokens and cost."""
    from ..datasets import check_file, check_workspace

    if file is not None:
        report = check_file(file, model, fix, epochs)
    else:
        report = check_workspace(workspace(ctx), model, fix, epochs)
    estimate = report.estimate
    if as_json:
        typer.echo(json.dumps({
            "format": report.format, "model": report.model,
            "problems": [p.to_json() for p in report.problems],
            "estimate": estimate.to_json() if estimate else None,
        }, indent=2))
        return
    console = Console()
    if not report.problems:
        console.print(f"No problems found ({report.format} format for {report.model}).")
    for problem in report.problems:
        mark = "[green]fixed[/green]" if problem.message.startswith("fixed: ") else (
            "[yellow]fixable with --fix[/yellow]" if problem.fixable else "[red]to do[/red]")
        console.print(f"- {problem.message.removeprefix('fixed: ')}. Fix: {problem.fix} "
                      f"({mark})", highlight=False)
    if estimate:
        cost = "no known training price" if estimate.cost is None else f"${estimate.cost:.2f}"
        console.print(
            f"Training: {estimate.examples} examples, {estimate.tokens:,} tokens per epoch, "
            f"{estimate.epochs} epochs = {estimate.trained_tokens:,} trained tokens, about "
            f"{cost} on {report.model}.", highlight=False)


@dataset_app.command("export")
def export_command(
    ctx: typer.Context,
    fmt: str = typer.Option(..., "--format", help="chat, completion, hf, or conversation "
                            "(Customer:/Agent: turns, the completion one line ending in \\n)."),
    output: Path = typer.Option(..., "--output", help="Folder for train.jsonl and valid.jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Write the examples as train.jsonl and valid.jsonl in a fine-tuning format."""
    from ..datasets import export_workspace

    counts = export_workspace(workspace(ctx), fmt, output)
    if as_json:
        typer.echo(json.dumps({"format": fmt, "output": str(output), **counts}))
        return
    typer.echo(f"Wrote {counts['train']} training and {counts['valid']} validation examples "
               f"({fmt}) to {output}/train.jsonl and {output}/valid.jsonl")
