"""The review loop, driven through a real PromptSession fed by a pipe."""

from __future__ import annotations

import stat
from io import StringIO
from pathlib import Path

import pytest
from factories import make_thread
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from understudy.review import HELP, STATE_KEY, ReviewSession

ANSWERED = [
    (
        1,
        "Password reset email never arrives",
        "I asked for a password reset link but the email never came, even in spam.",
        "Reset emails come from no-reply@acme.example; allow that sender and ask again. "
        "Links expire after one hour.",
    ),
    (
        2,
        "Export to CSV times out on large projects",
        "Exporting a project with 50k issues to CSV fails with a gateway timeout.",
        "Large exports run in the background now: use Export > Email me the file.",
    ),
    (
        3,
        "Webhook deliveries fail with SSL error",
        "Our webhook endpoint gets SSL certificate verify failed on every delivery.",
        "Your endpoint serves an incomplete certificate chain; install the intermediate "
        "certificate or turn off SSL verification for that hook.",
    ),
]
OPEN = [
    (11, "Reset link email not received", "I never got the password reset email.", "05"),
    (12, "CSV export gives a timeout", "Export to CSV of a big project times out.", "07"),
    (13, "Webhook SSL verify failed", "Webhooks fail with an SSL certificate error.", "06"),
]


@pytest.fixture
def filled(workspace):
    """A workspace with answered threads and open tickets from three different days."""
    for number, title, question, answer in ANSWERED:
        thread = make_thread(number, title, question, [("support", answer, True)])
        workspace.store.upsert_thread(thread)
    for number, title, question, day in OPEN:
        thread = make_thread(
            number, title, question, state="opened", created_at=f"2024-03-{day}T09:00:00Z"
        )
        workspace.store.upsert_thread(thread)
    return workspace


def drive(workspace, keys: str, close: bool = True, **options) -> str:
    """Run a review loop on `keys` typed by a user; what it printed.

    With `close` the input ends after the keys, so a test that forgot `exit` cannot hang.
    """
    out = StringIO()
    console = Console(file=out, width=160, color_system=None)
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        if close:
            pipe.close()
        session = PromptSession(input=pipe, output=DummyOutput())
        ReviewSession(workspace, console=console, session=session, **options).run()
    return out.getvalue()


def open_ids(workspace) -> dict[str, int]:
    """Title -> local id of the open tickets."""
    return {t.title: t.id for t in workspace.store.threads(state="opened")}


def oldest_first(workspace) -> list[int]:
    ids = open_ids(workspace)
    ordered = sorted(OPEN, key=lambda row: row[3])
    return [ids[title] for _, title, _, _ in ordered]


