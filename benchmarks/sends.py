"""Exactly-once sending: concurrent senders, auto_send against its own notes, kill -9 mid-send.

Usage: python3 benchmarks/sends.py [--trials 20] [--kills 20] [--events 20]
                                   [--parts cli,api,auto,kill,sync,index,jobs]
                                   [--index-threads 1500] [--job-passages 30]
                                   [--output docs/benchmarks.md]

Everything runs against the local GitLab API of the tests (tests/gitlab_server.py) on
127.0.0.1, with python-gitlab and the real `understudy` command in subprocesses:

- cli: 2, 3 and 8 `understudy send N --yes` processes started together on one draft;
- api: 2, 3 and 8 concurrent `POST /v1/drafts/{id}/send` to `understudy serve`'s app (uvicorn);
- auto: `auto_send` through the webhook with the token's user as a bot, a non-member and a team
  member, over 20 note events (GitLab tells of every note, understudy's own included);
- kill: `understudy send` killed with SIGKILL at a random moment (and, as many times again,
  right as its note lands on the server), then sent again;
- sync, index: `sync gitlab` and `index` killed with SIGKILL at a random moment, then run again;
- jobs: `jobs synth-qa` against the local OpenAI-compatible server of the tests
  (tests/openai_server.py, each call held 0.05 s) killed with SIGKILL at a random moment of its
  calls or of making its examples, then run again: every passage's result and example stored
  once, and no request received twice but the one in flight.

For each draft it counts the notes that carry its marker: exactly 1 is right, 0 is a lost
answer, more is a duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

START, END = "<!-- sends:start -->", "<!-- sends:end -->"
PROJECT = "acme/helpdesk"
SECRET = "hook-secret"
ANSWER = "Set `export.batch_size: 500` in config.yml and restart the worker."
KNOWLEDGE = [
    ("How do I turn on two-factor authentication?",
     "Where is the setting to require 2FA for all users in our organisation?",
     "Go to Admin > Security and tick 'Require two-factor authentication'; users are asked "
     "to enrol at their next login."),
    ("CSV export fails with a 500 error",
     "Exporting the project list to CSV gives an internal server error every time.",
     "The CSV export times out on projects with more than 10k rows. Set "
     "`export.batch_size: 500` in config.yml and restart the worker."),
]


class Bench:
    """One workspace and one local GitLab, with the environment a subprocess needs."""

    def __init__(self, home: Path, bot: bool = False, member: bool = True,
                 username: str = "helper"):
        from gitlab_server import FakeGitLab

        from understudy.workspace import Workspace

        self.gitlab = FakeGitLab(username=username, bot=bot).start()
        # A sender killed mid-request resets its connection; that is the point, not news.
        self.gitlab._server.handle_error = lambda request, address: None
        self.gitlab.add_project(PROJECT, member=member)
        if bot:
            self.gitlab.add_member(PROJECT, username, 40)
        self.gitlab.add_member(PROJECT, "support-ana", 30)
        self.env = {**os.environ, "UNDERSTUDY_HOME": str(home), "GITLAB_URL": self.gitlab.url,
                    "GITLAB_TOKEN": self.gitlab.token, "GITLAB_WEBHOOK_SECRET": SECRET,
                    "PYTHONPATH": str(ROOT / "src")}
        os.environ.update({k: self.env[k] for k in ("UNDERSTUDY_HOME", "GITLAB_URL",
                                                    "GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET")})
        self.ws = Workspace(home)

    def draft(self) -> tuple[int, int]:
        """A new issue, stored, with a draft; (issue iid, draft id)."""
        from understudy.records import Draft
        from understudy.sources import resolve_ticket

        issue = self.gitlab.add_issue(PROJECT, "CSV export gives 500", "Every export fails.")
        thread = resolve_ticket(self.ws, f"{self.gitlab.url}/{PROJECT}/-/issues/{issue['iid']}")
        self.ws.store.upsert_thread(thread)
        draft = self.ws.store.save_draft(Draft(thread_id=thread.id, text=ANSWER,
                                               backend="retrieval", confidence=0.8))
        return issue["iid"], draft.id

    def notes_of(self, iid: int, draft_id: int) -> int:
        from understudy.send import marker

        draft = self.ws.store.get_draft(draft_id)
        return sum(marker(draft) in n["body"] for n in self.gitlab.notes(PROJECT, iid))

    def send_command(self, draft_id: int) -> list[str]:
        return [sys.executable, "-m", "understudy", "send", str(draft_id), "--yes"]

    def close(self) -> None:
        self.ws.close()
        self.gitlab.stop()


def outcome(counts: list[int], statuses: list[str]) -> dict:
    return {"trials": len(counts), "exactly_one": sum(c == 1 for c in counts),
            "lost": sum(c == 0 or s != "sent" for c, s in zip(counts, statuses, strict=True)),
            "duplicated": sum(max(0, c - 1) for c in counts),
            "min": min(counts), "max": max(counts)}


# -- concurrent senders ----------------------------------------------------------------------


def cli_senders(bench: Bench, senders: int, trials: int) -> dict:
    counts, statuses, refused = [], [], 0
    for _ in range(trials):
        iid, draft_id = bench.draft()
        bench.gitlab.note_delay = random.uniform(0.2, 1.0)
        procs = [subprocess.Popen(bench.send_command(draft_id), env=bench.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(senders)]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            refused += "already being sent" in err
        counts.append(bench.notes_of(iid, draft_id))
        statuses.append(bench.ws.store.get_draft(draft_id).status)
    bench.gitlab.note_delay = 0.0
    return {"how": "cli", "senders": senders, "refused": refused, **outcome(counts, statuses)}


def api_senders(bench: Bench, senders: int, trials: int, url: str, token: str) -> dict:
    import httpx

    async def burst(draft_id: int) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            replies = await asyncio.gather(*(client.post(f"/v1/drafts/{draft_id}/send")
                                             for _ in range(senders)))
        return [r.status_code for r in replies]

    counts, statuses, codes = [], [], {}
    for _ in range(trials):
        iid, draft_id = bench.draft()
        bench.gitlab.note_delay = random.uniform(0.05, 0.5)
        for code in asyncio.run(burst(draft_id)):
            codes[code] = codes.get(code, 0) + 1
        counts.append(bench.notes_of(iid, draft_id))
        statuses.append(bench.ws.store.get_draft(draft_id).status)
    bench.gitlab.note_delay = 0.0
    return {"how": "api", "senders": senders, "codes": codes, **outcome(counts, statuses)}


def serve_in_thread(bench: Bench) -> tuple[str, str, object]:
    """`understudy serve`'s app under uvicorn on a free port, in this process."""
    import socket

    import uvicorn

    from understudy.serve import create_app
    from understudy.serve.auth import create_token
    from understudy.workspace import Workspace

    _, token = create_token(bench.ws.store, f"bench-{time.time()}")
    # The server gets the socket already bound, so no other process can take the port between
    # choosing it and listening on it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app_ws = Workspace(bench.ws.home)
    app_ws.settings.set("rate_limit_per_minute", 10**9)
    server = uvicorn.Server(uvicorn.Config(create_app(app_ws, slack=False), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", token, server


# -- auto_send against its own notes ---------------------------------------------------------


def auto_send(home: Path, kind: str, events: int) -> dict:
    from fastapi.testclient import TestClient

    from understudy.records import Message, Thread
    from understudy.serve import create_app

    username = "project_7_bot_a1b2" if kind == "bot" else "helper"
    bench = Bench(home, bot=kind == "bot", member=kind != "non-member", username=username)
    for n, (title, question, answer) in enumerate(KNOWLEDGE, start=1):
        bench.ws.store.upsert_thread(Thread(
            "gitlab", f"acme/old#{n}", f"https://gitlab.example.com/acme/old/-/issues/{n}",
            title, "closed", messages=[Message("q", "customer", question, "2024-01-01",
                                               kind="question"),
                                       Message("r", "support-ana", answer, "2024-01-02",
                                               is_team=True)]))
    bench.ws.settings.set("auto_send", True)
    gitlab = bench.gitlab
    question = "How do I turn on two-factor authentication for all users?"
    issue = gitlab.add_issue(PROJECT, "Require 2FA for everyone", question)
    project = gitlab.project(PROJECT)
    base = {"project": {"id": project["id"], "path_with_namespace": PROJECT,
                        "web_url": project["web_url"]}}

    def note_event(note: dict) -> dict:
        return {**base, "object_kind": "note", "event_type": "note", "user": note["author"],
                "object_attributes": {"id": note["id"], "note": note["body"],
                                      "noteable_type": "Issue",
                                      "url": f"{issue['web_url']}#note_{note['id']}"},
                "issue": {"id": issue["id"], "iid": issue["iid"], "title": issue["title"]}}

    opened = {**base, "object_kind": "issue", "event_type": "issue",
              "object_attributes": {"iid": issue["iid"], "action": "open",
                                    "url": issue["web_url"]}}
    customer_messages, delivered, told = 1, 0, set()
    with TestClient(create_app(bench.ws, slack=False)) as client:
        def deliver(payload: dict) -> None:
            nonlocal delivered
            client.post("/hooks/gitlab", json=payload, headers={"X-Gitlab-Token": SECRET})
            client.app.state.service.jobs.wait(timeout=120)
            delivered += 1

        deliver(opened)
        while delivered < events:
            # GitLab tells of every note: understudy's own answers, then a customer's reply.
            for note in gitlab.notes(PROJECT, issue["iid"]):
                if note["id"] not in told and delivered < events:
                    told.add(note["id"])
                    deliver(note_event(note))
            if delivered < events:
                note = gitlab.add_note(PROJECT, issue["iid"], f"Still unsure ({delivered})",
                                       "customer")
                customer_messages += 1
                told.add(note["id"])
                deliver(note_event(note))
    answers = sum(n["author"]["id"] == gitlab.me["id"]
                  for n in gitlab.notes(PROJECT, issue["iid"]))
    bench.close()
    return {"poster": kind, "events": delivered, "customer_messages": customer_messages,
            "answers": answers}


# -- kill -9 mid-send ------------------------------------------------------------------------


def killed_sends(bench: Bench, trials: int, at_landing: bool) -> dict:
    """Kill `send` at a random moment (or as its note lands), then send again."""
    plain = time.perf_counter()
    _, draft_id = bench.draft()
    subprocess.run(bench.send_command(draft_id), env=bench.env, capture_output=True, check=True)
    duration = time.perf_counter() - plain
    counts, statuses, phases = [], [], {}
    for _ in range(trials):
        iid, draft_id = bench.draft()
        bench.gitlab.note_delay = random.uniform(0.0, 0.3)
        proc = subprocess.Popen(bench.send_command(draft_id), env=bench.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if at_landing:
            landed = threading.Event()
            def kill(note: dict, proc: subprocess.Popen = proc,
                     landed: threading.Event = landed) -> None:
                proc.send_signal(signal.SIGKILL)  # the note is stored; its sender never hears
                landed.set()

            bench.gitlab.on_note = kill
            landed.wait(timeout=60)
            bench.gitlab.on_note = None
        else:
            time.sleep(random.uniform(0, duration))
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        phase = bench.ws.store.get_draft(draft_id).status
        phases[phase] = phases.get(phase, 0) + 1
        subprocess.run(bench.send_command(draft_id), env=bench.env, capture_output=True,
                       timeout=300)
        counts.append(bench.notes_of(iid, draft_id))
        statuses.append(bench.ws.store.get_draft(draft_id).status)
    bench.gitlab.note_delay = 0.0
    return {"when": "as the note lands" if at_landing else f"uniform in 0-{duration:.1f} s",
            "left": phases, **outcome(counts, statuses)}


# -- kill -9 of sync and index --------------------------------------------------------------


def kill_at_random(command: list[str], env: dict, duration: float) -> bool:
    """Start `command`, SIGKILL it at a moment uniform over `duration`; whether it was still
    running then."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, duration))
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running


def killed_syncs(root: Path, trials: int, issues: int = 40) -> dict:
    """Kill `sync gitlab` at a random moment, change GitLab, sync again: compare with GitLab."""
    from understudy.store import Store

    bench = Bench(root / "sync-0")
    gitlab = bench.gitlab
    for n in range(issues):
        gitlab.add_issue(PROJECT, f"Problem {n}", f"It breaks in case {n}.")
        for k in range(3):
            gitlab.add_note(PROJECT, n + 1, f"Note {k} on {n}",
                            "support-ana" if k == 1 else "customer")
    command = [sys.executable, "-m", "understudy", "sync", "gitlab", "--project", PROJECT]
    t0 = time.perf_counter()
    subprocess.run(command, env=bench.env, capture_output=True, check=True)
    duration = time.perf_counter() - t0
    lost = duplicated = killed_mid = 0
    for trial in range(trials):
        env = {**bench.env, "UNDERSTUDY_HOME": str(root / f"sync-{trial + 1}")}
        killed_mid += kill_at_random(command, env, duration)
        for _ in range(3):  # GitLab moves on while the sync is down
            gitlab.add_note(PROJECT, random.randint(1, issues), f"Later ({trial})", "customer")
        subprocess.run(command, env=env, capture_output=True, check=True)
        store = Store(root / f"sync-{trial + 1}" / "understudy.db")
        for iid in range(1, issues + 1):
            thread = store.find_thread("gitlab", f"{PROJECT}#{iid}")
            expected = 1 + len(gitlab.notes(PROJECT, iid))
            got = len(thread.messages) if thread else 0
            lost += max(0, expected - got)
            duplicated += max(0, got - expected)
        store.close()
    bench.close()
    return {"what": "sync gitlab", "trials": trials, "killed_mid": killed_mid,
            "items": f"{issues} issues, {issues * 3}+ notes", "lost": lost,
            "duplicated": duplicated, "window": duration}


def killed_indexes(root: Path, trials: int, threads: int) -> dict:
    """Kill `index` at a random moment, run it again: every item embedded once, none twice."""
    import json

    import synthetic

    from understudy.store import Store
    from understudy.workspace import Workspace

    home = root / "index"
    ws = Workspace(home)
    for thread in synthetic.threads(threads):
        ws.store.upsert_thread(thread)
    ws.close()
    env = {**os.environ, "UNDERSTUDY_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "understudy", "index", "--json"]
    t0 = time.perf_counter()
    items = json.loads(subprocess.run(command, env=env, capture_output=True, check=True,
                                      text=True).stdout)["items"]
    duration = time.perf_counter() - t0
    lost = duplicated = repeated = killed_mid = 0
    for _ in range(trials):
        store = Store(home / "understudy.db")
        store.db.execute("DELETE FROM embeddings")
        store.db.commit()
        store.close()
        killed_mid += kill_at_random(command, env, duration)
        store = Store(home / "understudy.db")
        kept = store.count("embeddings")
        store.close()
        stats = json.loads(subprocess.run(command, env=env, capture_output=True, check=True,
                                          text=True).stdout)
        store = Store(home / "understudy.db")
        rows = store.count("embeddings")
        store.close()
        lost += max(0, items - rows)
        duplicated += max(0, rows - items)
        repeated += max(0, kept + stats["embedded"] - items)  # embedded again though stored
    return {"what": "index", "trials": trials, "killed_mid": killed_mid,
            "items": f"{items} knowledge items", "lost": lost, "duplicated": duplicated,
            "repeated": repeated, "window": duration}



class ScriptedModel:
    """The local OpenAI-compatible server of the tests, answering a synth-qa job's requests
    as a model would (one question per passage, then its answer), each after `delay` seconds so
    that a kill can land while a call is in flight."""

    def __init__(self, delay: float):
        import hashlib
        import json

        from openai_server import FakeOpenAI

        class Server(FakeOpenAI):
            def chat(self, body: dict) -> dict:
                time.sleep(delay)
                user = body["messages"][-1]["content"]
                tag = hashlib.sha256(user.encode()).hexdigest()[:8]
                if "<question>" in user or "Question:" in user:
                    self.enqueue(json.dumps({"answer": f"Answer {tag}."}))
                else:
                    self.enqueue(json.dumps({"questions": [f"What does passage {tag} say?"]}))
                return super().chat(body)

        self.server = Server().start()
        self.server.server.handle_error = lambda request, address: None  # killed clients

    def calls(self) -> list[str]:
        """Every chat request received so far, as the messages it sent."""
        import json

        return [json.dumps(r["json"]["messages"], sort_keys=True)
                for r in self.server.calls("/v1/chat/completions")]


def killed_jobs(root: Path, trials: int, passages: int, delay: float = 0.05) -> dict:
    """Kill `jobs synth-qa` at a random moment after its first model call (uniform over an
    uninterrupted run's time from its first call to its end, examples included), run it again:
    every passage's question and answer stored and made into an example once, and no call
    repeated but the one in flight (requests the model server received twice)."""

    from understudy.jobs.synth_qa import state_key
    from understudy.records import Passage
    from understudy.store import Store
    from understudy.store.training import examples

    model = ScriptedModel(delay)
    command = [sys.executable, "-m", "understudy", "jobs", "synth-qa", "--model", "gpt-4o-mini",
               "--questions", "1", "--yes", "--json"]

    def workspace(name: str) -> dict:
        home = root / name
        store = Store(home / "understudy.db")
        for n in range(passages):
            store.upsert_passage(Passage("docs", f"guide/page-{n}.md", f"Topic {n}",
                                         f"Step {n}: open Settings > Area {n} and press Apply.",
                                         f"https://docs.example.com/page-{n}"))
        store.close()
        return {**os.environ, "UNDERSTUDY_HOME": str(home), "PYTHONPATH": str(ROOT / "src"),
                "OPENAI_BASE_URL": model.server.url, "OPENAI_API_KEY": "test-key"}

    env = workspace("jobs-0")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not model.calls():
        time.sleep(0.01)
    t0 = time.perf_counter()
    proc.wait()
    window = time.perf_counter() - t0  # from the first call to the end of the run
    expected = len(model.calls())  # the calls of one uninterrupted run
    lost = duplicated = repeated = killed_mid = worst = 0
    for trial in range(trials):
        env = workspace(f"jobs-{trial + 1}")
        first = len(model.calls())
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while len(model.calls()) == first and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(random.uniform(0, window))  # a moment of its calls or of its examples
        killed_mid += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        sent = model.calls()[first:]
        again = len(sent) - len(set(sent))  # requests the server received twice
        repeated += again
        worst = max(worst, again)
        store = Store(Path(env["UNDERSTUDY_HOME"]) / "understudy.db")
        results = sum(1 for p in store.passages() if store.get_state(state_key(p)))
        questions = [e.source["question"] for e in examples(store, kind="synthetic")]
        store.close()
        lost += passages - len(set(questions))  # an example stands for a stored result
        duplicated += len(questions) - len(set(questions))
        if done.returncode or len(set(sent)) != expected or len(set(questions)) != passages:
            print(f"trial {trial + 1}: exit {done.returncode}, {len(set(sent))} calls for "
                  f"{expected}, {results} results, {len(set(questions))} examples "
                  f"{done.stderr[-300:]}", flush=True)
    model.server.stop()
    return {"what": "jobs synth-qa", "trials": trials, "killed_mid": killed_mid,
            "items": f"{passages} passages, {expected} calls", "lost": lost,
            "duplicated": duplicated, "repeated": f"{repeated} calls (at most {worst} a trial)",
            "window": window}

# -- report ----------------------------------------------------------------------------------


def table(results: dict, args: argparse.Namespace, seconds: float) -> str:
    lines = [START, "## Sending exactly once: concurrent senders, auto_send, kill -9", "",
             f"`python benchmarks/sends.py --trials {args.trials} --kills {args.kills} "
             f"--events {args.events} --parts {','.join(args.parts)} "
             "--output docs/benchmarks.md` on a 2-core shared CPU, "
             f"{datetime.now(UTC):%Y-%m-%d}, against the local GitLab API of the tests "
             f"(python-gitlab over loopback), {seconds:.0f} s in all. A note counts for a draft "
             "when it carries the draft's marker; exactly 1 per draft is right.", ""]
    if results.get("senders"):
        lines += ["| senders | trials | notes per draft (min-max) | exactly one | lost | "
                  "duplicated | the others were told |", "| --- | --- | --- | --- | --- | --- "
                  "| --- |"]
        for r in results["senders"]:
            told = (f"{r['refused']} 'already being sent', the rest waited and saw it sent"
                    if r["how"] == "cli" else
                    ", ".join(f"{n} x {code}" for code, n in sorted(r["codes"].items())))
            lines.append(f"| {r['senders']} x {r['how']} | {r['trials']} | {r['min']}-{r['max']}"
                         f" | {r['exactly_one']} | {r['lost']} | {r['duplicated']} | {told} |")
        lines.append("")
    if results.get("auto"):
        lines += ["`auto_send` through the webhook, GitLab telling of every note (understudy's "
                  "own included):", "",
                  "| token's user | note events | customer messages | answers posted |",
                  "| --- | --- | --- | --- |"]
        for r in results["auto"]:
            lines.append(f"| {r['poster']} | {r['events']} | {r['customer_messages']} | "
                         f"{r['answers']} |")
        lines.append("")
    if results.get("kill"):
        lines += ["`understudy send` killed with SIGKILL, then run again:", "",
                  "| killed | trials | left as | exactly one | lost | duplicated |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for r in results["kill"]:
            left = ", ".join(f"{n} {status}" for status, n in sorted(r["left"].items()))
            lines.append(f"| {r['when']} | {r['trials']} | {left} | {r['exactly_one']} | "
                         f"{r['lost']} | {r['duplicated']} |")
        lines.append("")
    if results.get("crash"):
        lines += ["`sync gitlab`, `index` and `jobs synth-qa` killed with SIGKILL at a random "
                  "moment of their run (uniform over one uninterrupted run's time; for the job, "
                  "from its first model call), then run again (GitLab got new notes in between); "
                  "for the job, work done again is requests the model server received twice:",
                  "",
                  "| killed | trials | killed while running | data | lost | duplicated | "
                  "stored work done again |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in results["crash"]:
            lines.append(f"| `{r['what']}` (run of {r['window']:.1f} s) | {r['trials']} | "
                         f"{r['killed_mid']} | {r['items']} | {r['lost']} | {r['duplicated']} |"
                         f" {r.get('repeated', 'n/a')} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    from serve_load import write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per sender count")
    parser.add_argument("--kills", type=int, default=20, help="kill -9 trials per kind")
    parser.add_argument("--events", type=int, default=20, help="note events per auto_send run")
    parser.add_argument("--parts", default="cli,api,auto,kill,sync,index,jobs",
                        type=lambda s: s.split(","))
    parser.add_argument("--index-threads", type=int, default=1500,
                        help="synthetic threads for the index runs (items embedded 1024 a time)")
    parser.add_argument("--job-passages", type=int, default=30,
                        help="passages for the jobs runs (two model calls each)")
    parser.add_argument("--output", help="markdown file to write the results section into")
    args = parser.parse_args()
    random.seed(14)
    t0 = time.perf_counter()
    results: dict[str, list] = {"senders": [], "auto": [], "kill": [], "crash": []}

    def report(found: dict) -> None:
        """Print a part's result and write what is done so far (a long run can be stopped)."""
        print(found, flush=True)
        if args.output:
            write_section(args.output, table(results, args, time.perf_counter() - t0),
                          START, END)

    with tempfile.TemporaryDirectory() as tmp:
        if {"cli", "api", "kill"} & set(args.parts):
            bench = Bench(Path(tmp) / "sends")
            if "cli" in args.parts:
                for senders in (2, 3, 8):
                    results["senders"].append(cli_senders(bench, senders, args.trials))
                    report(results["senders"][-1])
            if "api" in args.parts:
                url, token, server = serve_in_thread(bench)
                for senders in (2, 3, 8):
                    results["senders"].append(api_senders(bench, senders, args.trials, url,
                                                          token))
                    report(results["senders"][-1])
                server.should_exit = True
            if "kill" in args.parts:
                for at_landing in (False, True):
                    results["kill"].append(killed_sends(bench, args.kills, at_landing))
                    report(results["kill"][-1])
            bench.close()
        if "auto" in args.parts:
            for kind in ("bot", "non-member", "member"):
                results["auto"].append(auto_send(Path(tmp) / f"auto-{kind}", kind, args.events))
                report(results["auto"][-1])
        if "sync" in args.parts:
            results["crash"].append(killed_syncs(Path(tmp), args.kills))
            report(results["crash"][-1])
        if "index" in args.parts:
            results["crash"].append(killed_indexes(Path(tmp), args.kills, args.index_threads))
            report(results["crash"][-1])
        if "jobs" in args.parts:
            results["crash"].append(killed_jobs(Path(tmp), args.kills, args.job_passages))
            report(results["crash"][-1])
    print(table(results, args, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
