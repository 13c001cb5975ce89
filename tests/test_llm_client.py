"""The model client against a local OpenAI-compatible server: cache, retries, cost, call log."""

from __future__ import annotations

import pytest
from openai_server import chat_prompt_tokens
from openai_server import count as server_count

from understudy.errors import ConfigError, UnderstudyError, UsageError
from understudy.llm import Client, client_for, cost, price_for, training_cost
from understudy.llm.openai_engine import OpenAIEngine, completion_model, retry_after
from understudy.store import Store

HELLO = [{"role": "user", "content": "How do I reset my password?"}]


@pytest.fixture
def client(ws, openai_server):
    """A client that records the waits it was asked for instead of sleeping."""
    made = client_for(ws, "openai", "gpt-4o-mini")
    made.slept = []
    made.sleep = made.slept.append
    return made


def test_answer_tokens_and_cost_are_logged(client, openai_server, ws):
    openai_server.enqueue("Open Settings > Security.")
    done = client.complete(messages=HELLO)
    assert done.text == "Open Settings > Security."
    assert done.prompt_tokens == chat_prompt_tokens(HELLO, "gpt-4o-mini")
    assert done.completion_tokens == server_count(done.text, "gpt-4o-mini")
    assert done.cost == pytest.approx(cost("gpt-4o-mini", done.prompt_tokens,
                                           done.completion_tokens))
    assert done.cost > 0
    [call] = ws.store.calls()
    assert call["backend"] == "openai" and call["model"] == "gpt-4o-mini"
    assert call["request"]["messages"] == HELLO
    assert call["response"]["text"] == done.text
    assert call["prompt_tokens"] == done.prompt_tokens and call["cached"] is False
    assert call["error"] is None and call["latency_ms"] > 0
    [sent] = openai_server.calls("/v1/chat/completions")
    assert sent["json"]["temperature"] == 0 and sent["json"]["model"] == "gpt-4o-mini"
    assert "test-key" in sent["headers"]["authorization"]


def test_identical_temperature_zero_request_is_answered_from_the_cache(client, openai_server,
                                                                        ws):
    openai_server.enqueue("First answer.", "Second answer.")
    first = client.complete(messages=HELLO, max_tokens=50)
    again = client.complete(messages=HELLO, max_tokens=50)
    assert again.text == first.text == "First answer."
    assert again.cached and again.cost == 0
    assert len(openai_server.calls("/v1/chat/completions")) == 1
    assert [c["cached"] for c in ws.store.calls()] == [False, True]
    other = client.complete(messages=HELLO, max_tokens=60)  # another request: a real call
    assert other.text == "Second answer." and not other.cached


def test_sampling_requests_are_not_cached(client, openai_server):
    openai_server.enqueue("One.", "Two.")
    texts = [client.complete(messages=HELLO, temperature=0.7, seed=3).text for _ in range(2)]
    assert texts == ["One.", "Two."]
    assert openai_server.calls("/v1/chat/completions")[0]["json"]["seed"] == 3


def test_429_waits_as_long_as_retry_after_says(client, openai_server, ws):
    openai_server.fail_next(429, retry_after=1)
    openai_server.enqueue("After the wait.")
    done = client.complete(messages=HELLO)
    assert done.text == "After the wait."
    assert client.slept == [1.0]
    failed, succeeded = ws.store.calls()
    assert "429" in failed["error"] and "retried after 1 s" in failed["error"]
    assert succeeded["error"] is None
    assert len(openai_server.calls("/v1/chat/completions")) == 2


def test_500_then_success_backs_off(client, openai_server, ws):
    openai_server.fail_next(500, times=2)
    openai_server.enqueue("Finally.")
    assert client.complete(messages=HELLO).text == "Finally."
    assert client.slept == [1.0, 2.0]  # exponential backoff without Retry-After
    assert [bool(c["error"]) for c in ws.store.calls()] == [True, True, False]


def test_gives_up_after_the_retries_with_one_line(client, openai_server, ws):
    client.max_retries = 2
    openai_server.fail_next(503, times=3)
    with pytest.raises(UnderstudyError, match="kept failing .*503.* after 3 tries"):
        client.complete(messages=HELLO)
    assert len(ws.store.calls()) == 3
    assert ws.store.cached_call(ws.store.calls()[0]["request_hash"]) is None


