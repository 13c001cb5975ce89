"""`understudy jobs`: language-model batch jobs, with the cost shown first and resumable."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

from ..errors import UnderstudyError, UsageError
from . import app, workspace
from .progress import progress

jobs_app = typer.Typer(help="Language-model batch jobs: synthetic Q&A from docs, notes on code.",
                       no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def interactive() -> bool:
    """True when someone can answer a confirmation."""
    return sys.stdin.isatty()


def _show_estimate(console: Console, estimate) -> None:
    price = f"about ${estimate.cost:.4f}" if estimate.priced else \
        f"no known price for {estimate.model} (set \"prices\" in settings.json)"
    done = f"; {estimate.done} already done are skipped" if estimate.done else ""
    console.print(
        f"{estimate.job}: {estimate.items} items{done}; up to {estimate.calls} calls to "
        f"{estimate.model}, about {estimate.prompt_tokens:,} prompt and "
        f"{estimate.completion_tokens:,} completion tokens, {price}.",
        highlight=False, soft_wrap=True)


def _confirm(yes: bool) -> bool:
    if yes:
        return True
    if not interactive():
        raise UsageError("This job spends money on model calls: add --yes to run it "
                         "without a confirmation")
    return typer.confirm("Run it?", default=False)


def run_job(ctx: typer.Context, job, yes: bool, as_json: bool) -> None:
    """Show the estimate, confirm, run with a progress bar, and report."""
    console = Console(stderr=as_json)
    estimate = job.estimate()
    if estimate.items:
        job.connect()  # a missing key or server shows before any question about cost
    if not as_json or not yes:
        _show_estimate(console, estimate)
    if estimate.items == 0:
        report = job.run()
    elif not _confirm(yes):
        console.print("Nothing was run.")
        raise typer.Exit(1)
    else:
        with progress() as bars:
            bars(job.name, 0, estimate.items, note="$0.0000 spent")
            report = job.run(lambda r: bars(job.name, r.finished, estimate.items,
                                            note=f"${r.cost:.4f} spent"))
    if as_json:
        typer.echo(json.dumps({"estimate": estimate.to_json(), "report": report.to_json()},
                              indent=2))
    else:
        outcomes = ", ".join(f"{n} {what}" for what, n in sorted(report.counts.items()) if n)
        console.print(
            f"{report.finished} of {report.items} items finished"
            f"{f' ({outcomes})' if outcomes else ''}; {report.calls} calls, {report.cached} "
            f"from the cache; {report.prompt_tokens:,} prompt and "
            f"{report.completion_tokens:,} completion tokens; ${report.cost:.4f} spent.",
            highlight=False, soft_wrap=True)
    if report.stopped:
        raise UnderstudyError(
            f"{job.name} stopped after {report.finished} of {report.items} items "
            f"({report.stopped}); what finished is kept: run the same command again to resume")


@jobs_app.command("synth-qa")
def synth_qa_command(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="The model that writes questions and answers."),
    questions: int = typer.Option(3, "--questions", min=1, max=20,
                                  help="Questions to ask for each passage."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="Work on at most this many passages this run."),
    yes: bool = typer.Option(False, "--yes", help="Run without asking to confirm the cost."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate and report as JSON."),
) -> None:
    """Write questions each doc passage answers and answer them from it (examples: synthetic)."""
    from ..jobs import SynthQA

    run_job(ctx, SynthQA(workspace(ctx), model, questions, limit), yes, as_json)


@jobs_app.command("annotate-code")
def annotate_code_command(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="The model that writes the notes."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="Work on at most this many snippets this run."),
    yes: bool = typer.Option(False, "--yes", help="Run without asking to confirm the cost."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate and report as JSON."),
) -> None:
    """Write a note on each code snippet: what it does, how it is used, what to watch for."""
    from ..jobs import AnnotateCode

    run_job(ctx, AnnotateCode(workspace(ctx), model, limit), yes, as_json)