def editor_script(tmp_path: Path, name: str, body: str) -> str:
    """An executable editor that runs `body` (sh) with the file to edit as $1."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_start_drafts_the_oldest_ticket_and_queues_the_rest(filled):
    output = drive(filled, "start\nexit\n")
    order = oldest_first(filled)
    state = filled.store.get_state(STATE_KEY)
    assert state["thread"] == order[0]
    assert state["queue"] == order[1:]
    drafts = filled.store.drafts()
    assert [d.thread_id for d in drafts] == [order[0]]
    assert state["draft"] == drafts[0].id
    first = filled.store.get_thread(order[0])
    assert first.title in output
    assert drafts[0].text.splitlines()[0] in output
    assert f"confidence {drafts[0].confidence:.2f}" in output


def test_next_show_sources_skip_and_history(filled):
    output = drive(filled, "start\nnext\nshow\nsources\nskip\nhistory\nexit\n")
    order = oldest_first(filled)
    drafted = [d.thread_id for d in filled.store.drafts()]
    assert drafted == order  # next drafted the second, skip moved on and drafted the third
    state = filled.store.get_state(STATE_KEY)
    assert state["thread"] == order[2] and state["queue"] == []
    second = filled.store.drafts(thread_id=order[1])[0]
    for ref in second.sources:
        assert ref.title in output and f"{ref.score:.3f}" in output
    log = filled.store.review_log()
    assert [(r["action"], r["thread_id"]) for r in log if r["action"] == "skipped"] == [
        ("skipped", order[1])
    ]
    history = output.split("history", 1)[1] if "history" in output else output
    assert "skipped" in history and "drafted" in history


def test_next_at_the_end_of_the_queue_says_so(filled):
    output = drive(filled, "start\nnext\nnext\nnext\nexit\n")
    assert "The queue is empty" in output
    assert filled.store.get_state(STATE_KEY)["thread"] == oldest_first(filled)[2]


def test_add_file_ticket_can_be_saved_but_not_sent(filled, tmp_path):
    ticket = tmp_path / "ticket.md"
    ticket.write_text("# Reset email missing\n\nThe password reset email does not arrive.\n")
    saved = tmp_path / "answer.md"
    output = drive(filled, f"add {ticket}\nsend\nsave {saved}\nshow\nexit\n")
    thread = filled.store.get_state(STATE_KEY)["thread"]
    assert filled.store.get_thread(thread).source == "file"
    draft = filled.store.drafts(thread_id=thread)[0]
    assert output.count("came from a file") >= 3  # when added, when sending, when shown
    assert "Error: This ticket came from a file" in output
    assert draft.status == "saved" and draft.sent_to is None
    assert saved.read_text().strip() == draft.text.strip()
    assert output.rstrip().endswith("come back here.")


def test_add_a_missing_file_prints_one_line_and_the_loop_goes_on(filled, tmp_path):
    output = drive(filled, f"add {tmp_path / 'nope.md'}\nadd\nhelp\nexit\n")
    assert "Error: No such file" in output
    assert "Error: Usage: add URL|FILE" in output
    assert "Traceback" not in output
    for usage in HELP:
        assert usage in output


def test_edit_through_the_editor_then_save_to_a_file(filled, tmp_path, monkeypatch):
    edited = "Allow the no-reply sender, then ask for a new link."
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "ed.sh", f"printf '{edited}\\n' > \"$1\""))
    monkeypatch.delenv("VISUAL", raising=False)
    out_file = tmp_path / "final.md"
    output = drive(filled, f"start\nedit\nsave {out_file}\nshow\nexit\n")
    draft = filled.store.drafts()[0]
    assert out_file.read_text().strip() == edited
    assert draft.final_text.strip() == edited
    assert draft.text.strip() != edited  # the drafted text stays next to the edit
    assert draft.status == "saved"
    assert "(edited)" in output
    assert [r["action"] for r in filled.store.review_log()][:2] == ["saved", "edited"]


def test_unchanged_or_empty_edit_keeps_the_text(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "keep.sh", "exit 0"))
    output = drive(filled, "start\nedit\nexit\n")
    assert "Unchanged: the draft keeps its text." in output
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "wipe.sh", ': > "$1"'))
    output = drive(filled, "edit\nexit\n")
    assert "The edited text is empty" in output
    draft = filled.store.drafts()[0]
    assert draft.final_text is None and draft.status == "new"


def test_a_missing_editor_is_one_line(filled, monkeypatch):
    monkeypatch.setenv("EDITOR", "no-such-editor-here")
    output = drive(filled, "start\nedit\nexit\n")
    assert "Error: Editor 'no-such-editor-here' not found: set EDITOR" in output


def test_regenerate_keeps_the_older_draft(filled):
    drive(filled, "start\nregenerate\nanswer\nexit\n")
    thread = filled.store.get_state(STATE_KEY)["thread"]
    drafts = filled.store.drafts(thread_id=thread)
    assert len(drafts) == 3
    assert filled.store.get_state(STATE_KEY)["draft"] == drafts[-1].id


def test_the_answerer_is_created_once_per_loop(filled, monkeypatch):
    made = []
    real = type(filled).answerer

    def counting(self, backend=None):
        made.append(backend)
        return real(self, backend)

    monkeypatch.setattr(type(filled), "answerer", counting)
    drive(filled, "start\nnext\nanswer\nnext\nexit\n")
    assert len(made) == 1
    assert len(filled.store.drafts()) == 4


def test_ctrl_c_cancels_a_confirmation_and_the_loop_goes_on(filled, tmp_path):
    text = tmp_path / "reply.md"
    text.write_text("Please allow no-reply@acme.example and ask again.\n")
    output = drive(filled, f"start\nsend {text}\n\x03show\nexit\n")
    assert "Cancelled." in output
    after = output.split("Cancelled.", 1)[1]
    first = filled.store.get_thread(oldest_first(filled)[0])
    assert first.title in after  # `show` ran after the cancelled send
    draft = filled.store.drafts()[0]
    assert draft.status == "new" and draft.sent_to is None


def test_declining_a_send_sends_nothing(filled, tmp_path):
    text = tmp_path / "reply.md"
    text.write_text("Please allow no-reply@acme.example and ask again.\n")
    output = drive(filled, f"start\nsend {text}\nn\nexit\n")
    assert "Not sent." in output
    assert filled.store.drafts()[0].status == "new"


def test_ctrl_d_exits(filled):
    output = drive(filled, "start\n\x04", close=False)  # only Ctrl-D can end this loop
    assert output.rstrip().endswith("come back here.")
    assert filled.store.get_state(STATE_KEY)["thread"] == oldest_first(filled)[0]


def test_restart_resumes_on_the_same_ticket(filled):
    fresh = drive(filled, "exit\n")
    assert "Type start" in fresh
    drive(filled, "start\nnext\nexit\n")
    before = filled.store.get_state(STATE_KEY)
    output = drive(filled, "exit\n")
    assert "Resuming where you were." in output
    second = filled.store.get_thread(oldest_first(filled)[1])
    assert second.title in output
    assert filled.store.get_state(STATE_KEY) == before
    assert len(filled.store.drafts()) == 2  # resuming drafts nothing new


def test_unknown_command_prints_a_hint(filled):
    output = drive(filled, "frobnicate now\nexit\n")
    assert "Unknown command 'frobnicate': type help" in output


def test_commands_that_need_a_ticket_say_how_to_get_one(filled):
    output = drive(filled, "show\nsend\nskip\nexit\n")
    assert output.count("Error: No current ticket: type start") == 3


def test_start_with_nothing_to_answer(workspace):
    output = drive(workspace, "start\nexit\n")
    assert "No open tickets need an answer" in output


@pytest.fixture
def gitlab_ticket(filled, gitlab_server):
    """Issue acme/app#1 on the local GitLab API; its URL."""
    gitlab_server.add_project("acme/app")
    gitlab_server.add_issue(
        "acme/app", "Reset email never arrives", "I asked for a password reset, no email came."
    )
    return f"{gitlab_server.url}/acme/app/-/issues/1"


