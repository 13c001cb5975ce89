"""More than one process on one knowledge base, on SQLite and on PostgreSQL: named locks that
hold across processes and die with them, and `serve --workers N` posting a draft once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from factories import make_thread, run_cli

from understudy.records import Draft
from understudy.serve.auth import create_token
from understudy.sources import resolve_ticket
from understudy.store import Store
from understudy.store.locks import LockBusy, named_lock

SRC = Path(__file__).resolve().parents[1] / "src"
HOLD = """
import sys, time
from understudy.store import Store
from understudy.store.locks import named_lock
with named_lock(Store(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(database: str, name: str) -> subprocess.Popen:
    """Another process that takes the lock `name` and keeps it until killed."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-c", HOLD, database, name], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_by_another_process_waits_and_dies_with_it(database):
    store = Store(database)
    holder = _holder(database, "ticket:acme/app#1")
    try:
        started = time.monotonic()
        with pytest.raises(LockBusy), named_lock(store, "ticket:acme/app#1", wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        with named_lock(store, "ticket:acme/app#2", wait=0):  # another name is free
            pass
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the lock must not outlive it
        holder.wait()
    with named_lock(store, "ticket:acme/app#1", wait=5):
        pass


def test_a_second_sync_of_a_source_is_refused_while_one_runs(database, monkeypatch, tmp_path):
    csv = tmp_path / "chats.csv"
    csv.write_text("conversation_id,author,role,created_at,text\n"
                   "c1,jo,customer,2024-05-01T10:00:00Z,My export fails\n"
                   "c1,ana,agent,2024-05-01T10:05:00Z,Set the batch size to 500.\n")
    holder = _holder(database, "sync:csv")
    try:
        code, _, err = run_cli(monkeypatch, "sync", "csv", str(csv))
        assert code == 1 and "Another 'understudy sync csv' is running" in err
        assert "Traceback" not in err
        assert Store(database).count("threads") == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, _, err = run_cli(monkeypatch, "sync", "csv", str(csv))
    assert code == 0, err
    assert Store(database).count("threads") == 1



def test_a_second_run_of_a_job_is_refused_at_once_while_one_runs(database, monkeypatch,
                                                                   openai_server):
    from understudy.errors import UnderstudyError
    from understudy.jobs import AnnotateCode, SynthQA
    from understudy.records import Passage
    from understudy.workspace import Workspace

    store = Store(database)
    store.upsert_passage(Passage("docs", "sso.md", "Single sign-on",
                                 "Turn on SAML under Admin > Security.", "https://d.example/sso"))
    holder = _holder(database, "job:synth-qa")
    try:
        code, out, err = run_cli(monkeypatch, "jobs", "synth-qa", "--model", "gpt-4o-mini",
                                 "--yes")
        assert code == 1, out + err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "Another 'understudy jobs synth-qa' is running" in lines[0]
        assert "items" not in out  # refused before its estimate
        assert openai_server.requests == []
    finally:
        holder.send_signal(signal.SIGKILL)  # a crashed run leaves no lock behind
        holder.wait()
    # in one process too, and only for the same job
    workspace = Workspace()
    running = SynthQA(workspace, "gpt-4o-mini")
    with running.exclusive():
        with pytest.raises(UnderstudyError, match="Another 'understudy jobs synth-qa'"):
            SynthQA(Workspace(), "gpt-4o-mini").run()
        assert AnnotateCode(Workspace(), "gpt-4o-mini").run().items == 0
    openai_server.enqueue(json.dumps({"questions": ["How do I turn on SSO?"]}),
                          json.dumps({"answer": "Under Admin > Security."}))
    code, out, err = run_cli(monkeypatch, "jobs", "synth-qa", "--model", "gpt-4o-mini",
                             "--questions", "1", "--yes")
    assert code == 0, out + err
    assert "1 of 1 items finished" in out

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _workers(count: int = 2):
    """`understudy serve --workers COUNT` on a free port; yields its base URL and log."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen([sys.executable, "-m", "understudy", "serve", "--port", str(port),
                               "--workers", str(count)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    log: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.5)
        yield base, log
    finally:
        server.send_signal(signal.SIGINT)
        log.append(server.communicate(timeout=60)[0])


def _at_once(count: int, call) -> list:
    """`call(n)` from `count` threads released together; their results."""
    results: list = []
    start = threading.Barrier(count)

    def one(n: int) -> None:
        start.wait()
        results.append(call(n))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.slow
def test_two_workers_post_a_draft_once(database, gitlab_server, ws):
    """`serve --workers 2`: eight clients send one draft at once through whichever worker
    takes each request; one note reaches the ticket, every other reply is a 409 or 'sent'."""
    gitlab_server.add_project("acme/app")
    gitlab_server.add_issue("acme/app", "CSV export gives 500", "Every export fails.")
    thread = resolve_ticket(ws, f"{gitlab_server.url}/acme/app/-/issues/1")
    ws.store.upsert_thread(thread)
    ws.store.upsert_thread(make_thread(7, "Export times out", "CSV export fails",
                                       [("dev", "Set export.batch_size: 500.", True)]))
    draft = ws.store.save_draft(Draft(thread.id, "Set `export.batch_size: 500`.", "retrieval",
                                      confidence=0.8))
    _, token = create_token(ws.store, "tests", "review")
    gitlab_server.note_delay = 0.5
    headers = {"Authorization": f"Bearer {token}"}
    with _workers(2) as (base, log):
        replies = _at_once(8, lambda _: httpx.post(f"{base}/v1/drafts/{draft.id}/send",
                                                   headers=headers, timeout=60))
    assert "with 2 workers" in log[0]
    assert len(gitlab_server.notes("acme/app", 1)) == 1, log[0][-3000:]
    codes = sorted(r.status_code for r in replies)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}, [r.text for r in replies]
    assert Store(database).get_draft(draft.id).status == "sent"


@pytest.mark.slow
def test_two_workers_answer_duplicate_webhook_deliveries_once(database, gitlab_server, ws,
                                                             monkeypatch):
    """Eight deliveries about one new issue reach two workers at once: four retries of one
    delivery and four redeliveries under new ids. With auto_send, one draft, one note."""
    from test_hooks_watch import PROJECT, SECRET, issue_event
    from test_serve_api import seed

    monkeypatch.setenv("GITLAB_WEBHOOK_SECRET", SECRET)
    gitlab_server.add_project(PROJECT)
    gitlab_server.add_member(PROJECT, "support-ana", 30)
    seed(ws)
    ws.settings.set("auto_send", True)
    issue = gitlab_server.add_issue(PROJECT, "Require 2FA for everyone",
                                    "How do I turn on two-factor authentication for all users?")
    payload = issue_event(gitlab_server, issue)

    def deliver(n: int) -> httpx.Response:
        headers = {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Issue Hook",
                   "X-Gitlab-Event-UUID": "retry" if n < 4 else f"redelivery-{n}"}
        return httpx.post(f"{base}/hooks/gitlab", json=payload, headers=headers, timeout=60)

    with _workers(2) as (base, log):  # shutting down finishes the queued deliveries
        replies = _at_once(8, deliver)
        statuses = sorted(r.json()["status"] for r in replies)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not gitlab_server.notes(PROJECT, 1):
            time.sleep(0.5)
    assert statuses.count("duplicate") == 3 and statuses.count("queued") == 5, statuses
    store = Store(database)
    assert store.count("drafts") == 1, log[0][-3000:]
    [note] = gitlab_server.notes(PROJECT, 1)
    assert "Require two-factor authentication" in note["body"]
    assert [d.status for d in store.drafts()] == ["sent"]
