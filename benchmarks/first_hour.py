"""Wall time of the commands a new user runs first, for two checkouts in one run.

Usage:
    git worktree add --detach /tmp/firsthour-base main
    python3 benchmarks/first_hour.py --base /tmp/firsthour-base/src [--repeat 3]

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


def environment(src: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "UNDERSTUDY_HOME": str(home),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "80"}


def understudy(src: Path, home: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "understudy", *args], capture_output=True,
                          text=True, env=environment(src, home), check=True)


def timed(src: Path, home: Path, args: list[str]) -> float:
    start = time.perf_counter()
    understudy(src, home, args)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_first_answer(src: Path, home: Path, token: str, limit: float = 180.0
                       ) -> tuple[float, float]:
    """Seconds from start until the port accepts, and until the first answer came back."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "understudy", "serve", "--port", str(port)],
                            env=environment(src, home), stdout=subprocess.DEVNULL,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="src folder of the base code")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"base": args.base.resolve(), "this": ROOT / "src"}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "demo"
        understudy(checkouts["this"], home, ["demo", "--home", str(home)])
        token = json.loads(understudy(checkouts["this"], home,
                                      ["serve", "token", "create", "bench", "--json"]).stdout
                           )["token"]
        times: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
        for _ in range(args.repeat):
            for name, src in checkouts.items():
                for label, command in COMMANDS.items():
                    times[name].setdefault(label, []).append(timed(src, home, command))
                listening, answered = serve_first_answer(src, home, token)
                times[name].setdefault("serve: port open", []).append(listening)
                times[name].setdefault("serve: first answer", []).append(answered)
    print("| command | base (s) | this (s) | base / this |\n| --- | ---: | ---: | ---: |")
    for label in times["base"]:
        base, this = (statistics.median(times[n][label]) for n in ("base", "this"))
        print(f"| `{label}` | {base:.2f} | {this:.2f} | {base / this:.1f}x |")


if __name__ == "__main__":
    main()
