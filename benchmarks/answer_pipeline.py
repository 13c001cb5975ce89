"""The answering pipeline before and after a change: answer latency at 100k threads and backtests.

Usage: python3 benchmarks/answer_pipeline.py --base BASE_CHECKOUT [--size 100000]
       [--tickets 100] [--rounds 3] [--workdir /tmp/pipeline-bench] [--twcs CSV] [--skip-latency]

BASE_CHECKOUT is a second checkout of the code to compare with (e.g. `git worktree add
/tmp/pipeline-base main`); this checkout is "after". Latency: one generated workspace (built once
with this checkout by benchmarks/run.py, random stored vectors at sizes this machine cannot embed)
is served by both checkouts in alternating fresh processes, `rounds` times each, so a busy
moment of the machine hits both; the figure is the median over rounds of each one's p50, and
the after/before ratio of p50 per round. Backtests: `understudy demo` then `eval backtest` in a
fresh workspace per checkout, and the same on a Twitter customer-support CSV when given.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_]{1,40}\b")


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "src"), "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def ensure_workspace(workdir: Path, size: int) -> Path:
    """The generated workspace of `size` threads, written and indexed once (by this checkout)."""
    home = workdir / str(size)
    if not (home / "build.json").is_file():
        subprocess.run([sys.executable, str(HERE / "run.py"), "--sizes", str(size),
                        "--fill-vectors", str(size), "--phases", "write,build", "--tickets", "10",
                        "--sample", "64", "--workdir", str(workdir), "--output", "-"],
                       env=_env(ROOT), capture_output=True, text=True)
    if not (home / "build.json").is_file():
        raise SystemExit(f"Building the {size:,}-thread workspace in {workdir} failed")
    return home


def serve(tree: Path, home: Path, size: int, tickets: int) -> dict:
    """One serve phase of benchmarks/run.py with the code of `tree`."""
    out = subprocess.run([sys.executable, str(HERE / "run.py"), "--phase", "serve", "--home",
                          str(home), "--sizes", str(size), "--tickets", str(tickets)],
                         env=_env(tree), check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def latency(base: Path, home: Path, size: int, tickets: int, rounds: int) -> dict:
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for n in range(rounds):
        # Alternate which goes first, so neither always meets a warmer page cache.
        order = (("before", base), ("after", ROOT)) if n % 2 == 0 else (
            ("after", ROOT), ("before", base))
        for name, tree in order:
            runs[name].append(serve(tree, home, size, tickets))
            print(f"round {n + 1} {name}: p50 {runs[name][-1]['answer_p50_ms']:.1f} ms",
                  file=sys.stderr, flush=True)
    ratios = [a["answer_p50_ms"] / b["answer_p50_ms"]
              for a, b in zip(runs["after"], runs["before"], strict=True)]

    def median(name: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[name]), 1)

    return {
        "size": size, "tickets": tickets, "rounds": rounds,
        **{f"{name}_{key}": median(name, key) for name in runs
           for key in ("answer_p50_ms", "answer_p99_ms", "search_p50_ms")},
        "p50_ratio_per_round": [round(r, 3) for r in ratios],
        "p50_ratio_median": round(statistics.median(ratios), 3),
        "load_avg": [r["load_avg"] for r in runs["before"] + runs["after"]],
    }


def _cli(tree: Path, home: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "understudy", "--home", str(home), *args],
                         env=_env(tree), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"understudy {' '.join(args)} failed with {tree}: {out.stderr[-800:]}")
    return out.stdout


def backtest(tree: Path, setup: list[list[str]], limit: int) -> dict:
    """A fresh workspace set up by `setup` commands, then `eval backtest --json`."""
    with tempfile.TemporaryDirectory(prefix="pipeline-bt-") as folder:
        home = Path(folder)
        for command in setup:
            _cli(tree, home, *[part.replace("{home}", str(home)) for part in command])
        report = json.loads(_cli(tree, home, "eval", "backtest", "--limit", str(limit),
                                 "--no-report", "--json"))
    cases, summary = report["cases"], report["summary"]
    drafts = [c["draft"] for c in cases if not c["abstained"]]
    return {
        "threads": summary["threads"], "similarity": summary["similarity"],
        "rouge_l": summary["rouge_l"], "abstained": summary["abstained"],
        "source_hit": summary["source_hit"], "source_known": summary["source_known"],
        "drafts_with_a_handle": sum(bool(_HANDLE.search(d)) for d in drafts),
        "drafts_with_html_entities": sum(bool(re.search(r"&(gt|lt|amp|quot);", d))
                                         for d in drafts),
        "mean_draft_lines": round(statistics.mean(len(d.splitlines()) for d in drafts), 1)
        if drafts else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="A checkout of the code to compare with.")
    parser.add_argument("--size", type=int, default=100_000, help="Threads for latency.")
    parser.add_argument("--tickets", type=int, default=100, help="Tickets timed per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Serve runs per checkout.")
    parser.add_argument("--workdir", default="/tmp/pipeline-bench",
                        help="Where the generated workspace is kept between runs.")
    parser.add_argument("--twcs", help="A Twitter customer-support CSV to backtest as well.")
    parser.add_argument("--limit", type=int, default=200, help="Threads per backtest.")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-backtest", action="store_true")
    args = parser.parse_args()
    base = Path(args.base).resolve()
    if not (base / "src" / "understudy").is_dir():
        parser.error(f"{base} is not a checkout of understudy: give --base a checkout folder")
    result: dict = {}
    if not args.skip_backtest:
        sets = {"demo": [["demo", "--json", "--home", "{home}"]]}
        if args.twcs:
            sets["twcs"] = [["sync", "csv", str(Path(args.twcs).resolve())], ["index"]]
        for name, setup in sets.items():
            result[f"backtest_{name}"] = {
                "before": backtest(base, setup, args.limit),
                "after": backtest(ROOT, setup, args.limit)}
            print(json.dumps(result[f"backtest_{name}"]), file=sys.stderr, flush=True)
    if not args.skip_latency:
        home = ensure_workspace(Path(args.workdir), args.size)
        result["latency"] = latency(base, home, args.size, args.tickets, args.rounds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