def test_unknown_and_bad_options_are_refused(client, openai_server):
    with pytest.raises(UsageError, match="unknown option 'temprature'.*temperature"):
        client.complete(messages=HELLO, temprature=0.2)
    with pytest.raises(UsageError, match="option 'max_tokens'"):
        client.complete(messages=HELLO, max_tokens=0)
    assert openai_server.requests == []


def test_missing_key_names_the_variable(ws):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        client_for(ws, "openai")


def test_a_server_of_ones_own_needs_no_key(ws, openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    openai_server.enqueue("Fine without a key.")
    assert client_for(ws, "openai").complete(messages=HELLO).text == "Fine without a key."


def test_refused_key_says_what_to_check(ws, openai_server, client):
    openai_server.fail_next(401)
    with pytest.raises(ConfigError, match="refused the API key.*OPENAI_API_KEY"):
        client.complete(messages=HELLO)
    assert "401" in ws.store.calls()[0]["error"]


def test_legacy_completions_with_a_stop_sequence(ws, openai_server):
    made = client_for(ws, "openai", "gpt-3.5-turbo-instruct")
    assert made.completion_only()
    openai_server.enqueue(" Reset it in Settings. END and more")
    done = made.complete(prompt="Q: reset?\n\n###\n\n", stop=" END")
    assert done.text == " Reset it in Settings."
    [sent] = openai_server.calls("/v1/completions")
    assert sent["json"]["stop"] == [" END"] and sent["json"]["prompt"].startswith("Q: reset?")
    assert done.prompt_tokens == server_count("Q: reset?\n\n###\n\n", "gpt-3.5-turbo-instruct")


def test_which_models_use_legacy_completions(ws):
    assert completion_model("gpt-3.5-turbo-instruct") and completion_model("davinci-002")
    assert completion_model("ft:babbage-002:org::abc")
    assert not completion_model("gpt-4o-mini")
    ws.settings.set("openai_api", "completions")
    assert completion_model("llama3", ws.settings)
    ws.settings.set("openai_api", None)
    ws.settings.set("completion_models", ["my-base-model"])
    assert completion_model("my-base-model", ws.settings)


def test_prices_from_the_table_and_from_settings(ws, openai_server):
    base = price_for("gpt-4o-mini-2024-07-18")
    assert base == price_for("gpt-4o-mini")
    assert price_for("ft:gpt-4o-mini-2024-07-18:acme::x1").input > base.input
    assert price_for("llama3:8b") is None and cost("llama3:8b", 1000, 1000) == 0
    assert cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(base.input)
    assert training_cost("gpt-4o-mini", 2_000_000, epochs=3) == pytest.approx(
        6 * base.training)
    ws.settings.set("prices", {"gpt-4o-mini": {"input": 10, "output": 20}})
    made = client_for(ws, "openai", "gpt-4o-mini")
    openai_server.enqueue("Priced.")
    done = made.complete(messages=HELLO)
    expected = (done.prompt_tokens * 10 + done.completion_tokens * 20) / 1_000_000
    assert done.cost == pytest.approx(expected)
    ws.settings.set("prices", {"gpt-4o-mini": "cheap"})
    with pytest.raises(ConfigError, match="price of \"gpt-4o-mini\""):
        client_for(ws, "openai", "gpt-4o-mini").complete(messages=HELLO, max_tokens=7)


def test_secrets_are_masked_before_leaving_for_a_remote_server(ws, openai_server):
    engine = OpenAIEngine(ws.settings)
    engine.third_party = True  # as for api.openai.com
    made = Client(ws.store, engine, "gpt-4o-mini")
    token = "glpat-" + "a1B2" * 6
    made.complete(messages=[{"role": "user", "content": f"my token is {token}"}])
    [sent] = openai_server.calls("/v1/chat/completions")
    assert token not in sent["json"]["messages"][0]["content"]
    assert token not in str(ws.store.calls())


def test_retry_after_forms():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None


def test_calls_table_migration_applies_on_an_existing_database(tmp_path):
    from understudy.store.migrations import migrate

    store = Store(tmp_path / "old.db")
    names = [r[0] for r in store.db.execute("SELECT name FROM migrations")]
    assert "m005_calls" in names
    store.db.execute("DROP TABLE calls")
    store.db.execute("DELETE FROM migrations WHERE name = 'm005_calls'")
    store.db.commit()
    assert migrate(store.db) == ["m005_calls"]
    assert store.log_call({"backend": "openai", "request_hash": "h", "request": {}}) == 1
    store.close()