def test_send_posts_a_gitlab_note_after_confirming(
    filled, gitlab_server, gitlab_ticket, tmp_path, monkeypatch
):
    edited = "Allow the no-reply sender, then ask for a new link."
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, "ed.sh", f"printf '{edited}\\n' > \"$1\""))
    output = drive(filled, f"add {gitlab_ticket}\nedit\nsend\ny\nexit\n")
    notes = gitlab_server.notes("acme/app", 1)
    assert len(notes) == 1
    assert notes[0]["body"].startswith(edited + "\n") and notes[0]["internal"] is False
    draft = filled.store.get_draft(filled.store.get_state(STATE_KEY)["draft"])
    assert draft.status == "sent" and draft.sent_id == str(notes[0]["id"])
    assert draft.sent_to.startswith(gitlab_ticket) and f"Sent: {draft.sent_to}" in output


def test_send_a_file_as_an_internal_note_once(filled, gitlab_server, gitlab_ticket, tmp_path):
    reply = tmp_path / "reply.md"
    reply.write_text("Internal: the customer's mail server drops our sender.\n")
    output = drive(filled, f"add {gitlab_ticket}\nsend --internal {reply}\ny\nsend\nexit\n")
    notes = gitlab_server.notes("acme/app", 1)
    assert len(notes) == 1 and notes[0]["internal"] is True
    assert notes[0]["body"].startswith(reply.read_text().rstrip())
    assert "was already sent" in output
    assert len(gitlab_server.requests_to(r"/notes$", method="POST")) == 1


def test_a_failed_send_is_one_line_and_the_loop_goes_on(
    filled, gitlab_server, gitlab_ticket, tmp_path
):
    reply = tmp_path / "reply.md"
    reply.write_text("Please allow our sender address.\n")
    gitlab_server.fail_next(status=403, retry_after=None, match="/notes", method="POST")
    output = drive(filled, f"add {gitlab_ticket}\nsend {reply}\ny\nhistory\nexit\n")
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in output
    assert "when" in output.split(errors[0], 1)[1]  # `history` ran after the failure
    draft = filled.store.get_draft(filled.store.get_state(STATE_KEY)["draft"])
    assert draft.status != "sent" and draft.error
