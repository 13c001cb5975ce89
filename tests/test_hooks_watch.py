"""The GitLab webhook and watch mode against a local GitLab API."""

from __future__ import annotations

import json

import pytest
from test_serve_api import make_client, seed
from typer.testing import CliRunner

from understudy.cli import app as cli
from understudy.serve.hooks import ticket_url

SECRET = "hook-secret"
PROJECT = "acme/helpdesk"


@pytest.fixture
def gitlab(gitlab_server, workspace, monkeypatch):
    """GitLab with one project whose Developer 'support-ana' is the team; knowledge seeded."""
    monkeypatch.setenv("GITLAB_WEBHOOK_SECRET", SECRET)
    gitlab_server.add_project(PROJECT)
    gitlab_server.add_member(PROJECT, "support-ana", 30)
    seed(workspace)
    return gitlab_server


def issue_event(server, issue: dict, action: str = "open") -> dict:
    project = server.project(PROJECT)
    return {
        "object_kind": "issue", "event_type": "issue",
        "user": {"username": "customer"},
        "project": {"id": project["id"], "path_with_namespace": PROJECT,
                    "web_url": project["web_url"]},
        "object_attributes": {"id": issue["id"], "iid": issue["iid"], "title": issue["title"],
                              "action": action, "state": issue["state"],
                              "url": issue["web_url"]},
    }


def note_event(server, issue: dict, note: dict) -> dict:
    project = server.project(PROJECT)
    return {
        "object_kind": "note", "event_type": "note", "user": note["author"],
        "project": {"id": project["id"], "path_with_namespace": PROJECT,
                    "web_url": project["web_url"]},
        "object_attributes": {"id": note["id"], "note": note["body"], "noteable_type": "Issue",
                              "url": f"{issue['web_url']}#note_{note['id']}"},
        "issue": {"id": issue["id"], "iid": issue["iid"], "title": issue["title"]},
    }


def deliver(client, payload: dict, token: str = SECRET, uuid: str | None = None):
    headers = {"X-Gitlab-Token": token, "X-Gitlab-Event": "Issue Hook"}
    if uuid:
        headers["X-Gitlab-Event-UUID"] = uuid
    response = client.post("/hooks/gitlab", json=payload, headers=headers)
    client.app.state.service.jobs.wait(timeout=60)
    return response


def posted_notes(server) -> list:
    return server.requests_to(r"/issues/\d+/notes$", method="POST")


def test_opened_issue_gets_a_draft_kept_for_review(gitlab, workspace):
    issue = gitlab.add_issue(PROJECT, "Password reset mail missing",
                             "I never receive the password reset email. Help!")
    client, _ = make_client(workspace)
    with client:
        response = deliver(client, issue_event(gitlab, issue), uuid="u-1")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    thread = workspace.store.find_thread("gitlab", f"{PROJECT}#1")
    [draft] = workspace.store.drafts(thread_id=thread.id)
    assert draft.status == "new" and "allow that sender" in draft.text
    assert posted_notes(gitlab) == []


def test_hook_refuses_wrong_token_missing_secret_and_bad_bodies(gitlab, workspace, monkeypatch):
    issue = gitlab.add_issue(PROJECT, "CSV export 500", "Export fails.")
    client, _ = make_client(workspace)
    with client:
        wrong = deliver(client, issue_event(gitlab, issue), token="guess")
        assert wrong.status_code == 401 and "X-Gitlab-Token" in wrong.json()["error"]["message"]
        bad = client.post("/hooks/gitlab", content=b"not json",
                          headers={"X-Gitlab-Token": SECRET})
        assert bad.status_code == 400 and bad.json()["error"]["type"]
        closed = deliver(client, issue_event(gitlab, issue, action="close"))
        assert closed.json()["status"] == "ignored"
        monkeypatch.delenv("GITLAB_WEBHOOK_SECRET")
        off = deliver(client, issue_event(gitlab, issue))
        assert off.status_code == 503
        assert "GITLAB_WEBHOOK_SECRET" in off.json()["error"]["message"]
    assert workspace.store.count("drafts") == 0


def test_duplicate_deliveries_make_one_draft(gitlab, workspace):
    issue = gitlab.add_issue(PROJECT, "Docker on ARM", "The image exits at once on our Pis.")
    payload = issue_event(gitlab, issue)
    client, _ = make_client(workspace)
    with client:
        first = deliver(client, payload, uuid="same")
        again = deliver(client, payload, uuid="same")
        resent = deliver(client, payload, uuid="another")  # a redelivery with a new id
    assert [first.json()["status"], again.json()["status"]] == ["queued", "duplicate"]
    assert resent.json()["status"] == "queued"
    assert workspace.store.count("drafts") == 1


