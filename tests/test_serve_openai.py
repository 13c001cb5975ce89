"""The OpenAI-compatible endpoint, driven by the real openai client (streaming too)."""

from __future__ import annotations

import json

import openai
import pytest
from test_serve_api import make_client, seed

from understudy.plugins import registry


@pytest.fixture
def served(workspace):
    seed(workspace)
    client, headers = make_client(workspace)
    with client:
        token = headers["Authorization"].split()[1]
        yield openai.OpenAI(base_url="http://testserver/v1", api_key=token,
                            http_client=client, max_retries=0), client, headers, workspace


def test_models_are_the_backends_and_registered_models(served):
    from understudy.records import Model
    from understudy.store.training import save_model

    oai, _, _, ws = served
    save_model(ws.store, Model(name="support-ft", backend="openai", remote_id="ft:base:acme:1"))
    save_model(ws.store, Model(name="half-done", backend="openai", status="running"))
    listed = {m.id: m.owned_by for m in oai.models.list()}
    assert "understudy" in listed and set(registry("backends")) <= set(listed)
    assert listed["support-ft"] == "understudy:openai" and "half-done" not in listed


def test_chat_completion_answers_from_the_knowledge_base(served):
    oai, _, _, ws = served
    reply = oai.chat.completions.create(
        model="understudy",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Where is the option to force 2FA on every user?"},
        ],
        temperature=0.2,
    )
    text = reply.choices[0].message.content
    assert "Require two-factor authentication" in text
    assert reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra["understudy"]
    draft = ws.store.get_draft(extra["draft_id"])
    assert draft.text == text
    assert extra["sources"][0]["title"] == "How do I turn on two-factor authentication?"
    assert reply.usage.completion_tokens == len(text.split())


def test_streamed_chunks_add_up_to_the_draft(served):
    oai, _, _, ws = served
    stream = oai.chat.completions.create(
        model="retrieval", stream=True,
        messages=[{"role": "user", "content": "The docker container dies at once on ARM"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    draft = ws.store.get_draft(chunks[0].model_extra["understudy"]["draft_id"])
    assert text == draft.text and "arm64" in text


def test_earlier_turns_become_the_tickets_history(served):
    oai, _, _, ws = served
    reply = oai.chat.completions.create(model="understudy", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Our CSV export is broken"},
        {"role": "assistant", "content": "Set export.batch_size."},
        {"role": "user", "content": [{"type": "text", "text": "Also: no reset email arrives"}]},
    ])
    draft = ws.store.get_draft(reply.model_extra["understudy"]["draft_id"])
    thread = ws.store.get_thread(draft.thread_id)
    assert thread.title == "Also: no reset email arrives"
    # Oldest first, the system message left out, the last user message the newest one.
    assert [(m.body, m.is_team, m.kind) for m in thread.messages] == [
        ("Our CSV export is broken", False, "question"),
        ("Set export.batch_size.", True, "reply"),
        ("Also: no reset email arrives", False, "reply")]


CONTEXT = [
    {"role": "user", "content": "Our Docker container won't start on the Raspberry Pi cluster."},
    {"role": "assistant", "content": "Which image tag do you run?"},
    {"role": "user", "content": "The default one; it just quits straight away."},
]


def test_a_follow_up_is_answered_in_the_context_of_the_chat(served):
    oai, _, _, ws = served
    chat = oai.chat.completions.create(model="understudy", messages=CONTEXT)
    alone = oai.chat.completions.create(model="understudy", messages=CONTEXT[-1:])
    with_context = chat.model_extra["understudy"]
    last_line_only = alone.model_extra["understudy"]
    assert not with_context["abstained"]
    assert with_context["sources"][0]["title"] == "Docker image crashes on ARM machines"
    assert "arm64" in chat.choices[0].message.content
    # The last line alone does not say what breaks: it is not enough to find the answer.
    assert last_line_only["abstained"] or (
        last_line_only["sources"][0]["title"] != "Docker image crashes on ARM machines")
    assert chat.choices[0].message.content != alone.choices[0].message.content
    thread = ws.store.get_thread(ws.store.get_draft(with_context["draft_id"]).thread_id)
    assert [m.body for m in thread.messages] == [m["content"] for m in CONTEXT]


def test_openai_errors_have_openai_shape(served):
    oai, client, headers, _ = served
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert "GET /v1/models" in missing.value.message
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="understudy",
                                    messages=[{"role": "system", "content": "only a system"}])
    bad = openai.OpenAI(base_url="http://testserver/v1", api_key="wrong", http_client=client,
                        max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    raw = client.post("/v1/chat/completions", headers=headers,
                      json={"model": "understudy", "messages": []})
    assert raw.status_code == 422 and "messages" in raw.json()["error"]["message"]


def test_stream_is_server_sent_events(served):
    _, client, headers, _ = served
    with client.stream("POST", "/v1/chat/completions", headers=headers, json={
        "model": "understudy", "stream": True,
        "messages": [{"role": "user", "content": "CSV export gives 500"}],
    }) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    first = json.loads(lines[0].removeprefix("data: "))
    assert first["object"] == "chat.completion.chunk"
    assert first["understudy"]["sources"][0]["url"].startswith("https://")


def test_openapi_documents_the_history_field(served):
    _, client, _, _ = served
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    history = schemas["AnswerRequest"]["properties"]["history"]
    assert "oldest first" in history["description"] and "before `body`" in history["description"]
    assert history["items"]["$ref"].endswith("/HistoryMessage")
    fields = schemas["HistoryMessage"]["properties"]
    assert schemas["HistoryMessage"]["required"] == ["body"]
    assert all(fields[name].get("description") for name in ("author", "body", "is_team"))
    assert "support team" in fields["is_team"]["description"]
