"""Sending is a claimed step: concurrent senders, crashed senders and edited re-sends post once."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_serve_api import make_client

from understudy.destinations.gitlab import GitLabDestination
from understudy.errors import SendError
from understudy.records import Draft
from understudy.send import marker, new_claimant, send_draft
from understudy.sources import resolve_ticket
from understudy.store import Store
from understudy.store.migrations import MIGRATIONS, applied, migrate
from understudy.workspace import Workspace

SRC = Path(__file__).resolve().parents[1] / "src"
ANSWER = "Set `export.batch_size: 500` in config.yml and restart the worker."


@pytest.fixture
def ticket(gitlab_server, ws):
    gitlab_server.add_project("acme/app")
    gitlab_server.add_issue("acme/app", "CSV export gives 500", "Every export fails.")
    thread = resolve_ticket(ws, f"{gitlab_server.url}/acme/app/-/issues/1")
    ws.store.upsert_thread(thread)
    return thread


def _draft(ws: Workspace, thread, text: str = ANSWER) -> Draft:
    return ws.store.save_draft(Draft(thread_id=thread.id, text=text, backend="retrieval",
                                     confidence=0.8))


def _dead_pid() -> int:
    """The pid of a process that has exited (so a claim it held is stale)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _crashed_claim(ws: Workspace, draft: Draft, text: str | None = None) -> str:
    """Leave the draft claimed by a sender that died, as kill -9 mid-send would."""
    claimant = new_claimant().replace(str(os.getpid()), str(_dead_pid()), 1)
    assert ws.store.claim_draft(draft.id, claimant, draft.status, None, text or draft.text)
    return claimant


def _send_processes(count: int, draft_id: int, extra: tuple[str, ...] = ()) -> list:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, "-m", "understudy", "send", str(draft_id),
                               "--yes", *extra], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    return [(p.wait(timeout=120), *p.communicate()) for p in procs]


# -- the schema ------------------------------------------------------------------------------


def test_claim_columns_on_a_blank_database_and_after_an_upgrade(tmp_path):
    blank = Store(tmp_path / "blank.db")
    columns = {r[1] for r in blank.db.execute("PRAGMA table_info(drafts)")}
    assert {"claimed_by", "claimed_at"} <= columns

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    before = "m008_snippets"
    migrate(db, upto=before)
    db.execute("INSERT INTO threads (source, external_id, content_hash, synced_at)"
               " VALUES ('gitlab', 'a/b#1', 'x', 'now')")
    db.execute("INSERT INTO drafts (thread_id, text, backend, status, created_at, updated_at)"
               " VALUES (1, 'Old draft', 'retrieval', 'saved', 'then', 'then')")
    db.commit()
    db.close()
    upgraded = Store(path)
    assert applied(upgraded.db) == [name for name, _ in MIGRATIONS]
    [draft] = upgraded.drafts()
    assert (draft.text, draft.status, draft.claimed_by) == ("Old draft", "saved", None)
    assert upgraded.claim_draft(draft.id, "1@h:x", "saved", None, "Old draft")
    assert not upgraded.claim_draft(draft.id, "2@h:y", "saved", None, "Old draft")


# -- concurrent senders ----------------------------------------------------------------------


@pytest.mark.parametrize("senders", [2, 3])
def test_concurrent_cli_sends_post_one_note(database, gitlab_server, ws, ticket, senders):
    draft = _draft(ws, ticket)
    gitlab_server.note_delay = 1.5  # the first post is still in flight when the others look

    results = _send_processes(senders, draft.id)

    notes = gitlab_server.notes("acme/app", 1)
    assert len(notes) == 1, [r[2] for r in results]
    assert len(gitlab_server.requests_to(r"/notes$", method="POST")) == 1
    for code, out, err in results:  # each either sent it or saw it sent; none failed loudly
        assert code == 0 or "is already being sent" in err, (code, out, err)
        assert "Traceback" not in err
    sent = ws.store.get_draft(draft.id)
    assert sent.status == "sent" and sent.sent_id == str(notes[0]["id"])
    assert sent.claimed_by is None


