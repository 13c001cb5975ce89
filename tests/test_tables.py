"""At 80 columns, tables keep every value a user acts on whole, and help speaks README words."""

from __future__ import annotations

import json

import pytest
from factories import make_thread
from rich.console import Console
from typer.testing import CliRunner

from understudy.cli import app
from understudy.cli.tables import label, number, print_table, value
from understudy.records import Draft, Model
from understudy.store.training import save_model

LONG_TITLE = ("Exporting invoices to PDF leaves the customer address block empty when the "
              "workspace uses a custom template with right-to-left scripts")
REMOTE_ID = "ft:gpt-4o-mini-2024-07-18:tallybook-support::AbCdEf12"


@pytest.fixture(autouse=True)
def eighty(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _run(home, *args: str) -> str:
    result = CliRunner().invoke(app, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _rendered(columns, rows, width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    print_table(console, columns, rows)
    return console.export_text()


def test_values_stay_whole_and_labels_wrap():
    text = _rendered([number("id"), value("model"), label("title")],
                     [["12345", REMOTE_ID, LONG_TITLE]])
    assert REMOTE_ID in text and "12345" in text
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
    assert " ".join(text.split()).count("right-to-left scripts") == 1


def test_labels_move_to_footnotes_when_values_leave_no_room():
    wide = "https://gitlab.example.com/tallybook/server/-/issues/" + "1" * 20
    text = _rendered([value("url"), value("model"), label("title")],
                     [[wide, "gpt-4o-mini", "Login loops"]], width=100)
    assert wide in text and "[1]" in text and "[1] Login loops" in text


def test_rows_become_blocks_when_the_values_alone_are_too_wide():
    path = "/srv/understudy/workspaces/tallybook-support/models/retrieval-20261204-1"
    text = _rendered([value("name"), value("path"), value("remote")],
                     [["retrieval-20261204-1", path, REMOTE_ID]])
    assert path in text and REMOTE_ID in text and "path: " in text


def test_drafts_have_a_header_and_whole_ticket_references(workspace, home):
    thread = make_thread(75, LONG_TITLE, "The address block is empty.", project="tallybook/server")
    workspace.store.upsert_thread(thread)
    stored = workspace.store.find_thread(thread.source, thread.external_id)
    workspace.store.save_draft(Draft(thread_id=stored.id, text="Check the template.",
                                     backend="retrieval", confidence=0.97, thread_url=stored.url,
                                     thread_title=stored.title))
    text = _run(home, "drafts")
    header = text.splitlines()[0].split()
    assert header == ["draft", "status", "confidence", "ticket", "title"]
    assert "tallybook/server#75" in text and "0.97" in text
    assert "right-to-left" in text and "…" not in text
    assert json.loads(_run(home, "drafts", "--json"))[0]["thread_url"] == stored.url


def test_models_show_the_whole_model_id(workspace, home):
    save_model(workspace.store, Model(
        "openai-20261204-1", "openai", base_model="gpt-4o-mini-2024-07-18", remote_id=REMOTE_ID,
        metrics={"answer_f1": 0.4132, "mrr": 0.7021,
                 "baseline_metrics": {"answer_f1": 0.3311, "mrr": 0.6012}},
        is_default=True))
    text = _run(home, "models")
    assert REMOTE_ID in text and "openai-20261204-1" in text
    assert "answer_f1 0.4132" in " ".join(text.split())
    assert "…" not in text


COMMANDS = [["--help"], ["answer", "--help"], ["dataset", "build", "--help"],
            ["jobs", "synth-qa", "--help"], ["eval", "backtest", "--help"], ["train", "--help"],
            ["sync", "gitlab", "--help"], ["serve", "--help"], ["send", "--help"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_help_names_values_in_readme_words(home, args):
    text = _run(home, *args)
    for typed in ("<bool>", "<str>", "<int>", "<list[str]>", "<int range>", "[x>=", "<path>"):
        assert typed not in text


def _words(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_help_puts_ranges_in_words(home):
    text = _words(_run(home, "jobs", "synth-qa", "--help"))
    assert "--questions N Questions to ask for each passage (1 to 20)." in text
    assert "(at least 1)" in text
    gitlab = _words(_run(home, "sync", "gitlab", "--help"))
    assert "--project PATH" in gitlab and "--since DATE" in gitlab


def test_eval_bench_keeps_every_metric_value_whole(home, tmp_path):
    from test_eval_bench import TINY_FAQ

    path = tmp_path / "stackfaq-dev.json"
    path.write_text(json.dumps(TINY_FAQ))
    text = _run(home, "eval", "bench", "stackfaq", str(path))
    figures = json.loads(_run(home, "eval", "bench", "stackfaq", str(path), "--json"))
    assert "…" not in text
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())
    shown = text.split()
    for system in figures["systems"].values():
        for name, metric in system.items():
            if name != "rankings":
                assert f"{metric:.2f}" in shown
    assert "nDCG@10" in shown
