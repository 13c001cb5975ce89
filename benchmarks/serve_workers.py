"""`understudy serve --workers N` on PostgreSQL (or SQLite): POST /v1/answers under load.

Usage: python3 benchmarks/serve_workers.py [--threads 10000] [--workers 1,2,4]
                                           [--clients 8,64] [--requests 400]
                                           [--database postgresql] [--output docs/benchmarks.md]

Builds a workspace of generated threads with random unit vectors stored for every item (the
latency of an answer does not depend on their values), in a PostgreSQL database started from
the pgserver wheel (or in a SQLite file), then for each worker count starts `understudy serve
--workers N` and drives it with the asyncio + httpx load client of serve_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
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

START, END = "<!-- serve-workers:start -->", "<!-- serve-workers:end -->"


def prepare(home: Path, size: int) -> str:
    """The workspace, its index loaded from stored random vectors; returns a token."""
    import synthetic
    from run import fill_vectors

    from understudy.serve.auth import create_token
    from understudy.workspace import Workspace

    ws = Workspace(home)
    for thread in synthetic.threads(size):
        ws.store.upsert_thread(thread)
    ws.settings.set("rate_limit_per_minute", 10**9)
    fill_vectors(ws.index)
    ws.index.build()
    _, token = create_token(ws.store, "load")
    ws.close()
    return token


def workers_rss_mb(pid: int) -> list[float]:
    """Resident memory of each child (worker) of the server process; with one worker, uvicorn
    serves in the process itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split() or [str(pid)]
    sizes = []
    for child in children:
        try:
            pages = int(Path(f"/proc/{child}/statm").read_text().split()[1])
        except (OSError, IndexError):
            continue
        sizes.append(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)
    return sizes


def run(args: argparse.Namespace, home: Path, token: str, env: dict) -> list[dict]:
    import synthetic
    from serve_load import free_port, load, wait_ready

    tickets = [{"title": t.title, "body": t.body} for t in synthetic.tickets(args.tickets)]
    results = []
    for workers in args.workers:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "understudy", "--home", str(home), "serve", "--port",
             str(port), "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_ready(url))
            time.sleep(5 * workers)  # every worker loads its model and index, not only the first
            asyncio.run(load(url, token, tickets, 8, 40 * workers))  # warm up
            rss = workers_rss_mb(server.pid)
            for clients in args.clients:
                total = max(args.requests, clients * 4)
                result = asyncio.run(load(url, token, tickets, clients, total))
                result.update(workers=workers, load_avg=os.getloadavg()[0],
                              rss_mb=sum(rss) / max(1, len(rss)))
                print(result, file=sys.stderr, flush=True)
                results.append(result)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return results


