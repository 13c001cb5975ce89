"""`understudy eval`: answer quality measured on public benchmarks, and tuning on them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from . import app, tables, workspace
from .progress import progress as show_progress

eval_app = typer.Typer(help="Measure answer quality on public data and tune the retriever.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("bench")
def bench(
    ctx: typer.Context,
    dataset: str = typer.Argument(
        ..., help="semeval2016, stackfaq, covidfaq or jsonl (a folder of your own)."
    ),
    path: Path = typer.Argument(..., help="The data set's folder or file."),
    subtask: str | None = typer.Option(None, "--subtask", help="SemEval subtask: A, B or C."),
    system: list[str] | None = typer.Option(
        None, "--system",
        help="default, bm25, embeddings, hybrid, search-engine, ranker (SemEval B and C), or "
        "model:NAME for a registered tuned embedding model (repeatable; default all built-in "
        "systems but ranker).",
    ),
    train: Path | None = typer.Option(
        None, "--train", help="ranker: tune the embedding model on this training file (same "
        "format), then fit the ranker over it (and over the encoders the ranker_encoders "
        "setting names); without it the workspace's trained ranker is used."),
    tune_epochs: int = typer.Option(
        3, "--tune-epochs", min=0, help="ranker with --train: epochs of tuning the embedding "
        "model first (the tuned model is cached by the file's hash); 0 fits the ranker over "
        "the model as shipped."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics and rankings as JSON."),
) -> None:
    """Rank a public benchmark's candidates with each system and score the rankings; the
    embedding systems encode with the workspace's `embedding_model`, as its index does, and keep
    the candidates' vectors in the workspace, so another subtask or a rerun over the same texts
    encodes only its queries."""
    from ..embeddings import encoder_for
    from ..embeddings.cached import CachedEncoder
    from ..evaluate.bench import bench_json, check_systems, load_benchmark, run_bench, run_models
    from ..evaluate.systems import EMBEDDED

    benchmark = load_benchmark(dataset, path, subtask)
    models = [s.split(":", 1)[1] for s in system or [] if s.startswith("model:")]
    plain = [s for s in system or [] if not s.startswith("model:") and s != "ranker"]
    ranked = "ranker" in (system or []) or (train is not None and not system)
    names = check_systems(benchmark, plain) if plain or not system else []
    encoder = None
    if set(EMBEDDED).intersection(names):
        ws = workspace(ctx)
        encoder = CachedEncoder(encoder_for(ws.settings.get("embedding_model")), ws.store)
    with show_progress("Loading the embedding model") as progress:
        results = run_bench(benchmark, names, encoder, progress=progress) if names else {}
        if ranked:
            from ..evaluate.answer_ranker import run_ranker

            results["ranker"] = run_ranker(benchmark, train, workspace(ctx),
                                           tune_epochs=tune_epochs, say=progress.say)
        if models:
            store = workspace(ctx).store
            results.update(run_models(benchmark, models, store, progress=progress))
    if as_json:
        typer.echo(json.dumps(bench_json(benchmark, results), indent=2))
        return
    _print_table(benchmark, results)


def _print_table(benchmark, results) -> None:  # noqa: ANN001  (types from a lazy import)
    from ..evaluate.bench import PUBLISHED

    metrics = list(next(iter(results.values())).metrics)
    title = f"{benchmark.dataset}" + (f" subtask {benchmark.subtask}" if benchmark.subtask else "")
    rows = [[escape(name), *(f"{result.metrics[m]:.2f}" for m in metrics)]
            for name, result in results.items()]
    for label, metric, value in PUBLISHED.get((benchmark.dataset, benchmark.subtask), []):
        cells = [f"{value:.2f}" if m == metric else "" for m in metrics]
        rows.append([f"[dim]published: {escape(label)}[/dim]", *cells])
    columns = [tables.label("system"), *(tables.number(m) for m in metrics)]
    tables.print_table(Console(), columns, rows,
                       f"{title}: {len(benchmark.queries)} queries (percent)")


@eval_app.command("tune")
def tune(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The SemEval-2016 folder holding dev/ and train/."),
    threshold: float = typer.Option(
        0.5, "--threshold", help="Confidence below which the answerer abstains."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the choices as JSON."),
) -> None:
    """Choose the fusion weight and confidence calibration on train data; check them on dev
    (with the workspace's embedding model)."""
    from ..evaluate.calibrate import tune as run_tune

    encoder = workspace(ctx).encoder
    with show_progress("Loading the embedding model") as progress:
        report = run_tune(path, encoder, threshold=threshold, progress=progress)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    rows = [[f"{weight:.2f}{' *' if weight == report.weight else ''}", f"{train_map:.2f}",
             f"{report.dev_map[weight]:.2f}"] for weight, train_map in report.train_map.items()]
    console = Console()
    tables.print_table(console, [tables.number(c) for c in ("BM25 share", "train-part2", "dev")],
                       rows, "Default system MAP by BM25 share (SemEval-2016 subtask B)")
    cal, dev = report.calibration, report.dev
    console.print(
        f"Chosen on train: BM25_WEIGHT = {report.weight}; "
        f"SEMEVAL_DEFAULT map ({cal.a:.2f}, {cal.b:.2f}) from {report.train_pairs} best hits, "
        f"threshold {cal.threshold} (understudy/judge.py)"
    )
    console.print(
        f"On dev ({dev['pairs']} queries): Brier {dev['brier']:.3f} "
        f"(constant {dev['brier_constant']:.3f}); answers {100 * dev['answered']:.0f}% "
        f"with {100 * dev['precision_answered']:.0f}% right (best hit relevant)."
    )


from . import eval_backtest  # noqa: E402,F401  (registers backtest and calibrate)
