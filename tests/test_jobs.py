"""The language-model batch jobs against a local OpenAI-compatible server: synth-qa and notes."""

from __future__ import annotations

import json

import pytest
from openai_server import chat_prompt_tokens
from typer.testing import CliRunner

from understudy.cli import app
from understudy.jobs import AnnotateCode, SynthQA
from understudy.jobs.annotate_code import parse_note
from understudy.jobs.base import chat_tokens
from understudy.jobs.synth_qa import parse_answer, parse_questions, state_key
from understudy.llm import client_for, cost
from understudy.records import Passage, Snippet
from understudy.store.training import examples

MODEL = "gpt-4o-mini"
CHAT = "/v1/chat/completions"
BACKUP = Passage("docs", "backups.md", "Restoring a backup",
                 "Run `acme restore --from FILE` to restore a nightly backup. Backups are kept "
                 "for 30 days in the backups folder.", "https://docs.example.com/backups")
SSO = Passage("docs", "sso.md", "Single sign-on",
              "Turn on SAML single sign-on under Admin > Security. Users keep their roles.",
              "https://docs.example.com/sso")
LIMITS = Passage("docs", "limits.md", "Upload limits",
                 "Uploads are limited to 2 GB per file; larger files are refused with error 413.",
                 "https://docs.example.com/limits")
RETRY = Snippet("code", "acme/http.py", "fetch_with_retry", "python", "function",
                "def fetch_with_retry(url, tries=3):\n    for n in range(tries):\n"
                "        try:\n            return get(url)\n        except Timeout:\n"
                "            sleep(2 ** n)\n    raise GiveUp(url)\n",
                "Fetch a URL, retrying timeouts.", start_line=12, end_line=19)
PARSE = Snippet("code", "acme/config.py", "load_config", "python", "function",
                "def load_config(path):\n    return toml.load(path)\n", "Read settings.",
                start_line=3, end_line=4)


def questions(*texts: str) -> str:
    return json.dumps({"questions": list(texts)})


def answer(text: str) -> str:
    return json.dumps({"answer": text})


UNANSWERABLE = json.dumps({"unanswerable": True})


@pytest.fixture
def client(ws, openai_server):
    """A client that does not sleep between retries."""
    made = client_for(ws, "openai", MODEL)
    made.sleep = lambda seconds: None
    return made


def add(ws, *records) -> None:
    for record in records:
        if isinstance(record, Passage):
            ws.store.upsert_passage(Passage(**{**record.__dict__, "id": None}))
        else:
            ws.store.upsert_snippet(Snippet(**{**record.__dict__, "id": None}))


def asked(server, text: str) -> list[dict]:
    """The chat requests whose messages mention `text`."""
    return [r for r in server.calls(CHAT)
            if any(text in m["content"] for m in r["json"]["messages"])]


def test_answered_questions_become_synthetic_examples_and_unanswerable_ones_are_dropped(
        ws, client, openai_server):
    add(ws, BACKUP)
    openai_server.enqueue(
        "```json\n" + questions("How do I restore a backup?", "Can I restore to another "
                                "region?") + "\n```",
        answer("Run `acme restore --from FILE` [1]. Token sk-abc123def456ghi789jkl012mno."),
        UNANSWERABLE,
    )
    report = SynthQA(ws, MODEL, questions=2, client=client).run()
    assert report.finished == 1 and report.stopped is None
    assert report.counts["kept"] == 1 and report.counts["unanswerable"] == 1
    assert report.calls == len(openai_server.calls(CHAT)) == 3
    first = openai_server.calls(CHAT)[0]["json"]["messages"]
    assert BACKUP.text in first[-1]["content"] and "2 different questions" in first[-1]["content"]
    [example] = examples(ws.store, kind="synthetic")
    assert example.completion.startswith("Run `acme restore --from FILE` [1].")
    assert "sk-abc123def456ghi789jkl012mno" not in example.completion  # masked for training
    assert "How do I restore a backup?" in example.messages[-1]["content"]
    assert BACKUP.text in example.messages[-1]["content"]  # the passage is the source
    assert example.source["question"] == "How do I restore a backup?"


def test_a_question_already_kept_for_another_passage_is_dropped_without_a_call(
        ws, client, openai_server):
    add(ws, BACKUP, SSO)
    openai_server.enqueue(
        questions("How do I restore a backup?"), answer("Use acme restore [1]."),
        questions("How do I restore a backup", "How do I turn on single sign-on?"),
        answer("Under Admin > Security [1]."),
    )
    report = SynthQA(ws, MODEL, questions=2, client=client).run()
    assert report.counts["duplicate"] == 1 and report.counts["kept"] == 2
    assert len(openai_server.calls(CHAT)) == 4  # no answer asked for the copy
    kept = sorted(e.source["question"] for e in examples(ws.store, kind="synthetic"))
    assert kept == ["How do I restore a backup?", "How do I turn on single sign-on?"]


