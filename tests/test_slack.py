"""The Slack app against a local Slack Web API, with requests signed as Slack signs them, and
in Socket Mode over a local WebSocket."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from itertools import count
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.errors import SlackApiError
from slack_server import BOT_USER, FakeSlack
from test_serve_api import seed

from understudy.errors import ConfigError
from understudy.serve import create_app
from understudy.serve.app import Service
from understudy.serve.slack import socket_mode
from understudy.text.outgoing import safe_outgoing

SECRET = "signing-secret-for-tests"
_events = count(1)


@pytest.fixture
def slack(workspace, monkeypatch):
    seed(workspace)
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        workspace.settings.set("slack_api_url", fake.api_url)
        yield fake, workspace


def _client(workspace) -> TestClient:
    return TestClient(create_app(workspace))


def signed(body: str, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def event(kind: str, text: str = "", channel: str = "C1", ts: str = "1700000000.000100",
          event_id: str | None = None, **fields) -> tuple[str, str]:
    event_id = event_id or f"Ev{next(_events)}"
    payload = {
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()),
        "event": {"type": kind, "user": "U1", "text": text, "ts": ts, "channel": channel,
                  "event_ts": ts, **fields},
    }
    return json.dumps(payload), event_id


def post_event(client: TestClient, body: str, **headers: str):
    response = client.post("/slack/events", content=body, headers={
        "Content-Type": "application/json", **signed(body), **headers})
    client.app.state.service.jobs.wait(timeout=60)
    return response


def post_action(client: TestClient, action_id: str, value: str, user: str = "U2"):
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
               "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.3",
               "channel": {"id": "C1"}, "container": {"type": "message"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                            "value": value, "action_ts": "1700000001.0"}]}
    body = urlencode({"payload": json.dumps(payload)})
    response = client.post("/slack/events", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", **signed(body)})
    client.app.state.service.jobs.wait(timeout=60)
    return response


def test_mention_is_answered_in_the_thread_with_sources(slack):
    fake, ws = slack
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> the password reset email never arrives",
                        ts="1700000100.000200")
        assert post_event(client, body).status_code == 200
    posts = fake.calls_to("chat.postMessage")
    assert len(posts) == 1
    args = posts[0].args
    assert args["channel"] == "C1" and args["thread_ts"] == "1700000100.000200"
    assert "allow that sender" in args["text"]
    reset = ws.store.find_thread("gitlab", "acme/app#1")
    sources = json.dumps(args["blocks"])
    assert f"<{reset.url}|{reset.title}>" in sources
    thread = ws.store.find_thread("slack", "C1:1700000100.000200")
    assert thread.title == "the password reset email never arrives"
    [draft] = ws.store.drafts(thread_id=thread.id)
    assert draft.status == "sent" and draft.sent_id
    assert draft.final_text == safe_outgoing(draft.text)


def test_bad_or_stale_signatures_are_refused(slack):
    fake, ws = slack
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> CSV export fails")
        wrong = client.post("/slack/events", content=body, headers={
            "Content-Type": "application/json", **signed(body, secret="not-it")})
        stale = client.post("/slack/events", content=body, headers={
            "Content-Type": "application/json", **signed(body, age=3600)})
        unsigned = client.post("/slack/events", content=body,
                               headers={"Content-Type": "application/json"})
        client.app.state.service.jobs.wait(timeout=60)
    assert [wrong.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    assert fake.calls_to("chat.postMessage") == []
    assert ws.store.count("drafts") == 0


def test_retries_do_not_answer_twice(slack):
    fake, ws = slack
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> docker image dies on ARM")
        assert post_event(client, body).status_code == 200
        again = post_event(client, body, **{"X-Slack-Retry-Num": "1",
                                            "X-Slack-Retry-Reason": "http_timeout"})
        assert again.status_code == 200
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert ws.store.count("drafts") == 1


def test_low_confidence_stays_silent_by_default(slack):
    fake, ws = slack
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> what is a good sourdough recipe?")
        assert post_event(client, body).status_code == 200
    assert fake.calls_to("chat.postMessage") == [] and fake.calls_to("chat.postEphemeral") == []
    [draft] = ws.store.drafts()
    assert draft.abstained and draft.status == "new"


def test_low_confidence_offers_a_private_draft_that_can_be_posted(slack):
    fake, ws = slack
    ws.settings.set("slack_low_confidence", "private")
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> what is a good sourdough recipe?",
                        ts="1700000200.000300")
        post_event(client, body)
        [private] = fake.calls_to("chat.postEphemeral")
        assert private.args["user"] == "U1" and private.args["thread_ts"] == "1700000200.000300"
        post_button = [e for b in private.args["blocks"] for e in b.get("elements", [])
                       if e.get("action_id") == "understudy_post"]
        assert len(post_button) == 1
        assert fake.calls_to("chat.postMessage") == []
        assert post_action(client, "understudy_post", post_button[0]["value"]).status_code == 200
    [posted] = fake.calls_to("chat.postMessage")
    assert posted.args["thread_ts"] == "1700000200.000300"
    assert ws.store.get_draft(int(post_button[0]["value"])).status == "sent"


def test_reactions_and_buttons_become_feedback(slack):
    fake, ws = slack
    with _client(ws) as client:
        body, _ = event("app_mention", f"<@{BOT_USER}> how do I require 2FA?")
        post_event(client, body)
        [posted] = fake.calls_to("chat.postMessage")
        draft = ws.store.drafts()[0]
        ts = draft.sent_id
        reaction, _ = event("reaction_added", reaction="+1",
                            item={"type": "message", "channel": "C1", "ts": ts})
        post_event(client, reaction)
        ignored, _ = event("reaction_added", reaction="tada",
                           item={"type": "message", "channel": "C1", "ts": ts})
        post_event(client, ignored)
        buttons = [e for b in posted.args["blocks"] for e in b.get("elements", [])
                   if e.get("action_id", "").startswith("understudy_feedback")]
        down = next(b for b in buttons if b["action_id"].endswith("down"))
        assert post_action(client, down["action_id"], down["value"]).status_code == 200
    ratings = [(f["rating"], f["channel"], f["author"]) for f in ws.store.feedback(draft.id)]
    assert ratings == [("up", "slack", "U1"), ("down", "slack", "U2")]


def test_configured_channel_questions_are_answered_without_a_mention(slack):
    fake, ws = slack
    ws.settings.set("slack_channels", ["CSUPPORT"])
    with _client(ws) as client:
        asked, _ = event("message", "CSV export fails with error 500", channel="CSUPPORT")
        elsewhere, _ = event("message", "CSV export fails with error 500", channel="CRANDOM")
        from_bot, _ = event("message", "CSV export fails", channel="CSUPPORT", bot_id="B9")
        reply, _ = event("message", "CSV export still fails", channel="CSUPPORT",
                         ts="1700000300.000500", thread_ts="1700000000.000100")
        for body in (asked, elsewhere, from_bot, reply):
            assert post_event(client, body).status_code == 200
    posts = fake.calls_to("chat.postMessage")
    assert [p.args["channel"] for p in posts] == ["CSUPPORT"]
    assert "export.batch_size" in posts[0].args["text"]


def test_url_verification_is_answered(slack):
    _, ws = slack
    with _client(ws) as client:
        body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
        response = post_event(client, body)
    assert response.status_code == 200 and "abc123" in response.text


def envelope(body: str, envelope_id: str, retry_attempt: int = 0) -> dict:
    """An Events API payload as Socket Mode wraps it."""
    return {"envelope_id": envelope_id, "type": "events_api", "payload": json.loads(body),
            "accepts_response_payload": False, "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else ""}


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def socket_slack(slack, monkeypatch):
    """The fake Slack for Socket Mode: an app-level token and no signing secret."""
    fake, _ = slack
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)  # the SDK's WebSocket would go through them
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")  # Socket Mode has no signatures to check
    return slack


def test_socket_mode_answers_a_mention_once_and_acknowledges_every_envelope(socket_slack):
    fake, ws = socket_slack
    body, _ = event("app_mention", f"<@{BOT_USER}> the password reset email never arrives",
                    ts="1700000400.000600")
    fake.socket.send(envelope(body, "env-1"))  # goes out right after hello
    service = Service(ws)
    service.answerer()  # the index is built (with its own threads) before the client starts
    before = set(threading.enumerate())
    handler = socket_mode(service)
    try:
        handler.connect()
        assert fake.socket.wait_for_ack("env-1") == {"envelope_id": "env-1"}
        service.jobs.wait(timeout=60)
        fake.socket.send(envelope(body, "env-2", retry_attempt=1))  # Slack's redelivery
        assert fake.socket.wait_for_ack("env-2") == {"envelope_id": "env-2"}
        service.jobs.wait(timeout=60)
    finally:
        handler.close()
        service.close()
    [opened] = fake.calls_to("apps.connections.open")
    assert opened.token == fake.app_token
    [post] = fake.calls_to("chat.postMessage")
    assert post.token == fake.token
    assert post.args["channel"] == "C1" and post.args["thread_ts"] == "1700000400.000600"
    assert "allow that sender" in post.args["text"]
    reset = ws.store.find_thread("gitlab", "acme/app#1")
    assert f"<{reset.url}|{reset.title}>" in json.dumps(post.args["blocks"])
    thread = ws.store.find_thread("slack", "C1:1700000400.000600")
    [draft] = ws.store.drafts(thread_id=thread.id)
    assert draft.status == "sent" and draft.sent_id
    assert draft.final_text == safe_outgoing(draft.text)
    assert ws.store.count("drafts") == 1
    assert wait_until(lambda: not (set(threading.enumerate()) - before), timeout=5), (
        f"threads left running: {set(threading.enumerate()) - before}")


def test_socket_mode_needs_the_app_level_token(socket_slack, monkeypatch):
    fake, ws = socket_slack
    service = Service(ws)
    try:
        monkeypatch.setenv("SLACK_APP_TOKEN", fake.token)  # the bot token will not do
        handler = socket_mode(service)
        try:
            with pytest.raises(SlackApiError) as refused:
                handler.connect()
        finally:
            handler.close()
        assert refused.value.response["error"] == "not_allowed_token_type"
        monkeypatch.delenv("SLACK_APP_TOKEN")
        with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
            socket_mode(service)
    finally:
        service.close()
    assert [c.token for c in fake.calls_to("apps.connections.open")] == [fake.token]
    assert fake.calls_to("chat.postMessage") == []
