"""Small builders of records for tests."""

from __future__ import annotations

from understudy.records import Message, Thread


def make_thread(
    number: int,
    title: str,
    question: str,
    replies: list[tuple[str, str, bool]] = (),
    state: str = "closed",
    created_at: str | None = None,
    project: str = "acme/app",
    source: str = "gitlab",
) -> Thread:
    """A thread; each reply is (author, body, is_team)."""
    stamp = created_at or f"2024-01-{number % 28 + 1:02d}T10:00:00Z"
    messages = [Message("q", "customer", question, stamp, kind="question")]
    for position, (author, body, team) in enumerate(replies, start=1):
        messages.append(
            Message(str(number * 100 + position), author, body, stamp.replace("T10", "T11"),
                    kind="reply", is_team=team)
        )
    return Thread(
        source=source,
        external_id=f"{project}#{number}",
        url=f"https://gitlab.example.com/{project}/-/issues/{number}",
        title=title,
        state=state,
        created_at=stamp,
        updated_at=stamp,
        project=project,
        messages=messages,
    )


def run_cli(monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run the installed entry point as a user would; returns (exit code, stdout, stderr)."""
    import sys

    from typer.testing import CliRunner

    from understudy.cli import main

    monkeypatch.setattr(sys, "argv", ["understudy", *args])
    with CliRunner().isolation() as streams:
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
        sys.stdout.flush()  # print() writes through a buffer that getvalue() does not see
        sys.stderr.flush()
        out, err = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return code, out, err
