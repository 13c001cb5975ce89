"""`understudy train` (with `train status`) and `understudy models`."""

from __future__ import annotations

import json
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import UsageError
from . import app, workspace
from .progress import Bars, progress
from .tables import label, print_table, value

train_app = typer.Typer(help="Train a model on the examples: fine-tune, LoRA, or tune retrieval.",
                        invoke_without_command=True)
app.add_typer(train_app, name="train")


def _stages(bars: Bars) -> Callable[[str], None]:
    """What a trainer says: a line on stderr, and the stage its spinner shows until the next."""

    def say(text: str) -> None:
        bars.say(text)
        bars.stage(text)

    return say


def _options(**values):  # noqa: ANN202  (TrainOptions, imported late)
    from ..train import TrainOptions

    return TrainOptions(**{k: v for k, v in values.items() if v is not None})


@train_app.callback()
def train(
    ctx: typer.Context,
    backend: str | None = typer.Option(
        None, "--backend", help="openai (fine-tuning job), local (LoRA), ranker (the answer "
        "ranker) or retrieval (tune the embedding model)."),
    model: str | None = typer.Option(
        None, "--model", help="The base model: a name for openai, a folder for local."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Training epochs."),
    promote: bool = typer.Option(
        False, "--promote", help="Make it the default if it beats the current default on "
        "held-out threads."),
    suffix: str | None = typer.Option(None, "--suffix", help="openai: a suffix for the name."),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="openai: watch the job (else 'train status' does)."),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="local and retrieval: stop after this many steps."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="local and retrieval: examples per step."),
    budget_minutes: float | None = typer.Option(
        None, "--budget-minutes", min=0.1, help="local: stop after this many minutes (the "
        "adapter so far is registered; the same command continues from its checkpoint)."),
    save_every: int | None = typer.Option(
        None, "--save-every", min=1, help="local: steps between checkpoints (default 25)."),
    eval_limit: int | None = typer.Option(
        None, "--eval-limit", min=1, help="Held-out examples answered to compare models "
        "(default 20)."),
    as_json: bool = typer.Option(False, "--json", help="Print the registered model as JSON."),
) -> None:
    """Train a model on the examples, register it, and evaluate it on held-out threads."""
    if ctx.invoked_subcommand is not None:
        return
    if backend is None:
        raise UsageError("Say what to train: --backend openai, local, ranker or retrieval")
    from ..train import trainer_for

    with progress(f"Training ({backend})") as bars:
        trainer = trainer_for(workspace(ctx), backend, _stages(bars))
        done = trainer.train(_options(model=model, epochs=epochs, promote=promote,
                                      suffix=suffix, wait=wait, max_steps=max_steps,
                                      batch_size=batch_size, budget_minutes=budget_minutes,
                                      save_every=save_every, eval_limit=eval_limit))
    _print_models([done], as_json)


@train_app.command("status")
def status(
    ctx: typer.Context,
    poll: float = typer.Option(10.0, "--poll", min=0.0, help="Seconds between looks."),
    promote: bool = typer.Option(False, "--promote", help="Promote a finished model that wins."),
    as_json: bool = typer.Option(False, "--json", help="Print the models as JSON."),
) -> None:
    """Resume watching running fine-tuning jobs until they end, and register their models."""
    from ..train import trainer_for

    with progress("Watching fine-tuning jobs") as bars:
        trainer = trainer_for(workspace(ctx), "openai", _stages(bars))
        found = trainer.resume(_options(poll=poll, promote=promote))
    _print_models(found, as_json)


@app.command("models")
def models_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the models as JSON."),
) -> None:
    """List registered models, which one each backend uses, and their held-out figures."""
    from ..judge import describe_line, judge_in_force
    from ..store.training import models

    ws = workspace(ctx)
    _print_models(models(ws.store), as_json)
    if not as_json:
        typer.echo(describe_line(judge_in_force(ws)))


def _figures(metrics: dict) -> str:
    keys = ("answer_f1", "mrr", "recall_at_1", "heldout")
    ours = ", ".join(f"{k} {metrics[k]}" for k in keys if k in metrics)
    base = metrics.get("baseline_metrics") or {}
    theirs = ", ".join(f"{k} {base[k]}" for k in keys[:3] if k in base)
    return f"{ours} (default before: {theirs})" if theirs else ours


def _print_models(found: list, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([m.to_dict() for m in found], indent=2))
        return
    if not found:
        typer.echo("No models yet: train one with 'understudy train --backend retrieval'")
        return
    columns = [value("name"), value("backend"), value("model"), value("status"),
               value("default"), label("base"), label("held-out")]
    rows = [[escape(m.name), m.backend, escape(m.remote_id or m.path or ""), m.status,
             "yes" if m.is_default else "", escape(m.base_model or ""), escape(_figures(m.metrics))]
            for m in found]
    print_table(Console(), columns, rows, "Registered models")
