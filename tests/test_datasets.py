"""Training examples: built from replies and edits, split by thread, exported in three formats."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from factories import make_thread
from typer.testing import CliRunner

from understudy.backends.openai import source_item
from understudy.cli import app
from understudy.datasets import (
    BuildOptions,
    build,
    check_file,
    check_workspace,
    export_workspace,
)
from understudy.datasets.formats import completion_prompt
from understudy.datasets.split import assign_splits, group_key
from understudy.prompts import (
    TEAM_VOICE,
    Rules,
    answering_rules,
    build_completion_prompt,
    build_messages,
    rules_for,
)
from understudy.records import Draft, Example
from understudy.store.training import examples

TOPICS = [
    ("SSO login fails with invalid state", "Okta SSO redirect says invalid state.",
     "Set SSO_STATE_TTL=600 in the config and clear the browser cookies, then sign in again."),
    ("CSV export garbles accents", "Exported CSV shows Ã© instead of é in Excel.",
     "Upgrade to 2.3.1, which writes a UTF-8 byte order mark so Excel reads the accents."),
    ("Backups fail on S3", "Nightly backup to S3 stops with AccessDenied.",
     "Give the backup role s3:PutObject on the bucket and run 'tally backup --check' to test."),
    ("API returns 429", "Our sync script gets HTTP 429 from the API every few minutes.",
     "The API allows 600 requests a minute; honour the Retry-After header and batch writes."),
    ("Webhook never arrives", "The invoice webhook does not reach our server.",
     "Webhooks need a public HTTPS URL; check the delivery log under Settings > Webhooks."),
]


def fill(store, count: int) -> list:
    """`count` answered threads over a handful of topics, one per day, with noise replies."""
    threads = []
    for number in range(1, count + 1):
        title, question, answer = TOPICS[number % len(TOPICS)]
        thread = make_thread(
            number, f"{title} (case {number})", f"{question} Case {number}.",
            [("maria", f"{answer} (ticket {number})", True), ("bob", "Thanks, that works!", False),
             ("maria", "Closing this, thanks.", True)],
            created_at=f"2024-{1 + number // 28:02d}-{1 + number % 28:02d}T10:00:00Z",
            project="acme/app" if number % 4 else "acme/docs",
        )
        store.upsert_thread(thread)
        threads.append(thread)
    return threads


@pytest.fixture
def filled(workspace):
    fill(workspace.store, 12)
    return workspace


def test_each_substantive_team_reply_becomes_an_example(filled):
    report = build(filled)
    found = examples(filled.store)
    assert report.total == len(found) == 12  # one real answer per thread; thanks are skipped
    assert report.skipped["procedural"] == 12
    for example in found:
        thread = filled.store.get_thread(example.thread_id)
        reply = next(m for m in thread.messages if m.id == example.message_id)
        assert example.kind == "reply" and example.completion == reply.body.strip()
        assert [m["role"] for m in example.messages] == ["system", "user"]
        assert thread.title in example.messages[1]["content"]
        assert reply.body not in example.messages[1]["content"]  # only the thread so far
        # Sources are single replies of threads that existed before the reply, never of its
        # own thread, and written before it.
        for key in example.source["sources"]:
            assert key.startswith("reply:")
            [(other, source)] = [(t, m) for t in filled.store.threads() for m in t.messages
                                 if f"reply:{m.id}" == key]
            assert other.id != thread.id and other.created_at < reply.created_at
            assert source.is_team and source.created_at < reply.created_at
    first = min(found, key=lambda e: e.source["at"])
    assert first.source["sources"] == []
    assert "Sources: none were found." in first.messages[1]["content"]


def test_training_prompt_is_the_answering_prompt_with_the_rules_its_reply_obeys(filled,
                                                                             openai_server):
    build(filled)
    example = max(examples(filled.store), key=lambda e: e.source["at"])
    thread = filled.store.get_thread(example.thread_id)
    position = next(n for n, m in enumerate(thread.messages) if m.id == example.message_id)
    evidence = filled.answerer().prompt_evidence(thread, before=example.source["at"])
    items = [source_item(e) for e in evidence]
    assert [i.key for i in items] == example.source["sources"] and items
    # The team's reply neither cites nor declines, so its prompt asks for neither; it asks for
    # the language the reply is written in.
    rules = rules_for(example.completion)
    assert rules == replace(TEAM_VOICE, language="en")
    assert "[1], [2]" not in example.messages[0]["content"]
    assert "I don't know" not in example.messages[0]["content"]
    assert build_messages(thread, items, upto=position, rules=rules) == example.messages
    assert completion_prompt(example) == build_completion_prompt(thread, items, upto=position,
                                                                 rules=rules)
    # The openai backend answers that ticket, as it stood then, with the answering rules.
    filled.settings.set("low_confidence", "mark")
    thread.messages = thread.messages[:position]
    filled.answerer("openai").draft(thread, before=example.source["at"], save=False)
    [request] = openai_server.calls("/v1/chat/completions")
    sent = request["json"]["messages"]
    assert sent == build_messages(thread, items, upto=position, rules=answering_rules(thread))
    # Same builder: the sources and the ticket are the same bytes, only the rules differ.
    assert sent[1]["content"].rsplit("\n", 1)[0] == example.messages[1]["content"].rsplit(
        "\n", 1)[0]


def test_a_prompt_asks_to_cite_or_decline_only_where_the_team_did(workspace):
    replies = {
        1: "I don't know what causes this yet; we are reading the crash logs now.",
        2: "This is covered in the upgrade notes [1], section two, with the exact flags.",
        3: "Set SSO_STATE_TTL=600 and clear your cookies, then sign in again.",
    }
    for number, reply in replies.items():
        workspace.store.upsert_thread(make_thread(number, f"Case {number}", "It breaks.",
                                                  [("maria", reply, True)]))
    build(workspace, BuildOptions(sources=False))
    found = {e.completion: e.messages for e in examples(workspace.store)}
    declined, cites, plain = (found[replies[n]] for n in (1, 2, 3))
    assert "reply exactly: I don't know" in declined[0]["content"]
    assert "Cite every source" not in declined[0]["content"]
    assert "Cite every source" in cites[0]["content"]
    assert cites[1]["content"].endswith("citing the sources you use.")
    assert "I don't know" not in cites[0]["content"]
    assert plain == build_messages(workspace.store.get_thread(
        next(t.id for t in workspace.store.threads() if t.title == "Case 3")), [], upto=1,
        rules=Rules(cite=False, decline=False, language="en"))


def test_options_choose_team_dates_length_projects_and_sources(filled):
    as_team = build(filled, BuildOptions(team=["bob"], min_chars=5))
    assert as_team.total == 0 and as_team.skipped == {"procedural": 12}  # bob only thanks
    assert build(filled, BuildOptions(team=["maria"])).total == 12
    assert build(filled, BuildOptions(since="2024-01-05", until="2024-01-09")).total == 4
    assert build(filled, BuildOptions(projects=["acme/docs"])).total == 3
    report = build(filled, BuildOptions(min_chars=1000))
    assert report.total == 0 and report.skipped["too short"] == 12
    build(filled, BuildOptions(sources=False))
    assert all(e.source["sources"] == [] for e in examples(filled.store))


def test_split_is_deterministic_and_grouped_by_thread(filled):
    filled.store.upsert_thread(make_thread(
        99, "Two answers", "Question with two answers.",
        [("maria", "The first long answer to this question, with details.", True),
         ("maria", "A second long answer to the same question, with more.", True)]))
    build(filled)
    first = {e.id: e.split for e in examples(filled.store)}
    build(filled)
    again = examples(filled.store)
    assert sorted(first.values()) == sorted(e.split for e in again)
    by_thread: dict[int, set[str]] = {}
    for example in again:
        by_thread.setdefault(example.thread_id, set()).add(example.split)
    assert all(len(splits) == 1 for splits in by_thread.values())
    assert {"train", "valid"} == {e.split for e in again}
    few = [Example("reply", [], "x", thread_id=n, source={"thread": f"t{n}"}) for n in (1, 2)]
    assign_splits(few, 0.0001)
    assert sorted(e.split for e in few) == ["train", "valid"]
    assert group_key(few[0]) != group_key(few[1])


def test_a_sent_edit_becomes_an_edit_example_and_its_synced_note_is_not_repeated(filled):
    thread = filled.store.find_thread("gitlab", "acme/app#3")
    draft = filled.store.save_draft(Draft(thread.id, "A draft nobody liked.", "retrieval"))
    draft.final_text = "Reviewed answer: restart the worker, then rerun the export job twice."
    draft.status = "sent"
    filled.store.save_draft(draft)
    thread.messages.append(thread.messages[1].__class__(
        "900", "maria", f"{draft.final_text}\n\n<!-- understudy-draft:{thread.id}:{draft.id} -->",
        "2030-01-01T00:00:00Z", kind="reply", is_team=True))
    filled.store.upsert_thread(thread)
    report = build(filled)
    edits = examples(filled.store, kind="edit")
    assert [e.completion for e in edits] == [draft.final_text]
    assert edits[0].source["edited"] and edits[0].draft_id == draft.id
    assert report.skipped["sent draft"] == 1
    assert all(draft.final_text not in e.completion for e in examples(filled.store, kind="reply"))


def test_secrets_are_masked_before_they_reach_a_training_file(filled, tmp_path):
    filled.store.upsert_thread(make_thread(
        50, "Token leaked", "My token glpat-abcdefghijklmnopqrstuvwxyz12 stopped working.",
        [("maria", "Revoke it and mail ops@example.com; use password=hunter2xyz locally.", True)]))
    build(filled)
    export_workspace(filled, "chat", tmp_path / "out")
    text = (tmp_path / "out" / "train.jsonl").read_text() + (
        tmp_path / "out" / "valid.jsonl").read_text()
    assert "glpat-abcdef" not in text and "ops@example.com" not in text
    assert "hunter2xyz" not in text and "[REDACTED:" in text


@pytest.fixture
def hundred(workspace):
    fill(workspace.store, 130)
    build(workspace, BuildOptions(sources=False))  # sources are covered above; this is size
    return workspace


def test_exports_load_with_datasets_and_pass_the_checks(hundred, tmp_path):
    datasets = pytest.importorskip("datasets")
    for fmt in ("chat", "completion", "hf"):
        counts = export_workspace(hundred, fmt, tmp_path / fmt)
        assert counts["train"] + counts["valid"] == 130 and counts["train"] >= 100
        files = {s: str(tmp_path / fmt / f"{s}.jsonl") for s in ("train", "valid")}
        loaded = datasets.load_dataset("json", data_files=files)
        assert loaded["train"].num_rows == counts["train"]
        columns = {"chat": ["messages"], "completion": ["completion", "prompt"],
                   "hf": ["completion", "prompt"]}[fmt]
        assert sorted(loaded["train"].column_names) == columns
    for fmt in ("chat", "completion"):
        lines = [json.loads(x) for x in (tmp_path / fmt / "train.jsonl").read_text().splitlines()]
        model = "davinci-002" if fmt == "completion" else "gpt-4o-mini"
        report = check_file(tmp_path / fmt / "train.jsonl", model)
        assert report.problems == [] and report.format == fmt
        assert report.estimate.examples == len(lines)


def test_check_of_the_store_estimates_tokens_and_cost(hundred):
    report = check_workspace(hundred, "gpt-4o-mini", epochs=2)
    assert report.problems == []
    estimate = report.estimate
    assert estimate.tokens > 0 and estimate.epochs == 2
    assert estimate.cost == pytest.approx(estimate.tokens * 2 * 3.00 / 1e6)
    unknown = check_workspace(hundred, "my-own-model")
    assert unknown.estimate.cost is None and unknown.estimate.epochs == 3


def test_dataset_commands(filled, tmp_path):
    runner = CliRunner()
    done = runner.invoke(app, ["dataset", "build", "--kind", "replies", "--json"],
                         catch_exceptions=False)
    assert done.exit_code == 0 and json.loads(done.output)["examples"] == 12
    checked = runner.invoke(app, ["dataset", "check", "--json"], catch_exceptions=False)
    result = json.loads(checked.output)
    assert [p["rule"] for p in result["problems"]] == ["few_examples"]
    assert result["estimate"]["examples"] == sum(
        e.split == "train" for e in examples(filled.store))
    shown = runner.invoke(app, ["dataset", "check"], catch_exceptions=False)
    words = " ".join(shown.output.split())
    assert "Fix: sync more threads" in words and "trained tokens" in words
    out = tmp_path / "export"
    done = runner.invoke(app, ["dataset", "export", "--format", "completion", "--output",
                               str(out)], catch_exceptions=False)
    assert done.exit_code == 0 and (out / "train.jsonl").exists() and (out / "valid.jsonl").exists()
    bad = runner.invoke(app, ["dataset", "export", "--format", "xml", "--output", str(out)])
    assert bad.exit_code == 2 and "use one of chat, completion, hf" in bad.output
    bad = runner.invoke(app, ["dataset", "build", "--kind", "tweets"])
    assert bad.exit_code == 2 and "Unknown example kind 'tweets'" in bad.output


def test_commands_on_an_empty_workspace_say_what_to_run(workspace, tmp_path):
    runner = CliRunner()
    for args in (["dataset", "check"], ["dataset", "export", "--format", "chat", "--output",
                                        str(tmp_path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and "understudy dataset build" in result.output
