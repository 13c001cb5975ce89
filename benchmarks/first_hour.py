"""Wall time of the commands a new user runs first, for two checkouts in one run.

Usage:
    git worktree add --detach /tmp/firsthour-base BASE_COMMIT
    touch /tmp/firsthour-base/src/understudy/__init__.py   # if missing: see below
    python3 benchmarks/first_hour.py --base /tmp/firsthour-base/src [--repeat 3]

With the package installed in editable mode from another checkout, an `understudy` without
an `__init__.py` on PYTHONPATH is only a namespace portion and the installed one is imported
instead; the script checks which code each side runs and stops if it is not the one given.

Each command runs in a fresh process against one demo workspace (built once, by this
checkout), alternating base and this checkout so that a busy machine slows both alike; the
median of the runs is reported, with the ratio base / this checkout. `serve` is timed from the
process start to the first answer of POST /v1/answers, split into the time until the port
accepts connections and the time of that first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "index (no-op)": ["index"],
    "answer --open (no-op)": ["answer", "--open"],
    "drafts": ["drafts"],
    "models": ["models"],
}
TICKET = {"title": "Login loops back to the sign-in page",
          "body": "After signing in with OIDC the browser returns to the login page."}


def environment(src: Path, home: Path, cache: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "UNDERSTUDY_HOME": str(home),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "80"}
    if cache is not None:
        env["UNDERSTUDY_CACHE"] = str(cache)
    return env


def understudy(src: Path, home: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "understudy", *args], capture_output=True,
                          text=True, env=environment(src, home), check=True)


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes that have ended so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(src: Path, home: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of the command line."""
    start, cpu = time.perf_counter(), children_cpu()
    understudy(src, home, args)
    return time.perf_counter() - start, children_cpu() - cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_first_answer(src: Path, home: Path, token: str, cache: Path | None = None,
                       limit: float = 300.0) -> tuple[float, float]:
    """Seconds from start until the port accepts, and until the first answer came back."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "understudy", "serve", "--port", str(port)],
                            env=environment(src, home, cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - start > limit:
                raise RuntimeError("understudy serve did not come up")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        listening = time.perf_counter() - start
        response = httpx.post(f"http://127.0.0.1:{port}/v1/answers", json=TICKET, timeout=limit,
                              headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        return listening, time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# The server's start, step by step, in one process (the ONNX file already made).
PHASES = """
import json, sys, time
laps, t = {}, time.perf_counter()
def lap(name):
    global t
    now = time.perf_counter(); laps[name] = now - t; t = now
import understudy.cli
lap("import the command line")
from understudy.serve import create_app
lap("import the web application (FastAPI, the answerer)")
from understudy.workspace import Workspace
service = create_app(Workspace(sys.argv[1])).state.service
lap("create the application")
answerer = service.answerer()
lap("open the index, the ONNX query encoder and the tokenizer")
from understudy.records import Message, Thread
BODY = "After OIDC sign-in I land on the login page again."
ticket = Thread(source="api", external_id="bench", url="", title="Login loops back",
                messages=[Message("q", "user", BODY, "2026-12-04T00:00:00Z", kind="question",
                                  text=BODY)])
answerer.draft(ticket, save=False)
lap("first draft (BM25 made, ranker and backend loaded)")
answerer.draft(ticket, save=False)
lap("second draft")
print(json.dumps(laps))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="src folder of the base code")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"base": args.base.resolve(), "this": ROOT / "src"}
    for name, src in checkouts.items():
        where = "import understudy.cli as c; print(c.__file__)"
        found = subprocess.run([sys.executable, "-c", where], capture_output=True, text=True,
                               env=environment(src, ROOT), check=True).stdout.strip()
        if not Path(found).is_relative_to(src):
            sys.exit(f"{name} runs {found}, not the code under {src}: add an empty "
                     f"{src}/understudy/__init__.py")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "demo"
        understudy(checkouts["this"], home, ["demo", "--home", str(home)])
        token = json.loads(understudy(checkouts["this"], home,
                                      ["serve", "token", "create", "bench", "--json"]).stdout
                           )["token"]
        times: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
        cpu: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
        load = os.getloadavg()[0]
        for _ in range(args.repeat):
            for name, src in checkouts.items():
                for label, command in COMMANDS.items():
                    wall, used = timed(src, home, command)
                    times[name].setdefault(label, []).append(wall)
                    cpu[name].setdefault(label, []).append(used)
                before = children_cpu()
                listening, answered = serve_first_answer(src, home, token)
                times[name].setdefault("serve: port open", []).append(listening)
                times[name].setdefault("serve: first answer", []).append(answered)
                cpu[name].setdefault("serve: first answer", []).append(children_cpu() - before)
        for name, src in checkouts.items():  # a machine's first start: the ONNX file is made
            _, answered = serve_first_answer(src, home, token, Path(tmp) / f"cache-{name}")
            times[name]["serve, first start on a machine: first answer"] = [answered]
        phases = json.loads(subprocess.run(
            [sys.executable, "-c", PHASES, str(home)], capture_output=True, text=True,
            env=environment(checkouts["this"], home), check=True).stdout)
        load = (load + os.getloadavg()[0]) / 2
    print(f"Median of {args.repeat} runs (first start on a machine: one run); 1-minute load "
          f"average {load:.1f} on {os.cpu_count()} cores. CPU is user + system seconds of the "
          "process (serve: until it was stopped after the first answer).\n")
    print("| command | base wall (s) | this wall (s) | base / this | base CPU (s) | this CPU (s) |"
          "\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for label in times["base"]:
        base, this = (statistics.median(times[n][label]) for n in ("base", "this"))
        used = [f"{statistics.median(cpu[n][label]):.2f}" if label in cpu[n] else ""
                for n in ("base", "this")]
        print(f"| `{label}` | {base:.2f} | {this:.2f} | {base / this:.1f}x | {used[0]} | "
              f"{used[1]} |")
    print("\nWhere this checkout's `serve` spends its time before the first answer "
          "(one process, seconds):\n")
    print("| phase | s |\n| --- | ---: |")
    for phase, seconds in phases.items():
        print(f"| {phase} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
