"""`understudy demo` end to end on the bundled sample, through the command line."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from understudy.cli import app
from understudy.demo import SAMPLE_DIR, load_threads, open_tickets
from understudy.errors import InputError
from understudy.text import is_procedural

runner = CliRunner()

# Each answerable open ticket and the past thread(s) that answer it.
ANSWERED_BY = {
    "tallybook/server#75": {"tallybook/server#12"},
    "tallybook/server#77": {"tallybook/server#15"},
    "tallybook/cli#22": {"tallybook/cli#3"},
    "tallybook/server#79": {"tallybook/server#21", "tallybook/server#73"},
    "tallybook/server#81": {"tallybook/server#27"},
    "tallybook/server#83": {"tallybook/server#29"},
}
UNANSWERABLE = {"tallybook/server#85", "tallybook/server#87"}

SAMPLE = load_threads()
BY_URL = {t.url: t for t in SAMPLE}
BY_ID = {t.external_id: t for t in SAMPLE}


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, embedder):
    """The demo run twice on one fresh home: once as a person would, once with --json."""
    home = tmp_path_factory.mktemp("users-home")
    encoded: list[str] = []
    original = embedder.encode

    def counting(texts, *args, **kwargs):
        encoded.extend(texts)
        return original(texts, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNDERSTUDY_HOME", str(home))
        patch.setenv("COLUMNS", "120")
        patch.setattr(embedder, "encode", counting)
        first = run("demo")
        first_encoded = len(encoded)
        encoded.clear()
        second = run("--home", str(home / "demo"), "demo", "--json")
    return {"home": home, "first": first, "first_encoded": first_encoded,
            "second": second, "second_encoded": len(encoded)}


@pytest.fixture(scope="module")
def drafts(runs):
    assert runs["second"].exit_code == 0, runs["second"].output
    return {BY_URL[d["thread_url"]].external_id: d for d in json.loads(runs["second"].stdout)}


def test_the_sample_has_answerable_and_unanswerable_open_tickets():
    assert 36 <= len(SAMPLE) <= 48
    assert {t.external_id for t in open_tickets(SAMPLE)} == set(ANSWERED_BY) | UNANSWERABLE


def test_first_run_shows_every_open_ticket_and_what_to_do_next(runs):
    result = runs["first"]
    assert result.exit_code == 0, result.output
    out = result.output
    demo_home = str(runs["home"] / "demo")
    assert f"Workspace: {demo_home}" in out.replace("\n", "")
    for ticket in set(ANSWERED_BY) | UNANSWERABLE:
        assert ticket in out
    assert "abstained" in out and "confidence" in out
    assert re.search(r"understudy --home \S+ review", out)
    assert runs["first_encoded"] > len(SAMPLE) // 2  # the index was embedded on this run


def test_a_draft_for_every_open_ticket(drafts):
    assert set(drafts) == set(ANSWERED_BY) | UNANSWERABLE


@pytest.mark.parametrize("ticket", sorted(ANSWERED_BY))
def test_answerable_tickets_draw_on_the_thread_that_answered_them(drafts, ticket):
    draft = drafts[ticket]
    assert not draft["abstained"]
    assert draft["confidence"] >= 0.5
    top = draft["sources"][0]
    assert top["kind"] == "reply"
    assert BY_URL[top["url"]].external_id in ANSWERED_BY[ticket]
    # The draft is one of that thread's team replies, not a note about it.
    answer_lines = [m.body.splitlines()[0] for m in BY_URL[top["url"]].messages[1:]
                    if m.is_team and m.kind == "reply" and not is_procedural(m.body)]
    assert any(line in draft["text"] for line in answer_lines)


@pytest.mark.parametrize("ticket", sorted(UNANSWERABLE))
def test_tickets_nothing_answers_are_abstained(drafts, ticket):
    assert drafts[ticket]["abstained"]
    assert drafts[ticket]["confidence"] < 0.5


def _notes():
    """Messages that are not answers: system notes, bot notes, procedural team replies."""
    return [
        m for t in SAMPLE for m in t.messages[1:]
        if m.kind == "system" or m.is_bot or (m.is_team and is_procedural(m.body))
    ]


def test_notes_are_never_used_as_answers(drafts):
    notes = _notes()
    assert sum(m.kind == "system" for m in notes) >= 5
    assert sum(m.is_bot for m in notes) >= 2
    assert sum(m.is_team and m.kind == "reply" for m in notes) >= 4
    for draft in drafts.values():
        paragraphs = {p.strip() for p in draft["text"].split("\n\n")}
        for note in notes:
            assert note.body.strip() not in paragraphs
            if len(note.body) > 40:
                assert note.body.strip() not in draft["text"]
    # Threads answered only by notes ("Duplicate of #12", "closing") are never a source.
    only_notes = {
        t.url for t in SAMPLE
        if any(m in notes for m in t.messages) and not any(
            m.is_team and m.kind == "reply" and not m.is_bot and not is_procedural(m.body)
            for m in t.messages[1:])
    }
    assert only_notes
    used = {s["url"] for d in drafts.values() for s in d["sources"]}
    assert not used & only_notes


def test_second_run_reuses_everything(runs, drafts):
    assert runs["second_encoded"] == 0  # nothing re-embedded, no ticket drafted again
    first_ids = {int(n) for n in re.findall(r"Draft (\d+) ·", runs["first"].output)}
    assert {d["id"] for d in drafts.values()} == first_ids


def test_json_shape(drafts):
    for draft in drafts.values():
        assert {"id", "thread_id", "thread_url", "thread_title", "text", "backend",
                "confidence", "abstained", "sources", "status"} <= set(draft)
        assert draft["backend"] == "retrieval" and draft["status"] == "new"
        assert draft["thread_title"] == BY_URL[draft["thread_url"]].title
        assert draft["sources"]
        for source in draft["sources"]:
            assert {"kind", "key", "url", "title", "score"} <= set(source)
            assert source["kind"] in ("reply", "passage")
        scores = [s["score"] for s in draft["sources"]]
        assert scores == sorted(scores, reverse=True)


def test_sample_docs_are_in_the_knowledge_index(runs, drafts):
    passages = [s for d in drafts.values() for s in d["sources"] if s["kind"] == "passage"]
    assert passages
    assert all(s["url"].startswith("https://docs.tallybook.example/") for s in passages)
    assert all((SAMPLE_DIR / "docs" / s["url"].split("/")[-1].split("#")[0]).exists()
               for s in passages)


def test_a_broken_threads_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "threads.json"
    bad.write_text("[{\"title\": 1}")
    with pytest.raises(InputError, match="JSON list of threads"):
        load_threads(bad)


def test_home_that_is_a_file_is_a_usage_error(tmp_path):
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    result = run("demo", "--home", str(file))
    assert result.exit_code == 2
    assert "is a file: give a folder" in result.output


# The French tickets and the English threads that answer them. With MiniLM (the runs above)
# they are not part of the demo at all: test_a_draft_for_every_open_ticket holds only English.
FRENCH = {"tallybook/server#89": "tallybook/server#38",
          "tallybook/server#91": "tallybook/server#57"}


@pytest.mark.slow
def test_with_e5_the_demo_finds_english_answers_for_french_tickets_and_still_abstains(
        tmp_path, monkeypatch):
    """e5's scores sit between about 0.7 and 1.0: under the SemEval default (fitted on MiniLM's)
    every draft read 0.96 or more, the unanswerable tickets included. The demo fits the
    sample's own calibration for it, so those abstain; each French ticket's nearest past answer
    is its English twin, whether or not the fit is sure enough to answer with it."""
    from understudy.demo import FRENCH_TICKETS
    from understudy.judge import load_calibration

    monkeypatch.setenv("COLUMNS", "120")
    assert {t.external_id for t in load_threads(FRENCH_TICKETS)} == set(FRENCH)
    home = tmp_path / "demo"
    result = run("--home", str(home), "demo", "--embedding-model", "multilingual-e5-small",
                 "--json")
    assert result.exit_code == 0, result.output
    assert load_calibration(home, "multilingual-e5-small").name == "workspace"
    by_url = {**BY_URL, **{t.url: t for t in load_threads(FRENCH_TICKETS)}}
    drafts = {by_url[d["thread_url"]].external_id: d for d in json.loads(result.stdout)}
    assert set(drafts) == set(ANSWERED_BY) | UNANSWERABLE | set(FRENCH)
    assert all(drafts[t]["abstained"] for t in UNANSWERABLE)
    for ticket, twin in FRENCH.items():
        draft = drafts[ticket]
        assert draft["language"] == "fr"
        top = draft["sources"][0]
        assert top["kind"] == "reply" and BY_URL[top["url"]].external_id == twin
        if not draft["abstained"]:
            reply = next(m.body for m in BY_ID[twin].messages[1:] if m.is_team)
            assert reply.splitlines()[0] in draft["text"]  # the team's English reply
    assert {d["language"] for t, d in drafts.items() if t not in FRENCH} == {"en"}
    shown = run("--home", str(home), "demo")  # the setting stays: shown again, not redrafted
    assert "tallybook/server#89  (in French)" in shown.output
    assert "two of the open tickets are written in French" in shown.output.replace("\n", " ")
    assert "Calibration:" not in shown.output  # fitted once, kept


def test_an_unknown_demo_encoder_is_one_line(tmp_path):
    result = run("--home", str(tmp_path / "demo"), "demo", "--embedding-model", "bert")
    assert result.exit_code != 0
    assert "Unknown embedding_model 'bert'" in result.output
    assert "Traceback" not in result.output