def test_the_estimate_counts_the_real_prompts_and_prices_them(ws, client, openai_server):
    add(ws, BACKUP, SSO)
    job = SynthQA(ws, MODEL, questions=2, client=client)
    estimate = job.estimate()
    assert (estimate.items, estimate.done, estimate.calls) == (2, 0, 2 * (1 + 2))
    assert estimate.cost == pytest.approx(cost(MODEL, estimate.prompt_tokens,
                                               estimate.completion_tokens)) and estimate.priced
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"))
    SynthQA(ws, MODEL, questions=2, client=client, limit=1).run()
    [sent] = [r for r in openai_server.calls(CHAT) if "different questions" in
              r["json"]["messages"][-1]["content"]]
    # The question prompt's estimate is what the server bills for it.
    passage = ws.store.passages()[0]
    assert chat_tokens(job.question_messages(passage), MODEL) == \
        chat_prompt_tokens(sent["json"]["messages"], MODEL)
    after = job.estimate()
    assert (after.items, after.done, after.calls) == (1, 1, 3)


def test_a_resumed_run_repeats_no_call_and_the_cache_answers_lost_results(
        ws, client, openai_server):
    add(ws, BACKUP, SSO)
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"),
                          questions("How do I turn on SSO?"), answer("Admin > Security [1]"))
    first = SynthQA(ws, MODEL, questions=1, client=client).run()
    sent = len(openai_server.requests)
    assert first.finished == 2 and first.calls == sent == 4
    again = SynthQA(ws, MODEL, questions=1, client=client).run()
    assert again.items == 0 and again.calls == 0 and len(openai_server.requests) == sent
    # A result lost after its calls (a crash before it was stored): the cache answers again.
    passage = ws.store.passages()[1]
    ws.store.set_state(state_key(passage), None)
    redone = SynthQA(ws, MODEL, questions=1, client=client).run()
    assert redone.finished == 1 and redone.calls == 0 and redone.cached == 2
    assert len(openai_server.requests) == sent
    assert len(examples(ws.store, kind="synthetic")) == 2


def test_an_interrupted_run_keeps_what_finished_and_the_next_run_does_the_rest(
        ws, client, openai_server):
    add(ws, BACKUP, SSO, LIMITS)
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"))

    def fail_after_first(report):
        if report.finished == 1 and not openai_server.failures:
            openai_server.fail_next(500, times=1000)  # the server is down from now on

    stopped = SynthQA(ws, MODEL, questions=1, client=client).run(fail_after_first)
    assert stopped.finished == 1 and "500" in stopped.stopped
    [kept] = examples(ws.store, kind="synthetic")
    assert kept.source["question"] == "How do I restore a backup?"
    openai_server.failures.clear()
    before = len(openai_server.requests)
    openai_server.enqueue(questions("How do I turn on SSO?"), answer("Admin > Security [1]"),
                          questions("How big can uploads be?"), answer("2 GB [1]"))
    resumed = SynthQA(ws, MODEL, questions=1, client=client).run()
    assert resumed.items == 2 and resumed.finished == 2 and resumed.stopped is None
    new = openai_server.requests[before:]
    assert not [r for r in new if BACKUP.text in json.dumps(r["json"])]  # not asked again
    assert len(examples(ws.store, kind="synthetic")) == 3



def test_a_run_killed_before_its_examples_leaves_them_to_the_next_run(
        ws, client, openai_server, monkeypatch):
    add(ws, BACKUP, SSO)
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"),
                          questions("How do I turn on SSO?"), answer("Admin > Security [1]"))

    def killed(workspace, builder):  # the process dies as it starts making the examples
        raise KeyboardInterrupt

    monkeypatch.setattr("understudy.jobs.examples.rebuild", killed)
    with pytest.raises(KeyboardInterrupt):
        SynthQA(ws, MODEL, questions=1, client=client).run()
    monkeypatch.undo()
    assert examples(ws.store, kind="synthetic") == []
    sent = len(openai_server.requests)
    again = SynthQA(ws, MODEL, questions=1, client=client).run()
    assert again.items == 0 and len(openai_server.requests) == sent  # nothing asked again
    assert len(examples(ws.store, kind="synthetic")) == 2


def test_a_prompt_in_the_workspace_replaces_the_packaged_one(ws, home, client, openai_server):
    add(ws, BACKUP)
    (home / "prompts").mkdir(parents=True)
    (home / "prompts" / "synth_questions.txt").write_text(
        "You are terse.\n---\nTOPIC {title}: {text}\nGive {questions} questions as "
        '{"questions": [...]}.')
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"))
    SynthQA(ws, MODEL, questions=1, client=client).run()
    system, user = openai_server.calls(CHAT)[0]["json"]["messages"]
    assert system == {"role": "system", "content": "You are terse."}
    assert user["content"] == (f"TOPIC Restoring a backup: {BACKUP.text}\nGive 1 questions as "
                               '{"questions": [...]}.')
    second = openai_server.calls(CHAT)[1]["json"]["messages"][-1]["content"]
    assert "using only what the passage says" in second  # the packaged answer prompt


