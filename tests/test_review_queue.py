"""The review queue: the drafts `answer --open`, watch and the webhook made, oldest first."""

from __future__ import annotations

import json

from factories import make_thread
from test_review import OPEN, drive, oldest_first
from test_review import filled as filled  # noqa: F401  (the fixture)
from typer.testing import CliRunner

from understudy.cli import app as cli
from understudy.records import Draft
from understudy.review import STATE_KEY
from understudy.serve.api import ticket_thread
from understudy.watch import watch_once


def test_answer_open_then_review_shows_the_drafts_it_made(filled):
    result = CliRunner().invoke(cli, ["answer", "--open", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    made = {d["thread_id"]: d["id"] for d in json.loads(result.stdout)}
    assert set(made) == set(oldest_first(filled))

    output = drive(filled, "start\nnext\nnext\nexit\n")
    assert "3 tickets to review, oldest first." in output
    assert "No open tickets need an answer" not in output
    drafts = filled.store.drafts()
    assert len(drafts) == len(OPEN)  # review showed them; it drafted nothing new
    for thread_id in oldest_first(filled):
        assert f"Draft {made[thread_id]}" in output
    titles = [filled.store.get_thread(t).title for t in oldest_first(filled)]
    positions = [output.index(title) for title in titles]
    assert positions == sorted(positions)  # oldest first


def test_the_queue_keeps_new_saved_and_undrafted_tickets_only(filled):
    ids = oldest_first(filled)
    store = filled.store
    saved = store.save_draft(Draft(ids[0], "saved text", "retrieval", status="saved"))
    store.save_draft(Draft(ids[1], "sent text", "retrieval", status="sent"))
    store.save_draft(Draft(ids[2], "new text", "retrieval"))
    answered = make_thread(21, "Answered by hand", "Help?", [("support", "Done.", True)],
                           state="opened", created_at="2024-03-01T09:00:00Z")
    late = make_thread(22, "No draft yet", "Where is the export?", state="opened",
                       created_at="2024-03-09T09:00:00Z")
    closed = make_thread(23, "Closed one", "Old question", state="closed")
    for thread in (answered, late, closed):
        store.upsert_thread(thread)
    chat = ticket_thread("A chat question", "How do I export?", meta={"chat": True})
    store.upsert_thread(chat)  # answered where it was asked: not for the queue
    store.save_draft(Draft(chat.id, "chat answer", "retrieval"))
    asked = ticket_thread("An API ticket", "How do I export?")  # kept for review
    store.upsert_thread(asked)
    store.save_draft(Draft(asked.id, "api answer", "retrieval"))

    queue = [ids[0], ids[2], late.id, asked.id]  # the API ticket was created just now
    assert [t.id for t in store.threads_to_review()] == queue
    output = drive(filled, "start\nexit\n")
    assert f"Draft {saved.id}" in output and "saved text" in output
    assert filled.store.get_state(STATE_KEY)["queue"] == queue[1:]


def test_watch_and_webhook_drafts_reach_the_review_loop(gitlab_server, workspace, monkeypatch):
    from test_hooks_watch import PROJECT, SECRET, deliver, issue_event
    from test_serve_api import make_client, seed

    monkeypatch.setenv("GITLAB_WEBHOOK_SECRET", SECRET)
    seed(workspace)
    gitlab_server.add_project(PROJECT)
    gitlab_server.add_member(PROJECT, "support-ana", 30)
    gitlab_server.add_issue(PROJECT, "Password reset mail never arrives",
                            "I asked for a reset link twice; no email came.")
    done = watch_once(workspace, workspace.answerer(), projects=[PROJECT])
    assert len(done.drafts) == 1
    issue = gitlab_server.add_issue(PROJECT, "Docker image exits on ARM",
                                    "The container dies at once on our Pi cluster.")
    client, _ = make_client(workspace)
    with client:
        assert deliver(client, issue_event(gitlab_server, issue)).status_code == 202
    made = workspace.store.drafts()
    assert len(made) == 2

    output = drive(workspace, "start\nnext\nexit\n")
    assert "2 tickets to review, oldest first." in output
    for draft in made:
        assert f"Draft {draft.id}" in output
    assert output.index("Password reset mail") < output.index("Docker image exits")
    assert len(workspace.store.drafts()) == 2


def test_add_url_of_a_drafted_ticket_shows_that_draft(filled, gitlab_server):
    gitlab_server.add_project("acme/app")
    gitlab_server.add_issue("acme/app", "Reset email never arrives",
                            "I asked for a password reset, no email came.")
    url = f"{gitlab_server.url}/acme/app/-/issues/1"
    first = drive(filled, f"add {url}\nexit\n")
    drafts = filled.store.drafts()
    assert len(drafts) == 1 and f"Draft {drafts[0].id}" in first

    again = drive(filled, f"add {url}\nexit\n")
    assert len(filled.store.drafts()) == 1
    assert f"already has draft {drafts[0].id} (new)" in again
    assert f"Draft {drafts[0].id}" in again

    shown = CliRunner().invoke(cli, ["add", url], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert f"It already has draft {drafts[0].id} (new)" in shown.stdout
    assert f"understudy send {drafts[0].id}" in shown.stdout
    listed = CliRunner().invoke(cli, ["add", url, "--json"], catch_exceptions=False)
    assert json.loads(listed.stdout)[0]["draft"]["id"] == drafts[0].id
    assert len(filled.store.drafts()) == 1

    gitlab_server.add_note("acme/app", 1, "Still nothing, even in spam.", "customer")
    changed = drive(filled, f"add {url}\nexit\n")
    assert "the ticket changed since: type answer to draft it again" in changed
    assert len(filled.store.drafts()) == 1
