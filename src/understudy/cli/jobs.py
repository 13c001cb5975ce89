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

MAX_FAILED_SHARE = 0.2  # a run with more items failed than this share exits non-zero
_MAX_FAILED = typer.Option(
    MAX_FAILED_SHARE, "--max-failed", min=0.0, max=1.0, metavar="SHARE",
    help="Exit with an error when more than this share of items got no result because the "
    "model's replies were not the JSON asked for.")


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


def _not_parsed(report) -> str:  # noqa: ANN001  (a JobReport)
    if not report.not_parsed:
        return ""
    return (f"; {report.not_parsed} replies were not the JSON asked for: "
            f"{report.parsed_on_retry} were when asked again, {report.failed} items failed")


def run_job(ctx: typer.Context, job, yes: bool, as_json: bool,
            max_failed: float = MAX_FAILED_SHARE) -> None:
    """Show the estimate, confirm, run with a progress bar, and report; fail when more than
    `max_failed` of the items got no result. A second run of the same job on the workspace is
    refused before its estimate."""
    with job.exclusive():
        _run_job(job, yes, as_json, max_failed)


def _run_job(job, yes: bool, as_json: bool, max_failed: float) -> None:  # noqa: ANN001
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
            report = job.run(lambda r: bars(job.name, r.worked, estimate.items,
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
            f"{report.completion_tokens:,} completion tokens; ${report.cost:.4f} spent"
            f"{_not_parsed(report)}.", highlight=False, soft_wrap=True)
    if report.failed and report.failed_share() > max_failed:
        raise UnderstudyError(
            f"{job.name} failed on {report.failed} of {report.worked} items (more than "
            f"{max_failed:.0%}): the model's replies were not the JSON asked for, even when asked "
            "again; try another --model or adjust the prompt in the workspace's prompts/ folder")
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
    max_failed: float = _MAX_FAILED,
    as_json: bool = typer.Option(False, "--json", help="Print the estimate and report as JSON."),
) -> None:
    """Write questions each doc passage answers and answer them from it (examples: synthetic)."""
    from ..jobs import SynthQA

    run_job(ctx, SynthQA(workspace(ctx), model, questions, limit), yes, as_json, max_failed)


@jobs_app.command("annotate-code")
def annotate_code_command(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="The model that writes the notes."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="Work on at most this many snippets this run."),
    yes: bool = typer.Option(False, "--yes", help="Run without asking to confirm the cost."),
    max_failed: float = _MAX_FAILED,
    as_json: bool = typer.Option(False, "--json", help="Print the estimate and report as JSON."),
) -> None:
    """Write a note on each code snippet (what it does, how it is used, what to watch for) and
    the uses it serves: a support question, a documentation topic, a coding task."""
    from ..jobs import AnnotateCode

    run_job(ctx, AnnotateCode(workspace(ctx), model, limit), yes, as_json, max_failed)
