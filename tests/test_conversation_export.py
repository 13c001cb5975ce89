"""`dataset export --format conversation`, and `dataset check` on what it writes."""

from __future__ import annotations

import json

from factories import make_thread
from typer.testing import CliRunner

from understudy.cli import app
from understudy.datasets import BuildOptions, build, check_file
from understudy.records import Message
from understudy.store.training import examples


def _filled(workspace):
    labelled = make_thread(1, "Export to CSV breaks accents", "My export shows Ã© instead of é.",
                           [("maria", "Upgrade to 2.3.1,\nwhich fixes the CSV encoder.", True),
                            ("bob", "Still broken on 2.3.1 with Excel.", False),
                            ("maria", "Open it with Data > From Text and pick UTF-8.", True)])
    labelled.labels = ["bug", "export"]
    labelled.messages.insert(1, Message("bot-1", "triage-bot", "Thanks! Labelled ~needs-triage.",
                                        labelled.created_at, kind="reply", is_bot=True))
    plain = make_thread(2, "SSO login fails", "Okta says invalid state after the redirect.",
                        [("maria", "Set SSO_STATE_TTL=600 and clear your cookies, please.", True)])
    for thread in (labelled, plain):
        workspace.store.upsert_thread(thread)
    return workspace


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_conversation_export_writes_the_customer_agent_layout(workspace, tmp_path):
    _filled(workspace)
    build(workspace, BuildOptions(sources=False))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["dataset", "export", "--format", "conversation",
                                      "--output", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    rows = _lines(out / "train.jsonl") + _lines(out / "valid.jsonl")
    assert counts["train"] + counts["valid"] == len(rows) == 3  # one per team turn
    assert not any("triage" in r["prompt"] for r in rows)  # a bot is neither side
    by_prompt = {r["prompt"]: r["completion"] for r in rows}
    second = next(p for p in by_prompt if "Still broken" in p)
    assert second == (
        "Specific information: bug, export\n\n###\n\n"
        "Customer: My export shows Ã© instead of é.\n"
        "Agent: Upgrade to 2.3.1, which fixes the CSV encoder.\n"
        "Customer: Still broken on 2.3.1 with Excel.\nAgent:")
    assert by_prompt[second] == " Open it with Data > From Text and pick UTF-8.\n"
    plain = next(p for p in by_prompt if "Okta" in p)
    assert plain == "Customer: Okta says invalid state after the redirect.\nAgent:"  # no header
    # A thread's turns are on the side its examples were put on by the split.
    splits = {e.thread_id: e.split for e in examples(workspace.store)}
    ids = {t.external_id: t.id for t in workspace.store.threads()}
    for split in ("train", "valid"):
        for row in _lines(out / f"{split}.jsonl"):
            thread = 1 if "Ã©" in row["prompt"] else 2
            assert splits[ids[f"acme/app#{thread}"]] == split


def test_check_knows_the_conversation_rules_and_fixes_them(tmp_path):
    path = tmp_path / "train.jsonl"
    good = {"prompt": "Customer: Where is the export?\nAgent:", "completion": " In Settings.\n"}
    bad = {"prompt": "Customer: And the import?", "completion": "Under Data,\nthen Import."}
    path.write_text("\n".join(json.dumps(r) for r in [good, good | {"prompt": "Customer: "
                                                      "Hi?\nAgent:"}, bad]) + "\n")
    report = check_file(path)
    assert report.format == "conversation"
    rules = {p.rule for p in report.problems}
    assert {"agent_turn_missing", "answer_not_one_line"} <= rules
    assert "separator_missing" not in rules and "stop_missing" not in rules
    check_file(path, fix=True)
    fixed = _lines(path)[2]
    assert fixed == {"prompt": "Customer: And the import?\nAgent:",
                     "completion": " Under Data, then Import.\n"}
    assert {p.rule for p in check_file(path).problems} == {"few_examples"}
