"""Sending drafts as GitLab notes, end to end against a local GitLab API."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from understudy.cli import app
from understudy.destinations.gitlab import GitLabDestination
from understudy.errors import SendError
from understudy.records import Draft
from understudy.send import marker, send_draft
from understudy.sources import resolve_ticket
from understudy.workspace import Workspace

ANSWER = """Thanks for the report. Two steps:

1. Upgrade to **2.1** (`pip install -U app`).
2. Restart the worker:

```bash
systemctl restart app-worker
```

Details & caveats: see <https://docs.example.com/upgrade?from=2.0&to=2.1>.
"""


@pytest.fixture
def ticket(gitlab_server, ws):
    """Issue acme/app#1 with a few notes (pages of 2), stored in the workspace."""
    gitlab_server.max_per_page = 2
    gitlab_server.add_project("acme/app")
    gitlab_server.add_member("acme/app", "dana", 30)
    gitlab_server.add_issue("acme/app", "Worker crashes after upgrade", "It dies at start.")
    for n in range(5):
        gitlab_server.add_note("acme/app", 1, f"Any news? ({n})", "customer")
    thread = resolve_ticket(ws, f"{gitlab_server.url}/acme/app/-/issues/1")
    ws.store.upsert_thread(thread)
    return thread


def _draft(ws: Workspace, thread, text: str = ANSWER) -> Draft:
    return ws.store.save_draft(Draft(thread_id=thread.id, text=text, backend="retrieval",
                                     confidence=0.8))


def test_send_posts_the_note_once(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    sent = send_draft(ws, draft.id)

    notes = gitlab_server.notes("acme/app", 1)
    assert notes[-1]["body"] == f"{ANSWER.rstrip()}\n\n{marker(draft)}\n"  # markdown intact
    assert notes[-1]["author"]["username"] == "me" and notes[-1]["internal"] is False
    assert sent.status == "sent" and sent.sent_id == str(notes[-1]["id"])
    assert sent.sent_to == f"{ticket.url}#note_{notes[-1]['id']}"
    stored = ws.store.get_draft(draft.id)
    assert (stored.status, stored.final_text, stored.error) == ("sent", ANSWER, None)

    # the body travels as JSON in the request body, never in the URL
    [posted] = gitlab_server.requests_to(r"/notes$", method="POST")
    assert posted.headers["content-type"].startswith("application/json")
    assert json.loads(posted.body)["body"] == notes[-1]["body"]
    assert "Upgrade" not in posted.raw_target and "restart" not in posted.raw_target
    assert posted.query == {}

    again = send_draft(ws, draft.id)
    assert again.sent_id == sent.sent_id
    assert len(gitlab_server.requests_to(r"/notes$", method="POST")) == 1
    assert len(gitlab_server.notes("acme/app", 1)) == 6


def test_a_retry_after_a_crash_finds_the_note_instead_of_posting(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket)
    # The note went out but the process died before the draft was marked sent.
    posted = GitLabDestination(ws.settings).post(ticket, f"{ANSWER}\n\n{marker(draft)}\n")
    for n in range(3):  # later notes push it off the first page (newest first)
        gitlab_server.add_note("acme/app", 1, f"Thanks ({n})", "customer")
    assert ws.store.get_draft(draft.id).status == "new"
    gitlab_server.clear_requests()

    sent = send_draft(ws, draft.id)

    assert sent.status == "sent" and sent.sent_id == posted.id
    assert not gitlab_server.requests_to(r"/notes$", method="POST")
    pages = [r.query.get("page", "1") for r in gitlab_server.requests_to(r"/notes$")]
    assert len(pages) >= 2  # searched past the first page
    bodies = [n["body"] for n in gitlab_server.notes("acme/app", 1)]
    assert sum(marker(draft) in b for b in bodies) == 1


def test_internal_note(gitlab_server, ws, ticket):
    draft = _draft(ws, ticket, "Escalated to the database team.")
    send_draft(ws, draft.id, internal=True)

    note = gitlab_server.notes("acme/app", 1)[-1]
    assert note["internal"] is True
    [posted] = gitlab_server.requests_to(r"/notes$", method="POST")
    assert json.loads(posted.body)["internal"] is True


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (403, "POST", "No permission for a note on acme/app#1"),
        (404, "GET", "Notes of acme/app#1 not found"),
        (500, "POST", "failed on a note on acme/app#1 (500"),
    ],
)
def test_a_failed_send_keeps_the_draft_and_its_error(
    gitlab_server, ws, ticket, status, method, expected
):
    draft = _draft(ws, ticket)
    gitlab_server.fail_next(status=status, retry_after=None, match="/issues/1/notes",
                            method=method)

    with pytest.raises(SendError, match=re.escape(expected)):
        send_draft(ws, draft.id, text="Edited answer")

    kept = ws.store.get_draft(draft.id)
    assert kept.status == "new" and kept.final_text == "Edited answer"
    assert expected in kept.error
    assert len(gitlab_server.notes("acme/app", 1)) == 5

    sent = send_draft(ws, draft.id)  # the server is back: the saved edit goes out
    assert sent.status == "sent"
    assert gitlab_server.notes("acme/app", 1)[-1]["body"].startswith("Edited answer")


def test_bad_token_and_unreachable_host_name_the_fix(gitlab_server, ws, ticket, monkeypatch):
    draft = _draft(ws, ticket)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked")
    with pytest.raises(SendError, match="rejected the token in GITLAB_TOKEN"):
        send_draft(ws, draft.id)
    monkeypatch.delenv("GITLAB_TOKEN")
    with pytest.raises(SendError, match="set GITLAB_URL=.* and GITLAB_TOKEN"):
        send_draft(ws, draft.id)
    monkeypatch.setenv("GITLAB_TOKEN", gitlab_server.token)
    gitlab_server.stop()
    with pytest.raises(SendError, match="Cannot reach GitLab at .*GITLAB_URL"):
        send_draft(ws, draft.id)
    assert "Cannot reach GitLab" in ws.store.get_draft(draft.id).error


def test_a_ticket_on_another_host_is_not_sent_with_this_token(gitlab_server, ws, ticket):
    other = ws.store.get_thread(ticket.id)
    other.url = other.url.replace("127.0.0.1", "localhost")
    ws.store.upsert_thread(other)
    draft = _draft(ws, other)
    gitlab_server.clear_requests()

    with pytest.raises(SendError, match="No GitLab token for http://localhost"):
        send_draft(ws, draft.id)
    assert gitlab_server.requests == []


def test_cli_send(gitlab_server, ws, ticket, tmp_path):
    draft = _draft(ws, ticket)
    edited = tmp_path / "edited.md"
    edited.write_text("Fixed in **2.1**: please upgrade.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["send", str(draft.id), "--file", str(edited), "--yes"],
                                catch_exceptions=False)

    assert result.exit_code == 0
    note = gitlab_server.notes("acme/app", 1)[-1]
    assert f"#note_{note['id']}" in result.output
    assert note["body"].startswith("Fixed in **2.1**: please upgrade.")