def test_eight_concurrent_api_sends_post_one_note_and_answer_409(database, gitlab_server, ws,
                                                                 ticket):
    draft = _draft(ws, ticket)
    gitlab_server.note_delay = 0.5
    client, headers = make_client(ws)
    replies = []
    with client:
        start = threading.Barrier(8)

        def send() -> None:
            start.wait()
            replies.append(client.post(f"/v1/drafts/{draft.id}/send", headers=headers))

        workers = [threading.Thread(target=send) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    assert len(gitlab_server.notes("acme/app", 1)) == 1
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 7
    for reply in replies:
        if reply.status_code == 409:
            assert "is already being sent" in reply.json()["error"]["message"]
        else:
            assert reply.json()["status"] == "sent"


def test_two_drafts_of_one_ticket_sent_at_once_post_one_answer(database, gitlab_server, ws, ticket):
    """A webhook and `answer --open` (or a forced re-draft) made two drafts of one ticket: of
    senders racing on both, one answer reaches the customer."""
    first, second = _draft(ws, ticket), _draft(ws, ticket, "Restart the worker after the upgrade.")
    gitlab_server.note_delay = 1.0
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, "-m", "understudy", "send", str(d.id), "--yes"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in (first, second, first, second)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]

    assert len(gitlab_server.notes("acme/app", 1)) == 1, [r[2] for r in results]
    statuses = sorted(ws.store.get_draft(d.id).status for d in (first, second))
    assert statuses == ["new", "sent"]
    refused = [err for code, _, err in results if code != 0]
    assert refused and all("Traceback" not in err for err in refused)
    assert any("already has an answer to its latest message" in err and "--again" in err
               for err in refused)


def test_a_second_answer_needs_again_or_a_new_customer_message(database, gitlab_server, ws, ticket):
    first, second = _draft(ws, ticket), _draft(ws, ticket, "Also check the disk space.")
    send_draft(ws, first.id)
    with pytest.raises(SendError, match=f"draft {first.id}, sent.*--again"):
        send_draft(ws, second.id)
    assert ws.store.get_draft(second.id).status == "new"
    assert len(gitlab_server.notes("acme/app", 1)) == 1
    # The customer writes again: the next draft answers that message, and is posted.
    gitlab_server.add_note("acme/app", 1, "Still failing after the change.", "asker")
    thread = resolve_ticket(ws, f"{gitlab_server.url}/acme/app/-/issues/1")
    ws.store.upsert_thread(thread)
    third = _draft(ws, thread, "Then raise the worker's memory limit.")
    assert send_draft(ws, third.id).status == "sent"
    # And one the user insists on goes out with again=True.
    assert send_draft(ws, second.id, again=True).status == "sent"
    assert len(gitlab_server.notes("acme/app", 1)) == 4  # 3 answers and the customer's note


