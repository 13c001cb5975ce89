"""Throughput and latency of POST /v1/answers under concurrent clients on loopback.

Usage: python3 benchmarks/serve_load.py [--threads 10000] [--clients 1,8,64] [--requests 400]
                                        [--encoders onnx-int8,onnx-fp32,torch]
                                        [--home DIR] [--output docs/benchmarks.md]

Builds (or reuses) a workspace of generated threads, runs `understudy serve`'s app under uvicorn
in a subprocess on 127.0.0.1, and drives it with an asyncio + httpx load client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

START, END = "<!-- serve:start -->", "<!-- serve:end -->"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def prepare(home: Path, size: int) -> str:
    """A workspace of `size` generated threads with its index built; returns a fresh token."""
    import synthetic

    from understudy.serve.auth import create_token
    from understudy.workspace import Workspace

    ws = Workspace(home)
    if ws.store.count("threads") < size:
        for thread in synthetic.threads(size):
            ws.store.upsert_thread(thread)
    ws.settings.set("rate_limit_per_minute", 10**9)
    t0 = time.perf_counter()
    stats = ws.index.build()
    print(f"index: {stats.items} items, {stats.embedded} embedded in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    _, token = create_token(ws.store, f"load-{int(time.time())}")
    ws.close()
    return token


def serve(home: str, port: int) -> None:
    """Run the app under uvicorn (the subprocess side)."""
    import uvicorn

    from understudy.serve import create_app
    from understudy.workspace import Workspace

    uvicorn.run(create_app(Workspace(home), slack=False), host="127.0.0.1", port=port,
                log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_ready(url: str, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not start")


async def load(url: str, token: str, tickets: list[dict], clients: int, total: int) -> dict:
    """`clients` concurrent clients sending `total` requests in all; latencies in ms."""
    import httpx

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    counter = iter(range(total))

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=60) as client:
        async def one_client() -> None:
            nonlocal errors
            for n in counter:
                t0 = time.perf_counter()
                response = await client.post("/v1/answers", json=tickets[n % len(tickets)])
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += response.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return {
        "clients": clients, "requests": len(latencies), "errors": errors,
        "seconds": elapsed, "throughput": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
        "mean_ms": sum(latencies) / len(latencies),
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace) -> list[dict]:
    """Every load level against a fresh server for each ticket encoder in args.encoders."""
    import synthetic

    from understudy.workspace import Workspace

    home = Path(args.home or Path(tempfile.gettempdir()) / f"understudy-serve-{args.threads}")
    token = prepare(home, args.threads)
    tickets = [{"title": t.title, "body": t.body} for t in synthetic.tickets(args.tickets)]
    results = []
    for encoder in args.encoders:
        ws = Workspace(home)
        ws.settings.set("serve_query_encoder", encoder)
        ws.close()
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(home), str(port)])
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_ready(url))
            asyncio.run(load(url, token, tickets, 4, 40))  # warm up
            for clients in args.clients:
                total = max(args.requests, clients * 4)
                server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
                result = asyncio.run(load(url, token, tickets, clients, total))
                result["server_cpu_ms"] = (cpu_seconds(server.pid) - server_cpu) * 1000 / total
                result["client_cpu_ms"] = (time.process_time() - client_cpu) * 1000 / total
                result["encoder"], result["load_avg"] = encoder, os.getloadavg()[0]
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return results


def table(results: list[dict], args: argparse.Namespace, load_before: float) -> str:
    lines = [
        START,
        "## Serving: POST /v1/answers under load",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with "
        f"{os.cpu_count()} CPU cores (Python {platform.python_version()}), retrieval backend, "
        f"a workspace of {args.threads:,} generated threads (`benchmarks/synthetic.py`). "
        "uvicorn (one process) and the load client (asyncio + httpx, keep-alive) share the "
        f"machine over loopback. 1-minute load average before the run: {load_before:.2f}.",
        "",
        "| ticket encoder | clients | requests | errors | throughput (req/s) | p50 (ms) "
        "| p99 (ms) | mean (ms) | server CPU (ms) | client CPU (ms) | load avg |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['encoder']} | {r['clients']} | {r['requests']} | {r['errors']} | "
            f"{r['throughput']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['mean_ms']:.1f} | {r['server_cpu_ms']:.1f} | {r['client_cpu_ms']:.1f} | "
            f"{r['load_avg']:.2f} |"
        )
    lines += [
        "",
        "Each request authenticates, stores the ticket, embeds its text, scores every knowledge "
        "item (BM25 and cosine), and saves the draft before answering. Embedding the ticket is "
        "most of the work: it runs on the ticket encoder named by the `serve_query_encoder` "
        "setting (default `onnx-int8`; the ticket-encoder section compares their speed and "
        "quality), "
        "one request per core at a time, outside the interpreter lock. The uvicorn process and "
        "the load client share the two cores; server and client CPU are per request. A load "
        "average well above the core count means other processes were taking CPU during the "
        "run, and the latencies are then far above what an idle machine gives.",
        "",
        f"Command: `python3 benchmarks/serve_load.py --threads {args.threads} --clients "
        f"{','.join(map(str, args.clients))} --requests {args.requests} --encoders "
        f"{','.join(args.encoders)} --output docs/benchmarks.md`",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path | str, section: str, start: str = START, end: str = END) -> None:
    """Replace only this benchmark's section of the file (re-read right before writing); a
    relative path is taken from the repository's root, as the documented commands name it."""
    path = Path(path)
    path = path if path.is_absolute() else ROOT / path
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--clients", default="1,8,64",
                        type=lambda s: [int(c) for c in s.split(",")])
    parser.add_argument("--requests", type=int, default=400, help="requests per level")
    parser.add_argument("--tickets", type=int, default=200, help="distinct tickets sent")
    parser.add_argument("--encoders", default="onnx-int8",
                        type=lambda s: s.split(","),
                        help="ticket encoders to compare (serve_query_encoder values)")
    parser.add_argument("--home", help="workspace folder to build or reuse")
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = run(args)
    if args.output:
        write_section(args.output, table(results, args, load_before))


if __name__ == "__main__":
    main()
