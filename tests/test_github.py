"""The GitHub source and destination against a local GitHub API: paging, team, cursors, send."""

from __future__ import annotations

import json

import pytest
from factories import run_cli
from github_server import FakeGitHub
from typer.testing import CliRunner

from understudy.cli import app
from understudy.errors import ConfigError, SendError
from understudy.records import Draft
from understudy.send import send_draft
from understudy.sources import resolve_ticket, sync
from understudy.sources.github import GitHubSource, parse_issue_url, web_and_api


@pytest.fixture
def github_server(home, monkeypatch):
    """A local GitHub Enterprise API; GITHUB_URL and GITHUB_TOKEN point at it."""
    with FakeGitHub(max_per_page=4) as server:
        monkeypatch.setenv("GITHUB_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        yield server


@pytest.fixture
def acme(github_server):
    server = github_server
    server.add_repo("acme/app")
    server.add_repo("acme/docs")
    server.add_repo("other/tool", mine=False)
    server.add_collaborator("acme/app", "dana", "push")
    server.add_collaborator("acme/app", "rita", "triage")
    server.add_user("helper[bot]", bot=True)
    server.add_collaborator("acme/app", "helper[bot]", "push")
    for n in range(9):
        server.add_issue("acme/app", f"App problem {n}", f"It breaks in case {n}",
                         state="closed" if n % 3 else "open", labels=["bug"] if n % 2 else [])
        server.add_comment("acme/app", n + 1, f"Try setting option {n}", "dana")
    server.add_issue("acme/app", "Add a flag", "the pull request body", pull_request=True)
    server.add_issue("acme/docs", "Typo", "in the intro")
    server.add_issue("other/tool", "Not mine", "not listed")
    return server




def test_sync_reads_every_page_skips_pull_requests_and_flags_the_team(acme, ws):
    for n in range(6):
        acme.add_comment("acme/app", 2, f"Follow-up {n}", "customer" if n % 2 else "rita")
    acme.add_comment("acme/app", 2, "Automated triage", "helper[bot]")
    report = sync(ws, "github")

    assert (report.new, report.updated, report.unchanged) == (10, 0, 0)  # 9 + 1, no PR
    assert {t.project for t in ws.store.threads(source="github")} == {"acme/app", "acme/docs"}
    two = ws.store.find_thread("github", "acme/app#2")
    assert two.url == f"{acme.url}/acme/app/issues/2" and two.state == "closed"
    assert two.labels == ["bug"] and two.title == "App problem 1"
    assert [m.body for m in two.messages[1:]] == (
        ["Try setting option 1"] + [f"Follow-up {n}" for n in range(6)] + ["Automated triage"])
    flags = {(m.author, m.is_team, m.is_bot) for m in two.messages}
    assert flags == {("customer", False, False), ("dana", True, False), ("rita", False, False),
                     ("helper[bot]", False, True)}
    assert ws.store.find_thread("github", "acme/app#1").state == "opened"
    assert ws.store.find_thread("github", "acme/app#10") is None  # the pull request
    assert acme.requests_to(r"/collaborators$")[0].query["permission"] == "push"
    assert all(r.headers.get("Authorization", "").endswith(acme.token) for r in acme.requests)


def test_second_sync_asks_only_for_changed_issues(acme, ws):
    sync(ws, "github", repos=["acme/app"])
    acme.requests.clear()
    acme.add_comment("acme/app", 3, "Fixed in 2.1", "dana")

    report = sync(ws, "github", repos=["acme/app"])
    assert (report.new, report.updated) == (0, 1)
    since = acme.requests_to(r"/repos/acme/app/issues$")[0].query["since"]
    assert since.startswith("2024-01-01T")
    assert [r.path for r in acme.requests_to(r"/comments$")] == [
        "/api/v3/repos/acme/app/issues/3/comments"]
    assert ws.store.find_thread("github", "acme/app#3").messages[-1].body == "Fixed in 2.1"


def test_org_sync_and_association_when_collaborators_are_hidden(home, monkeypatch, ws):
    with FakeGitHub(collaborators_visible=False) as server:
        monkeypatch.setenv("GITHUB_URL", server.url + "/api/v3")
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        server.add_repo("corp/one", mine=False)
        server.add_repo("corp/two", mine=False, has_issues=False)
        server.add_issue("corp/one", "Help", "please", association="NONE")
        server.add_comment("corp/one", 1, "On it", "staff", association="MEMBER")
        report = sync(ws, "github", org="corp")
    assert report.new == 1
    assert "corp/two has issues turned off" in report.problems
    assert any("collaborators of corp/one" in p and "association" in p for p in report.problems)
    thread = ws.store.find_thread("github", "corp/one#1")
    assert [m.is_team for m in thread.messages] == [False, True]


def test_rate_limits_are_waited_out(acme, ws):
    acme.fail_next(403, match="/issues", rate_limited=True)
    acme.fail_next(429, match="/comments", retry_after=0)
    report = sync(ws, "github", repos=["acme/docs"])
    assert report.new == 1
    assert [r.status for r in acme.requests_to(r"/repos/acme/docs/issues$")] == [403, 200]


def test_errors_name_the_fix(acme, ws, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    with pytest.raises(ConfigError, match="rejected the token in GITHUB_TOKEN"):
        sync(ws, "github", repos=["acme/app"])
    code, _, err = run_cli(monkeypatch, "sync", "github", "--repo", "acme/app")
    assert code == 1 and err.strip().splitlines() == [
        f"Error: GitHub at {acme.url} rejected the token in GITHUB_TOKEN (401, bad or expired):"
        " set it to a valid personal access token"]
    monkeypatch.setenv("GITHUB_TOKEN", acme.token)
    code, _, err = run_cli(monkeypatch, "sync", "github", "--repo", "acme/missing")
    assert code == 1 and "Repository acme/missing not found" in err and "owner/repo" in err
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = run_cli(monkeypatch, "sync", "github")
    assert code == 1 and "set GITHUB_TOKEN" in err


def test_issue_urls_and_add(acme, ws):
    assert parse_issue_url("https://github.com/o/r/issues/7#issuecomment-1").number == 7
    assert parse_issue_url("https://github.com/o/r/pull/7") is None
    assert GitHubSource.handles_url("https://github.com/o/r/issues/7")
    assert GitHubSource.handles_url(f"{acme.url}/acme/app/issues/2")
    assert not GitHubSource.handles_url("https://gitlab.com/g/p/-/issues/2")
    assert web_and_api(None) == ("https://github.com", "https://api.github.com")
    assert web_and_api("ghe.example.com/api/v3") == (
        "https://ghe.example.com", "https://ghe.example.com/api/v3")

    thread = resolve_ticket(ws, f"{acme.url}/acme/app/issues/4")
    assert thread.source == "github" and thread.external_id == "acme/app#4"
    assert thread.messages[1].is_team

    result = CliRunner().invoke(app, ["add", f"{acme.url}/acme/app/issues/5"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert ws.store.find_thread("github", "acme/app#5") is not None


def test_send_posts_a_comment_once(acme, ws):
    sync(ws, "github", repos=["acme/docs"])
    thread = ws.store.find_thread("github", "acme/docs#1")
    draft = ws.store.save_draft(Draft(thread.id, "Fixed, thanks!", "retrieval"))

    acme.fail_next(502, match="/comments", method="POST")
    with pytest.raises(SendError):
        send_draft(ws, draft.id)
    assert acme.comments("acme/docs", 1) == []  # the failure was not retried blindly

    sent = send_draft(ws, draft.id)
    comments = acme.comments("acme/docs", 1)
    assert len(comments) == 1 and comments[0]["body"].startswith("Fixed, thanks!")
    assert f"understudy-draft:{thread.id}:{draft.id}" in comments[0]["body"]
    assert sent.status == "sent" and sent.sent_to == comments[0]["html_url"]

    # A retry after a lost answer finds the comment by its marker instead of posting again.
    ws.store.save_draft(Draft(thread.id, "x", "retrieval", status="saved", id=draft.id,
                              final_text="Fixed, thanks!"))
    again = send_draft(ws, draft.id)
    assert len(acme.comments("acme/docs", 1)) == 1 and again.sent_id == str(comments[0]["id"])

    other = ws.store.save_draft(Draft(thread.id, "Internal", "retrieval"))
    with pytest.raises(SendError, match="no internal comments"):
        send_draft(ws, other.id, internal=True)


def test_cli_sync_github_json(acme):
    result = CliRunner().invoke(app, ["sync", "github", "--repo", "acme/docs", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["new"] == 1


def test_an_edited_resend_after_a_crash_edits_the_comment(acme, ws):
    from understudy.destinations.github import GitHubDestination
    from understudy.send import marker

    sync(ws, "github", repos=["acme/docs"])
    thread = ws.store.find_thread("github", "acme/docs#1")
    draft = ws.store.save_draft(Draft(thread.id, "Fixed, thanks!", "retrieval"))
    # The sender died after its comment landed and before it recorded anything.
    assert ws.store.claim_draft(draft.id, "1@elsewhere:dead", "new", None, "Fixed, thanks!")
    ws.store.db.execute("UPDATE drafts SET claimed_at = '2020-01-01T00:00:00.000000Z'")
    ws.store.db.commit()
    GitHubDestination(ws.settings).post(thread, f"Fixed, thanks!\n\n{marker(draft)}\n")

    sent = send_draft(ws, draft.id, text="Fixed in 2.1, thanks for the report!")

    [comment] = acme.comments("acme/docs", 1)
    assert comment["body"].startswith("Fixed in 2.1, thanks") and marker(draft) in comment["body"]
    assert sent.status == "sent" and sent.final_text.startswith("Fixed in 2.1")
    assert GitHubDestination(ws.settings).own_user(thread) == acme.me["login"]