def test_notes_are_stored_with_the_snippet_model_and_usage_and_become_code_examples(
        ws, client, openai_server):
    add(ws, RETRY, PARSE)
    note = "Fetches a URL and retries timeouts with growing waits; raises GiveUp after 3 tries."
    openai_server.enqueue(json.dumps({"note": note}), "Reads the TOML settings file.",
                          json.dumps({"note": "Reads the TOML settings file."}))
    report = AnnotateCode(ws, MODEL, client=client).run()
    assert report.finished == 2 and report.counts["notes"] == 2
    assert (report.not_parsed, report.parsed_on_retry, report.failed) == (1, 1, 0)
    first, second = ws.store.snippets()
    assert first.note == note and first.note_model == MODEL
    assert second.note == "Reads the TOML settings file."  # from the second, stricter request
    [sent, _, retried] = openai_server.calls(CHAT)
    assert "was not the JSON asked for" in retried["json"]["messages"][-1]["content"]
    assert retried["json"]["messages"][-2] == {"role": "assistant",
                                               "content": "Reads the TOML settings file."}
    assert RETRY.code.strip() in sent["json"]["messages"][-1]["content"]
    assert first.note_usage["prompt_tokens"] == chat_prompt_tokens(sent["json"]["messages"],
                                                                   MODEL)
    assert first.note_usage["cost"] == pytest.approx(cost(
        MODEL, first.note_usage["prompt_tokens"], first.note_usage["completion_tokens"]))
    code = {e.source["name"]: e for e in examples(ws.store, kind="code")}
    assert code["fetch_with_retry"].completion == note
    assert "raise GiveUp(url)" in code["fetch_with_retry"].messages[-1]["content"]
    again = AnnotateCode(ws, MODEL, client=client).run()
    assert again.items == 0 and len(openai_server.requests) == 3


def test_an_annotated_snippet_is_found_by_its_note(workspace, openai_server):
    add(workspace, RETRY, PARSE, BACKUP)
    openai_server.enqueue(
        json.dumps({"note": "Downloads a page and tries again after network timeouts, waiting "
                            "longer each time; gives up with GiveUp."}),
        json.dumps({"note": "Reads the settings file written in TOML."}))
    AnnotateCode(workspace, MODEL).run()
    hits = workspace.index.search("the download keeps timing out, does it try again?", k=3)
    top = hits[0].item
    assert top.kind == "snippet" and top.title == "fetch_with_retry"
    assert top.url == "acme/http.py#L12" and "raise GiveUp(url)" in top.answer


def test_dataset_export_writes_synthetic_and_code_examples(ws, openai_server, tmp_path):
    add(ws, BACKUP, RETRY)
    runner = CliRunner()
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"),
                          json.dumps({"note": "Retries timeouts."}))
    for job in ("synth-qa", "annotate-code"):
        done = runner.invoke(app, ["jobs", job, "--model", MODEL, "--yes", "--json"],
                             catch_exceptions=False)
        assert done.exit_code == 0, done.output
    out = tmp_path / "export"
    done = runner.invoke(app, ["dataset", "export", "--format", "chat", "--output", str(out)],
                         catch_exceptions=False)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for name in ("train.jsonl", "valid.jsonl")
             for line in (out / name).read_text().splitlines()]
    answers = sorted(r["messages"][-1]["content"] for r in lines)
    assert answers == ["Retries timeouts.", "acme restore [1]"]