def test_new_note_drafts_again_until_the_team_answers(gitlab, workspace):
    issue = gitlab.add_issue(PROJECT, "CSV export gives 500", "Every export fails.")
    client, _ = make_client(workspace)
    with client:
        deliver(client, issue_event(gitlab, issue))
        note = gitlab.add_note(PROJECT, 1, "Still failing with 20k rows.", "customer")
        deliver(client, note_event(gitlab, issue, note))
        assert workspace.store.count("drafts") == 2
        team = gitlab.add_note(PROJECT, 1, "Set export.batch_size to 500.", "support-ana")
        deliver(client, note_event(gitlab, issue, team))
    assert workspace.store.count("drafts") == 2


def test_auto_send_posts_confident_drafts_as_internal_notes(gitlab, workspace):
    workspace.settings.set("auto_send", True)
    workspace.settings.set("internal_notes", True)
    sure = gitlab.add_issue(PROJECT, "Require 2FA for everyone",
                            "How do I turn on two-factor authentication for all users?")
    unsure = gitlab.add_issue(PROJECT, "Sourdough", "How long should bread dough rise?")
    client, _ = make_client(workspace)
    with client:
        deliver(client, issue_event(gitlab, sure))
        deliver(client, issue_event(gitlab, unsure))
    [note] = gitlab.notes(PROJECT, 1)
    assert "Require two-factor authentication" in note["body"] and note["internal"]
    assert gitlab.notes(PROJECT, 2) == []
    statuses = sorted(d.status for d in workspace.store.drafts())
    assert statuses == ["new", "sent"]


def test_send_over_the_api_posts_once(gitlab, workspace):
    issue = gitlab.add_issue(PROJECT, "Reset email never comes", "No reset email arrives.")
    client, headers = make_client(workspace)
    with client:
        deliver(client, issue_event(gitlab, issue))
        [draft] = workspace.store.drafts()
        first = client.post(f"/v1/drafts/{draft.id}/send", headers=headers,
                            json={"text": "Allow the noreply sender, then ask again."})
        again = client.post(f"/v1/drafts/{draft.id}/send", headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "sent"
    assert again.json()["sent_to"] == first.json()["sent_to"]
    [note] = gitlab.notes(PROJECT, 1)
    assert note["body"].startswith("Allow the noreply sender, then ask again.")
    assert not note["internal"]


def test_shutdown_finishes_queued_deliveries(gitlab, workspace):
    issue = gitlab.add_issue(PROJECT, "Two-factor for all", "How to require 2FA?")
    client, _ = make_client(workspace)
    with client:
        response = client.post("/hooks/gitlab", json=issue_event(gitlab, issue),
                               headers={"X-Gitlab-Token": SECRET})
        assert response.status_code == 202
    # leaving the block shut the app down; the queued delivery still made its draft
    assert workspace.store.count("drafts") == 1


def test_ticket_url_reads_issue_and_note_events():
    assert ticket_url({"object_kind": "issue", "object_attributes": {
        "action": "open", "url": "https://g/x/-/issues/3"}}) == "https://g/x/-/issues/3"
    assert ticket_url({"object_kind": "issue", "object_attributes": {"action": "update"}}) is None
    note = {"object_kind": "note", "project": {"web_url": "https://g/x"},
            "object_attributes": {"noteable_type": "Issue"}, "issue": {"iid": 4}}
    assert ticket_url(note) == "https://g/x/-/issues/4"
    assert ticket_url({**note, "event_type": "confidential_note"}) is None
    assert ticket_url({"object_kind": "merge_request"}) is None


def test_watch_once_drafts_open_tickets_once(gitlab, workspace):
    gitlab.add_issue(PROJECT, "No password reset email", "The reset mail never arrives.")
    gitlab.add_issue(PROJECT, "Docker ARM crash", "Container exits on ARM.")
    answered = gitlab.add_issue(PROJECT, "CSV export", "Export fails.")
    gitlab.add_note(PROJECT, answered["iid"], "Use export.batch_size: 500.", "support-ana")
    runner = CliRunner()
    args = ["--home", str(workspace.home), "watch", "--once", "--project", PROJECT, "--json"]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert report["synced"]["new"] == 3 and report["drafted"] == 2 and report["sent"] == 0
    titles = sorted(d["thread_title"] for d in report["drafts"])
    assert titles == ["Docker ARM crash", "No password reset email"]
    second = runner.invoke(cli, args, catch_exceptions=False)
    assert json.loads(second.output)["drafted"] == 0


def test_watch_reports_a_bad_token_as_one_line(gitlab, workspace, monkeypatch):
    monkeypatch.setenv("GITLAB_TOKEN", "wrong")
    result = CliRunner().invoke(
        cli, ["--home", str(workspace.home), "watch", "--once", "--project", PROJECT])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Error:" in result.output
