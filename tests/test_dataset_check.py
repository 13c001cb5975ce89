"""Each rule of the legacy `prepare_data` and of the chat format finds its problem and fixes it."""

from __future__ import annotations

import json

import pytest

from understudy.datasets import check_file
from understudy.datasets.check import MIN_EXAMPLES, check_records, default_epochs
from understudy.prompts import SEPARATOR, STOP

MODEL = "davinci-002"


def good(n: int, count: int = MIN_EXAMPLES) -> list[dict]:
    """`count` clean prompt/completion records, each different."""
    return [{"prompt": f"{i}: the export of report {i} fails.{SEPARATOR}",
             "completion": f" {i} needs a rerun with --force.{STOP}"} for i in range(n, n + count)]


def rules(records: list, model: str = MODEL, fix: bool = False) -> tuple[list[str], list]:
    problems, fixed = check_records(records, model, fix=fix)
    return [p.rule for p in problems], fixed


def test_clean_records_pass():
    assert rules(good(0)) == ([], good(0))


def test_too_few_examples():
    found, _ = rules(good(0, 5))
    assert found == ["few_examples"]


def test_missing_fields_are_dropped():
    found, fixed = rules(good(0) + [{"prompt": "only a prompt"}, "not an object"], fix=True)
    assert found[0] == "missing_fields" and fixed == good(0)


def test_additional_fields_are_removed():
    records = [{**r, "label": "x"} for r in good(0)]
    found, fixed = rules(records, fix=True)
    assert found == ["extra_fields"] and fixed == good(0)


def test_empty_prompts_and_completions_are_dropped():
    records = good(0) + [{"prompt": "   ", "completion": " x END"},
                         {"prompt": "a" + SEPARATOR, "completion": "  \n"}]
    found, fixed = rules(records, fix=True)
    assert found == ["empty_fields"] and fixed == good(0)


def test_duplicates_are_removed():
    found, fixed = rules(good(0) + good(0, 3), fix=True)
    assert found == ["duplicates"] and fixed == good(0)


def test_examples_longer_than_the_context_are_dropped(monkeypatch):
    monkeypatch.setenv("UNDERSTUDY_CONTEXT", "30")
    records = good(0) + [{"prompt": "word " * 40 + SEPARATOR, "completion": " ok" + STOP}]
    found, fixed = rules(records, fix=True)
    assert found == ["too_long"] and fixed == good(0)


def test_missing_separator_is_appended():
    records = [{**r, "prompt": r["prompt"].removesuffix(SEPARATOR)} for r in good(0)]
    found, fixed = rules(records, fix=True)
    assert found == ["separator_missing"] and fixed == good(0)


def test_separator_inside_a_prompt_is_neutralised():
    records = good(0)
    records[3] = {**records[3], "prompt": "Logs:\n###\nmore" + records[3]["prompt"]}
    found, fixed = rules(records, fix=True)
    assert found == ["separator_inside"]
    assert fixed[3]["prompt"].count("###") == 1 and fixed[3]["prompt"].endswith(SEPARATOR)
    assert rules(fixed) == ([], fixed)


def test_a_long_common_prompt_prefix_is_reported_but_left():
    records = [{**r, "prompt": "Classify this support ticket please: " + r["prompt"]}
               for r in good(0)]
    found, fixed = rules(records, fix=True)
    assert found == ["common_prompt_prefix"] and fixed == records


def test_leading_whitespace_in_prompts_is_stripped():
    records = good(0)
    records[0] = {**records[0], "prompt": "  " + records[0]["prompt"]}
    found, fixed = rules(records, fix=True)
    assert found == ["prompt_start"] and fixed == good(0)


def test_completions_start_with_exactly_one_space():
    records = [{**r, "completion": r["completion"].lstrip()} for r in good(0)]
    records[1] = {**records[1], "completion": "   " + records[1]["completion"]}
    found, fixed = rules(records, fix=True)
    assert found == ["completion_start"] and fixed == good(0)


def test_a_common_completion_prefix_is_reported():
    records = [{**r, "completion": " Answer: " + r["completion"].lstrip()} for r in good(0)]
    assert rules(records[:1] + good(1, 99))[0] == []
    found, _ = rules(records, fix=True)
    assert found == ["common_completion_prefix"]


def test_missing_stop_sequence_is_appended():
    records = [{**r, "completion": r["completion"].removesuffix(STOP)} for r in good(0)]
    found, fixed = rules(records, fix=True)
    assert found == ["stop_missing"] and fixed == good(0)


def test_stop_sequence_inside_a_completion_is_neutralised():
    records = good(0)
    records[2] = {**records[2], "completion": " Call the END" + "POINT again." + STOP}
    found, fixed = rules(records, fix=True)
    assert found == ["stop_inside"]
    assert fixed[2]["completion"].count(STOP) == 1 and fixed[2]["completion"].endswith(STOP)


def test_mostly_upper_case_text_is_reported():
    records = [{"prompt": r["prompt"].upper(), "completion": r["completion"]} for r in good(0)]
    found, _ = rules(records)
    assert found == ["uppercase"]


def test_secrets_are_masked():
    records = good(0)
    records[4] = {**records[4], "completion": " Use ghp_" + "a1" * 20 + " as token." + STOP}
    found, fixed = rules(records, fix=True)
    assert found == ["secrets"]
    assert "ghp_" not in fixed[4]["completion"] and "[REDACTED:github_token]" in fixed[4][
        "completion"]


def chat(i: int) -> dict:
    return {"messages": [{"role": "system", "content": "You draft replies."},
                         {"role": "user", "content": f"Ticket {i}: export fails."},
                         {"role": "assistant", "content": f"Rerun export {i}."}]}


def test_chat_format_rules():
    records = [chat(i) for i in range(MIN_EXAMPLES)]
    assert rules(records, "gpt-4o-mini") == ([], records)
    broken = records + [
        {"messages": [{"role": "user", "content": "no answer"}]},
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "x", "mood": 1},
                      {"role": "assistant", "content": "y"}]},
        {"messages": []},
    ]
    problems, fixed = check_records(broken, "gpt-4o-mini", fix=True)
    assert [p.rule for p in problems] == ["chat_format"] and problems[0].count == 5
    for kind in ("example_missing_assistant_message", "unrecognized_role", "message_missing_key",
                 "message_unrecognized_key", "missing_messages_list"):
        assert kind in problems[0].message
    assert fixed == records


def test_chat_whitespace_is_stripped():
    records = [chat(i) for i in range(MIN_EXAMPLES)]
    records[0]["messages"][2]["content"] = "  padded answer \n"
    found, fixed = rules(records, "gpt-4o-mini", fix=True)
    assert found == ["whitespace"] and fixed[0]["messages"][2]["content"] == "padded answer"


def test_default_epochs_follow_openai():
    assert default_epochs(10) == 10 and default_epochs(200) == 3 and default_epochs(20_000) == 1


def test_check_file_fixes_in_place(tmp_path):
    path = tmp_path / "train.jsonl"
    records = good(0) + good(0, 2)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = check_file(path, MODEL, fix=True)
    assert [p.rule for p in report.problems] == ["duplicates"]
    assert report.problems[0].message.startswith("fixed: ")
    assert check_file(path, MODEL).problems == []
    assert report.estimate.examples == MIN_EXAMPLES and report.estimate.cost == pytest.approx(
        report.estimate.tokens * 3 * 6.00 / 1e6)
    path.write_text("{not json\n")
    with pytest.raises(Exception, match="is not JSON"):
        check_file(path, MODEL)