def webhook_storm(args: argparse.Namespace, home: Path, env: dict, gitlab) -> dict:
    """Two workers, auto_send on, answers under load, and a storm of duplicate deliveries:
    for each of `--issues` new issues, four retries of one delivery and four redeliveries under
    new ids, sent 16 at a time in random order. Counts drafts and answers per issue."""
    import random

    import httpx
    import synthetic
    from sends import KNOWLEDGE, PROJECT, SECRET
    from serve_load import free_port, load, wait_ready

    from understudy.records import Message, Thread
    from understudy.serve.auth import create_token
    from understudy.workspace import Workspace

    ws = Workspace(home)
    for n, (title, question, answer) in enumerate(KNOWLEDGE, start=1):
        ws.store.upsert_thread(Thread(
            "gitlab", f"acme/old#{n}", f"https://gitlab.example.com/acme/old/-/issues/{n}",
            title, "closed", messages=[
                Message("q", "customer", question, "2024-01-01", kind="question"),
                Message("r", "support-ana", answer, "2024-01-02", is_team=True)]))
    ws.index.build()  # the answered threads above are embedded for real
    ws.settings.set("auto_send", True)
    _, token = create_token(ws.store, "storm")
    ws.close()
    project = gitlab.project(PROJECT)
    issues = [gitlab.add_issue(PROJECT, f"Require 2FA for everyone ({n})",
                               "How do I turn on two-factor authentication for all users?")
              for n in range(args.issues)]
    deliveries = []
    for issue in issues:
        payload = {"project": {"id": project["id"], "path_with_namespace": PROJECT,
                               "web_url": project["web_url"]},
                   "object_kind": "issue", "event_type": "issue",
                   "object_attributes": {"iid": issue["iid"], "action": "open",
                                         "url": issue["web_url"]}}
        for k in range(8):
            uuid = f"{issue['iid']}-retry" if k < 4 else f"{issue['iid']}-again-{k}"
            deliveries.append((payload, uuid))
    random.Random(3).shuffle(deliveries)
    tickets = [{"title": t.title, "body": t.body} for t in synthetic.tickets(args.tickets)]
    port = free_port()
    storm_env = {**env, "GITLAB_URL": gitlab.url, "GITLAB_TOKEN": gitlab.token,
                 "GITLAB_WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen(
        [sys.executable, "-m", "understudy", "--home", str(home), "serve", "--port", str(port),
         "--workers", "2"], env=storm_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    async def storm() -> list[str]:
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            async def deliver(payload: dict, uuid: str) -> str:
                async with limit:
                    reply = await client.post("/hooks/gitlab", json=payload, headers={
                        "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": uuid})
                    return reply.json().get("status", str(reply.status_code))
            return await asyncio.gather(*(deliver(p, u) for p, u in deliveries))

    async def both() -> tuple[list[str], dict]:
        return await asyncio.gather(storm(), load(url, token, tickets, 8, args.requests))

    try:
        asyncio.run(wait_ready(url))
        time.sleep(10)
        statuses, answers = asyncio.run(both())
    finally:
        server.send_signal(2)  # SIGINT: the workers finish the queued deliveries first
        server.wait(timeout=300)
    ws = Workspace(home)
    drafts = [len(ws.store.drafts(thread_id=ws.store.find_thread(
        "gitlab", f"{PROJECT}#{issue['iid']}").id)) for issue in issues]
    notes = [len(gitlab.notes(PROJECT, issue["iid"])) for issue in issues]
    ws.close()
    return {"issues": len(issues), "deliveries": len(deliveries),
            "duplicate": statuses.count("duplicate"), "queued": statuses.count("queued"),
            "drafts": [min(drafts), max(drafts)], "notes": [min(notes), max(notes)],
            "exactly_one_note": sum(n == 1 for n in notes), "answers": answers}


def table(results: list[dict], args: argparse.Namespace, load_before: float) -> str:
    lines = [
        START,
        "## Serving with several workers: `serve --workers N` (`benchmarks/serve_workers.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with "
        f"{os.cpu_count()} CPU cores (Python {platform.python_version()}), retrieval backend, "
        f"{args.threads:,} generated threads with stored random vectors, store: "
        f"{args.database} (PostgreSQL 16.2 from the pgserver wheel on the same machine). The "
        "workers, the database and the load client share the machine over loopback. 1-minute "
        f"load average before the run: {load_before:.2f}.",
        "",
        "| workers | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) "
        "| RSS per worker (MB) | load avg |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['clients']} | {r['requests']} | {r['errors']} | "
            f"{r['throughput']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['rss_mb']:,.0f} | {r['load_avg']:.2f} |")
    storm = getattr(args, "storm", None)
    if storm:
        a = storm["answers"]
        lines += [
            "",
            f"Duplicate webhook deliveries at two workers, `auto_send` on, while 8 clients ask "
            f"for answers: {storm['issues']} new issues, each delivered 8 times (4 retries of "
            f"one delivery, 4 redeliveries under new ids), {storm['deliveries']} deliveries 16 "
            f"at a time in random order: {storm['duplicate']} answered `duplicate`, "
            f"{storm['queued']} queued; drafts per issue {storm['drafts'][0]}-"
            f"{storm['drafts'][1]}, notes per issue {storm['notes'][0]}-{storm['notes'][1]} "
            f"({storm['exactly_one_note']} of {storm['issues']} issues got exactly one). The "
            f"answers meanwhile: {a['requests']} requests, {a['errors']} errors, "
            f"{a['throughput']:.1f} req/s, p50 {a['p50_ms']:.1f} ms, p99 {a['p99_ms']:.1f} ms.",
        ]
    lines += [
        "",
        f"Command: `python3 benchmarks/serve_workers.py --threads {args.threads} --workers "
        f"{','.join(map(str, args.workers))} --clients {','.join(map(str, args.clients))} "
        f"--requests {args.requests} --issues {args.issues} --database {args.database} "
        "--output docs/benchmarks.md`",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    from serve_load import write_section

    numbers = lambda s: [int(c) for c in s.split(",")]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", type=numbers)
    parser.add_argument("--clients", default="8,64", type=numbers)
    parser.add_argument("--requests", type=int, default=400, help="requests per level")
    parser.add_argument("--tickets", type=int, default=200, help="distinct tickets sent")
    parser.add_argument("--database", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--issues", type=int, default=20,
                        help="new issues in the duplicate-delivery storm (0: no storm)")
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="understudy-workers-"))
    env = {k: v for k, v in os.environ.items() if k != "UNDERSTUDY_DATABASE_URL"}
    server = None
    if args.database == "postgresql":
        from stores import start_postgres

        server, new_database = start_postgres(base / "postgres")
        env["UNDERSTUDY_DATABASE_URL"] = os.environ["UNDERSTUDY_DATABASE_URL"] = new_database()
    try:
        token = prepare(base / "home", args.threads)
        load_before = os.getloadavg()[0]
        results = run(args, base / "home", token, env)
        if args.issues:
            sys.path.insert(0, str(ROOT / "tests"))
            from gitlab_server import FakeGitLab
            from sends import PROJECT

            gitlab = FakeGitLab().start()
            gitlab.add_project(PROJECT)
            gitlab.add_member(PROJECT, "support-ana", 30)
            try:
                args.storm = webhook_storm(args, base / "home", env, gitlab)
            finally:
                gitlab.stop()
    finally:
        if server is not None:
            server.cleanup()
    section = table(results, args, load_before)
    if args.output:
        write_section(args.output, section, START, END)
    print(section)


if __name__ == "__main__":
    main()
