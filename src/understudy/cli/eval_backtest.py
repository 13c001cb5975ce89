"""`understudy eval backtest` and `eval calibrate`: quality on the team's own past tickets."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import UsageError
from . import workspace
from .eval import eval_app
from .progress import progress as show_progress
from .tables import label, number, print_table

_LIMIT = typer.Option(50, "--limit", "-n", help="How many of the last answered threads.")
_PROJECT = typer.Option(None, "--project", help="Only threads of this project (repeatable).")
_SINCE = typer.Option(None, "--since", help="Only threads opened on or after DATE.")
_UNTIL = typer.Option(None, "--until", help="Only threads opened on or before DATE.")
_BACKEND = typer.Option("retrieval", "--backend", help="The backend that drafts.")
_MODEL = typer.Option(None, "--model", help="The model of a generating backend.")
_DOCS = typer.Option(False, "--docs", help="Also use doc passages (they carry no date).")
_JUDGE = typer.Option(
    None, "--judge",
    help="Rate drafts with this model (openai engine), or 'local' / 'local:FOLDER' for the "
         "local model, a judge of last resort.")
_METRIC = typer.Option(
    None, "--metric", help="Quality for the trade-off: similarity, rouge, source or judge."
)


def _run(ctx: typer.Context, limit: int, project: list[str] | None, since: str | None,
         until: str | None, backend: str, model: str | None, docs: bool, judge: str | None,
         metric: str | None, target: float | None) -> tuple[Any, dict, list, dict]:
    from ..dates import option_date
    from ..evaluate.backtest import METRICS, Backtest, Selection, now
    from ..evaluate.report import summarize

    metric = metric or ("judge" if judge else "similarity")
    if metric not in METRICS:
        raise UsageError(f"Unknown metric {metric!r}: use {', '.join(METRICS)}")
    if metric == "judge" and not judge:
        raise UsageError("--metric judge needs --judge MODEL")
    if target is not None and not 0 <= target <= 1:
        raise UsageError("--target is a quality between 0 and 1, e.g. --target 0.6")
    since, until = option_date(since, "--since"), option_date(until, "--until")
    ws = workspace(ctx)
    with show_progress("Loading the index and the embedding model") as progress:
        runner = Backtest(ws, backend, model, docs, progress)
        cases = runner.run(Selection(limit, project or [], since, until), judge)
    summary = summarize(cases, metric, judge, target, runner.threshold)
    first, last = cases[0].created_at[:10], cases[-1].created_at[:10]
    projects = sorted({c.project for c in cases if c.project})
    info = {
        "workspace": str(ws.home), "backend": backend, "model": model or cases[0].model,
        "date": now(), "command": shlex.join(["understudy", *sys.argv[1:]]),
        "data": f"{len(cases)} answered threads opened {first} to {last}"
                + (f" in {', '.join(projects)}" if projects else "")
                + ("; with doc passages" if docs else ""),
    }
    return ws, info, cases, summary


@eval_app.command("backtest")
def backtest(
    ctx: typer.Context,
    limit: int = _LIMIT, project: list[str] | None = _PROJECT, since: str | None = _SINCE,
    until: str | None = _UNTIL, backend: str = _BACKEND, model: str | None = _MODEL,
    docs: bool = _DOCS, judge: str | None = _JUDGE, metric: str | None = _METRIC,
    target: float | None = typer.Option(
        None, "--target", help="Find the threshold whose answered drafts reach this quality."
    ),
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Write report.md, report.json and PNG plots."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Answer past tickets with only what existed before each, and score against real replies."""
    from ..evaluate.report import report_json, write_report

    ws, info, cases, summary = _run(ctx, limit, project, since, until, backend, model, docs,
                                    judge, metric, target)
    folder = write_report(ws.home, info, cases, summary) if report else None
    if as_json:
        document = report_json(info, cases, summary)
        document["report"] = str(folder) if folder else None
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _print_summary(info, summary)
    if folder:
        Console().print(f"Report: {folder / 'report.md'}")


