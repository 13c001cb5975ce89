"""Backtest reports: a summary, a markdown file and PNG plots in the workspace, and `--json`."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .backtest import BACKTESTS_DIR, Case, quality
from .judge import is_local
from .scores import CurvePoint, coverage_curve, threshold_for


def summarize(cases: list[Case], metric: str = "similarity", judge: str | None = None,
              target: float | None = None, threshold: float | None = None) -> dict[str, Any]:
    """Mean scores, the coverage-quality curve on `metric`, and the threshold for `target`."""
    scored = [c for c in cases if metric != "source" or c.source_hit is not None]
    curve = coverage_curve([c.confidence for c in scored],
                           [quality(c, metric, judge) for c in scored])
    known = [c for c in cases if c.source_hit is not None]
    summary: dict[str, Any] = {
        "threads": len(cases),
        "metric": metric,
        "similarity": _mean([c.similarity for c in cases]),
        "rouge_l": _mean([c.rouge_l for c in cases]),
        "source_hit": _mean([float(bool(c.source_hit)) for c in known]) if known else None,
        "source_known": len(known),
        "abstained": _mean([float(c.abstained) for c in cases]),
        "threshold": threshold,
        "curve": [asdict(p) for p in curve],
    }
    if judge:
        rated = [c.judge[judge]["score"] for c in cases if judge in c.judge]
        summary["judge"] = {"model": judge, "mean": _mean(rated), "rated": len(rated),
                            "last_resort": is_local(judge)}
    if target is not None:
        point = threshold_for(curve, target)
        summary["target"] = {"quality": target, "threshold": point.threshold if point else None,
                             "coverage": point.coverage if point else 0.0,
                             "reached": point is not None}
    return summary


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def by_group(cases: list[Case], key: str = "project") -> dict[str, dict[str, float]]:
    """Per project (or source): how many, mean similarity and ROUGE-L, share abstained."""
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[getattr(case, key) or "(none)"].append(case)
    return {
        name: {"threads": len(group), "similarity": _mean([c.similarity for c in group]),
               "rouge_l": _mean([c.rouge_l for c in group]),
               "abstained": _mean([float(c.abstained) for c in group])}
        for name, group in sorted(groups.items())
    }


def report_json(info: dict[str, Any], cases: list[Case], summary: dict[str, Any]
                ) -> dict[str, Any]:
    """The whole report as one JSON document."""
    return {**info, "summary": summary, "by_project": by_group(cases),
            "by_source": by_group(cases, "source"), "cases": [c.to_json() for c in cases]}


def write_report(home: Path | str, info: dict[str, Any], cases: list[Case],
                 summary: dict[str, Any]) -> Path:
    """Write report.md, report.json and the PNG plots into a new folder of the workspace."""
    stamp = info["date"].replace(":", "").replace("-", "")
    folder = Path(home) / BACKTESTS_DIR / f"{stamp}-{info['backend']}"
    folder.mkdir(parents=True, exist_ok=True)
    document = report_json(info, cases, summary)
    (folder / "report.json").write_text(json.dumps(document, indent=2, ensure_ascii=False),
                                        encoding="utf-8")
    plots = write_plots(folder, cases, summary)
    (folder / "report.md").write_text(markdown(document, plots), encoding="utf-8")
    return folder


def markdown(document: dict[str, Any], plots: list[str]) -> str:
    """The report as markdown: what was run, the scores, the trade-off, the worst drafts."""
    s = document["summary"]
    lines = [
        "# Backtest report", "",
        f"- workspace: `{document['workspace']}`",
        f"- data: {document['data']}",
        f"- backend: {document['backend']}; model: {document['model'] or '(default)'}",
        f"- date: {document['date']}",
        f"- command: `{document['command']}`", "",
        "Each thread was answered with only the threads opened before it and the replies "
        "written before it; the draft is compared with the team's first real reply.", "",
        "| measure | value |", "| --- | --- |",
        f"| threads | {s['threads']} |",
        f"| semantic similarity (mean cosine) | {s['similarity']:.3f} |",
        f"| ROUGE-L F1 (mean) | {s['rouge_l']:.3f} |",
        "| sources include a thread the team linked | "
        + (f"{100 * s['source_hit']:.0f}% of {s['source_known']} |" if s["source_hit"] is not None
           else "no reply links an earlier thread |"),
        f"| abstained at threshold {_fmt(s['threshold'])} | {100 * s['abstained']:.0f}% |",
    ]
    if "judge" in s:
        marked = " (local model: a judge of last resort)" if s["judge"].get("last_resort") else ""
        lines.append(f"| judge {s['judge']['model']}{marked} (mean, 0-1) "
                     f"| {s['judge']['mean']:.3f} |")
    lines += ["", f"## Coverage and quality ({s['metric']})", "",
              "| threshold | answered | mean quality |", "| --- | --- | --- |"]
    lines += [f"| {p['threshold']:.3f} | {100 * p['coverage']:.0f}% ({p['answered']}) | "
              f"{p['quality']:.3f} |" for p in _thin(s["curve"])]
    if "target" in s:
        t = s["target"]
        lines += ["", (f"Quality {t['quality']} is reached at threshold {t['threshold']:.3f}, "
                       f"answering {100 * t['coverage']:.0f}% of tickets." if t["reached"] else
                       f"No threshold reaches quality {t['quality']}.")]
    lines += ["", "## By project", "", "| project | threads | similarity | ROUGE-L | abstained |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {g['threads']} | {g['similarity']:.3f} | {g['rouge_l']:.3f} | "
              f"{100 * g['abstained']:.0f}% |" for name, g in document["by_project"].items()]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    worst = sorted(document["cases"], key=lambda c: c["similarity"])[:5]
    lines += ["", "## Least similar drafts", "", "| thread | confidence | similarity |",
              "| --- | --- | --- |"]
    lines += [f"| [{c['external_id']}]({c['url']}) {c['title']} | {c['confidence']:.3f} | "
              f"{c['similarity']:.3f} |" for c in worst]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _thin(curve: list[dict[str, Any]], rows: int = 12) -> list[dict[str, Any]]:
    """At most `rows` evenly spread points of a long curve, keeping both ends."""
    if len(curve) <= rows:
        return curve
    picks = np.linspace(0, len(curve) - 1, rows).round().astype(int)
    return [curve[i] for i in sorted(set(picks.tolist()))]


def write_plots(folder: Path, cases: list[Case], summary: dict[str, Any]) -> list[str]:
    """coverage.png, scores.png and sources.png; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    curve = [CurvePoint(**p) for p in summary["curve"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p.coverage for p in curve], [p.quality for p in curve], marker=".")
    ax.set_xlabel("coverage (share of tickets answered)")
    ax.set_ylabel(f"mean quality ({summary['metric']})")
    ax.set_title("Coverage and quality over confidence thresholds")
    ax.set_xlim(0, 1.02)
    ax.grid(alpha=0.3)
    names.append(_save(fig, folder / "coverage.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 21)
    ax.hist([c.similarity for c in cases], bins=bins, alpha=0.6, label="similarity")
    ax.hist([c.rouge_l for c in cases], bins=bins, alpha=0.6, label="ROUGE-L")
    ax.hist([c.confidence for c in cases], bins=bins, alpha=0.6, label="confidence")
    ax.set_xlabel("score")
    ax.set_ylabel("threads")
    ax.set_title("Score distributions")
    ax.legend()
    names.append(_save(fig, folder / "scores.png"))
    groups = by_group(cases)
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.4 * len(groups) + 1)))
    labels = list(groups)
    ax.barh(labels, [groups[g]["similarity"] for g in labels])
    ax.set_xlabel("mean similarity")
    ax.set_title("By project")
    ax.set_xlim(0, 1)
    names.append(_save(fig, folder / "sources.png"))
    return names


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
