"""`understudy answer`, `add`, `drafts`, `send` through the command line, offline."""

from __future__ import annotations

import json

import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app

runner = CliRunner()

PAST = [
    make_thread(1, "Login with SSO fails: invalid state",
                "When I sign in through Okta SSO I get 'invalid state' after the redirect.",
                [("maria", "Set `SSO_STATE_TTL=600` and clear cookies; the state expired.", True)]),
    make_thread(2, "CSV export returns 500",
                "Exporting invoices to CSV gives an internal server error.",
                [("maria", "A bug in the encoder; upgrade to 2.3.1 which fixes it.", True)]),
    make_thread(3, "Dark mode request", "Please add a dark theme.",
                [("bob", "+1", False), ("maria", "closing", True)]),
]


@pytest.fixture
def filled(workspace):
    for thread in PAST:
        workspace.store.upsert_thread(thread)
    return workspace


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_answer_a_file_prints_json_drafts(filled, tmp_path):
    ticket = tmp_path / "ticket.md"
    ticket.write_text("# SSO sign-in broken\nOkta login ends with an invalid state error.\n")
    result = run("answer", str(ticket), "--json")
    assert result.exit_code == 0, result.output
    [draft] = json.loads(result.stdout)
    for key in ("id", "thread_url", "text", "backend", "confidence", "abstained", "sources"):
        assert key in draft
    assert draft["backend"] == "retrieval"
    assert not draft["abstained"]
    assert "SSO_STATE_TTL" in draft["text"]
    top = draft["sources"][0]
    assert top["url"].endswith("/issues/1") and top["kind"] == "reply"
    assert draft["calibration"]["name"] == "semeval-default"
    assert draft["calibration"]["threshold"] == 0.5
    assert [s["score"] for s in draft["sources"]] == sorted(
        (s["score"] for s in draft["sources"]), reverse=True)
    assert json.loads(run("drafts", "--json").stdout)[0]["id"] == draft["id"]


def test_stdin_ticket_and_abstention(filled):
    result = run("answer", "-", "--json", input="Quantum flux capacitor\nHow do I tune it?\n")
    [draft] = json.loads(result.stdout)
    assert draft["abstained"] is True
    assert "No confident answer" in draft["text"]


def test_procedural_replies_are_never_answers(filled, tmp_path):
    ticket = tmp_path / "t.txt"
    ticket.write_text("Dark theme please\nCould you add a dark mode to the app?\n")
    [draft] = json.loads(run("answer", str(ticket), "--json").stdout)
    assert all(not s["url"].endswith("/issues/3") for s in draft["sources"])


def test_file_tickets_cannot_be_sent(filled, tmp_path):
    ticket = tmp_path / "t.md"
    ticket.write_text("CSV export error\nThe invoice CSV export fails with a 500.\n")
    added = run("add", str(ticket))
    assert "can be answered and saved but not sent" in added.stdout
    [draft] = json.loads(run("answer", str(ticket), "--json").stdout)
    result = run("send", str(draft["id"]), "--yes")
    assert result.exit_code == 1
    assert "nowhere to post" in result.output


def test_usage_errors_are_one_line(filled):
    for args, code in ((["answer"], 2), (["answer", "/no/such/file.md"], 1),
                       (["drafts", "--status", "bogus"], 2), (["send", "99", "--yes"], 1)):
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert "Traceback" not in result.output


def test_index_is_incremental_from_the_cli(filled):
    first = json.loads(run("index", "--json").stdout)
    assert first["items"] == 2 and first["embedded"] == 2
    again = json.loads(run("index", "--json").stdout)
    assert again["embedded"] == 0 and again["reused"] == 2
    rebuilt = json.loads(run("index", "--rebuild", "--json").stdout)
    assert rebuilt["embedded"] == 2