@eval_app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    target: float | None = typer.Option(
        None, "--target", help="Without --metric: the share of answered drafts whose evidence "
        "must be right (default 0.9). With --metric: the mean quality they must reach."),
    limit: int | None = typer.Option(
        None, "--limit", "-n", help="How many of the last answered threads (and passages)."),
    project: list[str] | None = _PROJECT, since: str | None = _SINCE,
    until: str | None = _UNTIL, backend: str = _BACKEND, model: str | None = _MODEL,
    docs: bool = _DOCS, judge: str | None = _JUDGE, metric: str | None = _METRIC,
    as_json: bool = typer.Option(False, "--json", help="Print the choice as JSON."),
) -> None:
    """Fit the confidence map and threshold on the workspace's own threads and docs (or, with
    --metric, store the threshold at which backtested drafts reach --target)."""
    if metric is None and judge is None:
        _calibrate_workspace(ctx, target, limit, project or [], as_json)
        return
    if target is None:
        raise UsageError("--metric needs --target, the mean quality answered drafts must reach")
    ws, info, _, summary = _run(ctx, limit or 50, project, since, until, backend, model, docs,
                                judge, metric, target)
    chosen = summary["target"]
    if chosen["reached"]:
        ws.settings.set("abstain_threshold", chosen["threshold"])
    result = {**chosen, "metric": summary["metric"], "threads": summary["threads"],
              "stored": chosen["reached"], "previous": summary["threshold"]}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif chosen["reached"]:
        Console().print(
            f"abstain_threshold = {chosen['threshold']:.4f} (was {summary['threshold']:.2f}): "
            f"answers {100 * chosen['coverage']:.0f}% of {summary['threads']} past tickets "
            f"with mean {summary['metric']} >= {target}"
        )
    if not chosen["reached"]:
        best = max((p["quality"] for p in summary["curve"]), default=0.0)
        raise UsageError(f"No threshold reaches {summary['metric']} {target} (best {best:.3f}): "
                         "give a lower --target; the threshold is unchanged")


def _calibrate_workspace(ctx: typer.Context, target: float | None, limit: int | None,
                         projects: list[str], as_json: bool) -> None:
    from ..evaluate.workspace_calibration import DEFAULT_PRECISION, MAX_CASES, calibrate_workspace

    ws = workspace(ctx)
    with show_progress("Calibrating on the workspace") as progress:
        fit = calibrate_workspace(ws, DEFAULT_PRECISION if target is None else target,
                                  limit or MAX_CASES, projects, progress)
    if as_json:
        typer.echo(json.dumps({**fit.to_json(), "stored": fit.reached}, indent=2))
    elif fit.reached:
        c = fit.calibration
        Console().print(
            f"Calibration \"workspace\" stored: confidence map ({c.a:.2f}, {c.b:.2f}), abstain "
            f"below {c.threshold:.2f} (retrieval score {fit.score_threshold:.3f}); on "
            f"{len(fit.cases)} cases it answers {100 * fit.report['right_answered']:.0f}% of "
            f"the answerable and abstains on {100 * fit.report['wrong_abstained']:.0f}% of "
            "the rest")
    if not fit.reached:
        raise UsageError(f"No threshold reaches precision {fit.target} on this workspace: "
                         "give a lower --target; the calibration is unchanged")


def _print_summary(info: dict, summary: dict) -> None:
    console = Console()
    rows = [["semantic similarity (mean)", f"{summary['similarity']:.3f}"],
            ["ROUGE-L F1 (mean)", f"{summary['rouge_l']:.3f}"]]
    hit = summary["source_hit"]
    rows.append([f"sources hold a linked thread ({summary['source_known']} known)",
                 "-" if hit is None else f"{100 * hit:.0f}%"])
    rows.append([f"abstained at {summary['threshold']:.2f}", f"{100 * summary['abstained']:.0f}%"])
    if "judge" in summary:
        marked = " (judge of last resort)" if summary["judge"].get("last_resort") else ""
        rows.append([f"judge {escape(summary['judge']['model'])}{marked}",
                     f"{summary['judge']['mean']:.3f}"])
    print_table(console, [label("measure"), number("value")], rows,
                f"Backtest: {escape(info['data'])} ({info['backend']})")
    if "target" in summary:
        t = summary["target"]
        console.print(
            f"{summary['metric']} {t['quality']} is reached at threshold {t['threshold']:.3f} "
            f"({100 * t['coverage']:.0f}% answered)" if t["reached"]
            else f"No threshold reaches {summary['metric']} {t['quality']}."
        )
