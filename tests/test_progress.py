"""Progress bars: drawn on a terminal's stderr, silent elsewhere, one bar per stage."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from understudy.cli import app
from understudy.cli.progress import progress


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=80), out


def test_bars_show_each_stage_and_its_counts_on_a_terminal():
    console, out = _console(terminal=True)
    with progress("Loading the embedding model", console=console) as bars:
        assert bars.shown
        bars("Embedding knowledge", 3, 7)
        bars.counter("Drafting")(2, 5)
        bars.progress.refresh()
    text = out.getvalue()
    assert "Embedding knowledge" in text and "3/7" in text
    assert "Drafting" in text and "2/5" in text


def test_nothing_is_drawn_off_a_terminal_or_when_quiet():
    for terminal, quiet in ((False, False), (True, True)):
        console, out = _console(terminal)
        with progress("Loading", quiet=quiet, console=console) as bars:
            assert not bars.shown
            bars("Embedding knowledge", 3, 7)
            bars.ticker("Syncing")()
        assert out.getvalue() == ""


def test_lines_said_stay_when_the_bars_go():
    console, out = _console(terminal=False)
    with progress(console=console) as bars:
        bars.say("Saved the adapter")
        bars.stage("Evaluating on held-out threads")
    assert out.getvalue() == "Saved the adapter\n"


def test_a_command_run_off_a_terminal_writes_only_its_result(workspace, home):
    from factories import make_thread

    team = [("support-ana", "Set http.timeout to 120 in config.yml.", True)]
    workspace.store.upsert_thread(make_thread(1, "Login times out", "It hangs.", team))
    result = CliRunner().invoke(app, ["--home", str(home), "index", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout.lstrip().startswith("{") and '"embedded": 1' in result.stdout
    assert result.stderr == ""