def test_the_command_shows_the_estimate_and_reports_calls_and_cost(ws, openai_server):
    add(ws, BACKUP)
    openai_server.enqueue(questions("How do I restore a backup?"), answer("acme restore [1]"))
    done = CliRunner().invoke(app, ["jobs", "synth-qa", "--model", MODEL, "--questions", "1",
                                    "--yes"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "up to 2 calls to gpt-4o-mini" in done.output
    assert "1 of 1 items finished" in done.output and "2 calls, 0 from the cache" in done.output
    again = CliRunner().invoke(app, ["jobs", "synth-qa", "--model", MODEL, "--questions", "1",
                                     "--json"], catch_exceptions=False)
    assert again.exit_code == 0, again.output  # nothing left to do: no confirmation needed
    assert json.loads(again.stdout)["estimate"]["done"] == 1


def test_without_yes_a_non_interactive_run_is_refused_and_a_no_runs_nothing(
        ws, openai_server, monkeypatch):
    add(ws, BACKUP)
    runner = CliRunner()
    refused = runner.invoke(app, ["jobs", "synth-qa", "--model", MODEL])
    assert refused.exit_code == 2 and "add --yes" in refused.output
    monkeypatch.setattr("understudy.cli.jobs.interactive", lambda: True)
    declined = runner.invoke(app, ["jobs", "synth-qa", "--model", MODEL], input="n\n")
    assert declined.exit_code == 1 and "Nothing was run." in declined.output
    assert openai_server.requests == []


def test_a_stopped_run_exits_with_one_line_that_says_to_run_again(ws, openai_server):
    add(ws, RETRY)
    openai_server.fail_next(401)
    done = CliRunner().invoke(app, ["jobs", "annotate-code", "--model", MODEL, "--yes"])
    assert done.exit_code == 1
    assert "run the same command again to resume" in done.output
    assert "Traceback" not in done.output


def test_replies_are_parsed_in_the_forms_models_write_them():
    assert parse_questions('Sure! ```json\n["How do I a?", {"question": "Why b?"}]\n```') == \
        ["How do I a?", "Why b?"]
    assert parse_questions("1. How do I a?\n2) Where is b?\nThanks") == \
        ["How do I a?", "Where is b?"]
    assert parse_questions('{"questions": []}') == []
    assert parse_questions("Here you go.") is None and parse_questions('{"q": 1}') is None
    assert parse_answer("I don't know.") is None  # not the JSON asked for
    assert parse_answer('{"unanswerable": true}') == "" == parse_answer('{"answer": "N/A"}')
    assert parse_answer('{"answer": "Yes {really} [1]"}') == "Yes {really} [1]"
    assert parse_answer('[{"question": "q", "answer": "a"}]') == "a"
    assert parse_note("Plain words.") is None
    assert parse_note('{"note": " Trimmed. "}') == {"note": "Trimmed.", "uses": []}
    uses = [{"use": "question", "ask": "Why?", "answer": "Because."},
            {"use": "code", "ask": "Write it", "answer": "f()"},
            {"use": "poem", "ask": "x", "answer": "y"}, {"use": "documentation", "ask": ""}]
    assert parse_note(json.dumps({"note": "N", "uses": uses}))["uses"] == [
        {"use": "question", "ask": "Why?", "answer": "Because."},
        {"use": "code creation", "ask": "Write it", "answer": "f()"}]


USES = [
    {"use": "question", "ask": "My download keeps timing out: does it try again?",
     "answer": "Yes: it retries a timed-out download three times, waiting longer each time."},
    {"use": "documentation", "ask": "Retries of downloads",
     "answer": "Downloads that time out are retried up to three times with growing waits."},
    {"use": "code creation", "ask": "Fetch a report with retries",
     "answer": "report = fetch_with_retry(REPORT_URL, tries=5)"},
]


def test_each_use_of_a_note_becomes_its_own_code_example(ws, client, openai_server):
    add(ws, RETRY)
    openai_server.enqueue(json.dumps({"note": "Fetches a URL, retrying timeouts.",
                                      "uses": USES}))
    report = AnnotateCode(ws, MODEL, client=client).run()
    assert report.counts["uses"] == 3
    made = {e.source["use"]: e for e in examples(ws.store, kind="code")}
    assert sorted(made) == ["code creation", "documentation", "question"]
    for use in USES:
        example = made[use["use"]]
        assert example.completion == use["answer"]
        assert use["ask"] in example.messages[-1]["content"]
        assert "raise GiveUp(url)" in example.messages[-1]["content"]
    assert len({e.split for e in made.values()}) == 1  # one snippet, one side of the split


def test_replies_that_never_parse_fail_their_items_and_the_run(ws, openai_server):
    add(ws, BACKUP, SSO)
    openai_server.enqueue("Here are some questions for you.", "Still not JSON, sorry.",
                          questions("How do I turn on SSO?"), answer("Under Admin [1]"))
    done = CliRunner().invoke(app, ["jobs", "synth-qa", "--model", MODEL, "--questions", "1",
                                    "--yes"])
    assert done.exit_code == 1
    words = " ".join(done.output.split())
    assert "1 of 2 items finished" in words
    assert "1 replies were not the JSON asked for: 0 were when asked again, 1 items failed" \
        in words
    assert "failed on 1 of 2 items (more than 20%)" in words and "Traceback" not in words
    assert ws.store.get_state(state_key(ws.store.passages()[0])) is None  # tried again later
    lenient = CliRunner().invoke(app, ["jobs", "synth-qa", "--model", MODEL, "--questions", "1",
                                       "--yes", "--max-failed", "1", "--json"])
    assert lenient.exit_code == 0, lenient.output  # the same replies, from the call cache
    assert json.loads(lenient.stdout)["report"]["failed"] == 1