def test_a_live_claim_is_refused_with_who_and_since(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    assert ws.store.claim_draft(draft.id, new_claimant(), "new", None, ANSWER)  # this process
    with pytest.raises(SendError, match=r"Draft \d+ is already being sent \(since .+ by \d+@"):
        send_draft(ws, draft.id, wait=0.3)
    assert gitlab_server.notes("acme/app", 1) == []


# -- crashed senders -------------------------------------------------------------------------


def test_a_stale_claim_whose_note_landed_is_recorded_without_posting(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    _crashed_claim(ws, draft)
    posted = GitLabDestination(ws.settings).post(ticket, f"{ANSWER}\n\n{marker(draft)}\n")
    gitlab_server.clear_requests()

    sent = send_draft(ws, draft.id)

    assert sent.status == "sent" and sent.sent_id == posted.id
    assert not gitlab_server.requests_to(r"/notes", method="POST")
    assert len(gitlab_server.notes("acme/app", 1)) == 1


def test_a_stale_claim_that_posted_nothing_is_posted(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    ws.settings.set("send_claim_timeout", 1)
    assert ws.store.claim_draft(draft.id, "1@elsewhere:abcd", "new", None, ANSWER)
    with pytest.raises(SendError, match="already being sent"):
        send_draft(ws, draft.id)  # another host's claim, not yet old
    ws.store.db.execute("UPDATE drafts SET claimed_at = '2020-01-01T00:00:00.000000Z'")
    ws.store.db.commit()

    sent = send_draft(ws, draft.id)

    [note] = gitlab_server.notes("acme/app", 1)
    assert sent.status == "sent" and note["body"].startswith(ANSWER)


def test_a_failed_post_releases_the_claim(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    gitlab_server.fail_next(status=500, retry_after=None, match="/notes", method="POST")
    with pytest.raises(SendError):
        send_draft(ws, draft.id)
    kept = ws.store.get_draft(draft.id)
    assert (kept.status, kept.claimed_by) == ("new", None) and kept.error
    assert send_draft(ws, draft.id).status == "sent"


# -- edited re-sends -------------------------------------------------------------------------


def test_an_edited_resend_after_a_crash_edits_the_note(gitlab_server, ws, ticket, tmp_path):
    draft = _draft(ws, ticket)
    _crashed_claim(ws, draft)
    GitLabDestination(ws.settings).post(ticket, f"{ANSWER}\n\n{marker(draft)}\n")
    edited = tmp_path / "edited.md"
    edited.write_text("Set `export.batch_size: 200` instead; 500 is too high for you.\n")

    [(code, out, err)] = _send_processes(1, draft.id, ("--file", str(edited)))

    assert code == 0, err
    [note] = gitlab_server.notes("acme/app", 1)
    assert note["body"].startswith("Set `export.batch_size: 200` instead")
    assert marker(draft) in note["body"]
    assert len(gitlab_server.requests_to(r"/notes/\d+$", method="PUT")) == 1
    sent = ws.store.get_draft(draft.id)
    assert sent.status == "sent" and sent.final_text.startswith("Set `export.batch_size: 200`")


def test_an_edit_the_destination_refuses_records_what_it_shows(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    _crashed_claim(ws, draft)
    # Posted by someone else's account with the marker: this token may not edit it.
    gitlab_server.add_note("acme/app", 1, f"{ANSWER}\n\n{marker(draft)}\n", "dana")

    with pytest.raises(SendError, match="already posted .* with its earlier text, which was kept"):
        send_draft(ws, draft.id, text="A different answer.")

    [note] = gitlab_server.notes("acme/app", 1)
    assert note["body"].startswith(ANSWER)
    kept = ws.store.get_draft(draft.id)
    assert kept.status == "sent" and kept.final_text.strip() == ANSWER  # what GitLab shows


def test_a_sent_draft_is_not_sent_again_with_other_text(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    send_draft(ws, draft.id)
    assert send_draft(ws, draft.id, text=ANSWER).status == "sent"  # the same text: fine
    with pytest.raises(SendError, match="already sent .* with other text"):
        send_draft(ws, draft.id, text="Something else.")
    assert len(gitlab_server.notes("acme/app", 1)) == 1


# -- what is posted --------------------------------------------------------------------------


def test_quick_actions_in_a_draft_are_not_run(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket, f"{ANSWER}\n/close\n/label ~answered\n/assign @attacker")
    ws.settings.set("allowed_quick_actions", ["label"])
    send_draft(ws, draft.id)

    [posted] = gitlab_server.requests_to(r"/notes$", method="POST")
    body = json.loads(posted.body)["body"]
    lines = body.splitlines()
    assert "`/close`" in lines and "`/assign` @attacker" in lines
    assert "/label ~answered" in lines  # the team allows this one
    assert ws.store.get_draft(draft.id).final_text.splitlines()[1] == "`/close`"


# -- Slack -----------------------------------------------------------------------------------


def test_slack_replies_go_through_the_same_claimed_send(ws):
    from slack_sdk import WebClient
    from slack_server import FakeSlack

    from understudy.destinations.slack import SlackDestination
    from understudy.serve.slack import slack_thread

    with FakeSlack() as fake:
        thread = slack_thread("C1", "1700000000.000100", "1700000000.000100", "U1", "Help?")
        ws.store.upsert_thread(thread)
        draft = _draft(ws, thread)
        client = WebClient(token=fake.token, base_url=fake.api_url)
        slack = SlackDestination(ws.settings, client)
        # A sender died after its reply landed: the next send finds it by its metadata.
        _crashed_claim(ws, draft)
        posted = slack.post(thread, f"{ANSWER}\n\n{marker(draft)}\n")
        assert marker(draft) not in fake.messages[0]["text"]

        results = []
        workers = [threading.Thread(target=lambda: results.append(
            send_draft(ws, draft.id, destination=slack, wait=5))) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert len(fake.calls_to("chat.postMessage")) == 1
        assert {d.sent_id for d in results} == {posted.id}
        assert fake.calls_to("conversations.replies")


def test_a_ticket_with_nowhere_to_post_says_so_in_words(workspace):
    from understudy.errors import SendError
    from understudy.records import Draft, Message, Thread
    from understudy.send import send_draft

    store = workspace.store
    thread = Thread(source="api", external_id="t-1", url="", title="Q", state="opened",
                    messages=[Message("m-1", "c", "How?", "2026-12-01T10:00:00Z", kind="question")])
    store.upsert_thread(thread)
    thread = store.find_thread("api", "t-1")
    draft = Draft(thread_id=thread.id, text="Do this.", backend="retrieval", model="",
                  confidence=0.9)
    store.save_draft(draft)
    with pytest.raises(SendError) as failed:
        send_draft(workspace, draft.id)
    message = str(failed.value)
    assert "comes from the api source, which has nowhere to post" in message
    assert "a api" not in message


def test_a_posted_answer_keeps_the_teams_public_address_and_masks_others(gitlab_server, ws,
                                                                         ticket):
    ws.settings.set("public_contacts", ["@acme.test"])
    draft = _draft(ws, ticket, "Mail noreply@acme.test, not bob@example.org, for a new link.")
    send_draft(ws, draft.id)
    [note] = gitlab_server.notes("acme/app", 1)
    assert "noreply@acme.test" in note["body"] and "bob@example.org" not in note["body"]
