"""understudy never answers itself: its notes are not customer messages, whoever it posts as."""

from __future__ import annotations

import pytest
from gitlab_server import FakeGitLab
from test_hooks_watch import PROJECT, SECRET, deliver, issue_event, note_event
from test_serve_api import make_client, seed
from typer.testing import CliRunner

from understudy.cli import app as cli
from understudy.records import Message, Thread
from understudy.send import marker
from understudy.watch import needs_answer

POSTERS = ["bot", "non-member", "member"]
QUESTION = "How do I turn on two-factor authentication for all users?"


@pytest.fixture(params=POSTERS)
def poster(request, home, workspace, monkeypatch):
    """GitLab whose token posts as a bot user, a non-member, or a Maintainer of the project."""
    kind = request.param
    username = "project_7_bot_a1b2" if kind == "bot" else "helper"
    with FakeGitLab(username=username, bot=kind == "bot") as server:
        monkeypatch.setenv("GITLAB_URL", server.url)
        monkeypatch.setenv("GITLAB_TOKEN", server.token)
        monkeypatch.setenv("GITLAB_WEBHOOK_SECRET", SECRET)
        server.add_project(PROJECT, member=kind != "non-member")
        if kind == "bot":  # a project access token's user is a member of its project
            server.add_member(PROJECT, username, 40)
        server.add_member(PROJECT, "support-ana", 30)
        seed(workspace)
        workspace.settings.set("auto_send", True)
        yield server


def own_notes(server: FakeGitLab) -> list[dict]:
    return [n for n in server.notes(PROJECT, 1) if n["author"]["id"] == server.me["id"]]


def test_auto_send_answers_each_customer_message_once(poster, workspace):
    issue = poster.add_issue(PROJECT, "Require 2FA for everyone", QUESTION)
    client, _ = make_client(workspace)
    customer_messages = 1
    with client:
        deliver(client, issue_event(poster, issue))
        for round_ in range(3):
            [*_, latest] = own_notes(poster)
            deliver(client, note_event(poster, issue, latest))  # GitLab tells of our own note
            without_text = note_event(poster, issue, latest)
            del without_text["object_attributes"]["note"]  # a payload without the note's body
            deliver(client, without_text)
            assert len(own_notes(poster)) == customer_messages  # one answer per message
            note = poster.add_note(PROJECT, 1, f"Still unsure: {QUESTION} ({round_})",
                                   "customer")
            customer_messages += 1
            deliver(client, note_event(poster, issue, note))
        # A note by the token's user without a marker (posted by hand) asks for nothing either.
        manual = poster.add_note(PROJECT, 1, "Looking into it.", poster.me["username"])
        deliver(client, note_event(poster, issue, manual))
    answers = [n for n in own_notes(poster) if "understudy-draft" in n["body"]]
    assert len(answers) == customer_messages, [n["body"][:40] for n in answers]
    assert len(own_notes(poster)) == customer_messages + 1  # the answers and the manual note


def test_watch_does_not_answer_a_thread_it_answered(poster, workspace):
    poster.add_issue(PROJECT, "Require 2FA for everyone", QUESTION)
    args = ["--home", str(workspace.home), "watch", "--once", "--project", PROJECT, "--json"]
    for _ in range(3):
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert len(own_notes(poster)) == 1


def _thread(*messages: tuple[str, str, bool, bool]) -> Thread:
    """Messages as (author, body, is_team, is_bot); the first is the question."""
    made = [Message(str(i), author, body, "2024-01-01", kind="question" if i == 0 else "reply",
                    is_team=team, is_bot=bot)
            for i, (author, body, team, bot) in enumerate(messages)]
    return Thread("gitlab", "a/b#1", "https://g/a/b/-/issues/1", "T", messages=made)


def test_needs_answer_counts_only_customer_messages_after_its_own():
    tag = marker(type("D", (), {"thread_id": 1, "id": 2})())
    asked = ("customer", "Help?", False, False)
    ours = ("project_7_bot", f"Try this.\n\n{tag}\n", False, True)
    assert needs_answer(_thread(asked))
    assert not needs_answer(_thread(asked, ours))
    assert needs_answer(_thread(asked, ours, ("customer", "Did not work.", False, False)))
    assert not needs_answer(_thread(asked, ("other_bot", "CI passed", False, True), ours))
    # The token's own user without a marker, and a team member's reply.
    assert not needs_answer(_thread(asked, ("helper", "On it.", False, False)), {"helper"})
    assert not needs_answer(_thread(asked, ("dana", "Fixed in 2.1.", True, False)))
    # understudy posting as a team member is not the team answering.
    ours_as_team = ("dana", f"Try this.\n\n{tag}\n", True, False)
    assert needs_answer(_thread(asked, ours_as_team, ("customer", "No luck.", False, False)))
