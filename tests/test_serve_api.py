"""The REST API under /v1: drafts, feedback, auth, limits, JSON errors, OpenAPI, concurrency."""

from __future__ import annotations

import json
import threading
import time

import pytest
from factories import make_thread
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from understudy.serve import create_app
from understudy.serve.auth import create_token, hash_token

KNOWLEDGE = [
    ("Password reset email never arrives",
     "I asked for a password reset link but the email never came, not even in spam.",
     "Reset emails come from noreply@acme.test; allow that sender in your mail filter. "
     "Links expire after 30 minutes, so request a new one after allowing it."),
    ("CSV export fails with a 500 error",
     "Exporting the project list to CSV gives an internal server error every time.",
     "The CSV export times out on projects with more than 10k rows. Set "
     "`export.batch_size: 500` in config.yml and restart the worker."),
    ("How do I turn on two-factor authentication?",
     "Where is the setting to require 2FA for all users in our organisation?",
     "Go to Admin > Security and tick 'Require two-factor authentication'; users are asked "
     "to enrol at their next login."),
    ("Docker image crashes on ARM machines",
     "The official Docker image exits immediately on our Raspberry Pi cluster.",
     "The image is built for amd64 only. Use the `acme/app:arm64` tag on ARM hosts."),
]


def seed(workspace) -> list:
    """Answered threads the answerer can draw on."""
    threads = []
    for number, (title, question, answer) in enumerate(KNOWLEDGE, start=1):
        thread = make_thread(number, title, question, [("support-ana", answer, True)])
        workspace.store.upsert_thread(thread)
        threads.append(thread)
    return threads


def make_client(
    workspace, scope: str = "admin", **settings
) -> tuple[TestClient, dict[str, str]]:
    """A test client for the app (lifespan not yet entered) and auth headers with a token."""
    for key, value in settings.items():
        workspace.settings.set(key, value)
    _, token = create_token(workspace.store, "tests", scope)
    app = create_app(workspace, slack=False)
    return TestClient(app), {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(workspace):
    seed(workspace)
    client, headers = make_client(workspace)
    with client:
        yield client, headers, workspace


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]
    return error


def test_answer_returns_a_draft_with_sources_that_is_kept(api):
    client, headers, ws = api
    response = client.post("/v1/answers", headers=headers, json={
        "title": "Never got the password reset email",
        "body": "I clicked 'forgot password' twice and no email arrived. What should I do?",
    })
    assert response.status_code == 200, response.text
    draft = response.json()
    reset = ws.store.find_thread("gitlab", "acme/app#1")
    assert draft["sources"][0]["url"] == reset.url
    # The team's reply, with its email address masked as everything that leaves is.
    assert "allow that sender" in draft["text"] and "noreply@acme.test" not in draft["text"]
    assert not draft["abstained"] and 0.5 <= draft["confidence"] <= 1
    kept = ws.store.get_draft(draft["id"])
    assert kept.text == draft["text"] and kept.status == "new"
    assert ws.store.get_thread(kept.thread_id).source == "api"
    assert client.get(f"/v1/drafts/{draft['id']}", headers=headers).json() == draft
    listed = client.get("/v1/drafts", headers=headers, params={"status": "new"}).json()["data"]
    assert [d["id"] for d in listed] == [draft["id"]]


def test_history_is_kept_with_the_ticket(api):
    client, headers, ws = api
    response = client.post("/v1/answers", headers=headers, json={
        "title": "Container exits on ARM", "body": "Our Pi cluster cannot run the image.",
        "author": "sam",
        "history": [{"author": "sam", "body": "We use Docker 24.", "is_team": False},
                    {"author": "ana", "body": "Which host?", "is_team": True}],
    })
    draft = response.json()
    thread = ws.store.get_thread(draft["thread_id"])
    # The history comes first, oldest first; the body is the newest message.
    assert [m.body for m in thread.messages] == ["We use Docker 24.", "Which host?",
                                                 "Our Pi cluster cannot run the image."]
    assert [(m.kind, m.is_team) for m in thread.messages] == [
        ("question", False), ("reply", True), ("reply", False)]
    assert draft["sources"][0]["title"] == "Docker image crashes on ARM machines"


def test_unrelated_question_abstains(api):
    client, headers, _ = api
    draft = client.post("/v1/answers", headers=headers, json={
        "title": "Recipe for sourdough bread", "body": "How long should the dough rise?",
    }).json()
    assert draft["abstained"] and draft["confidence"] < 0.5


def test_missing_wrong_and_revoked_tokens_are_refused(api):
    client, headers, ws = api
    body = {"title": "CSV export broken"}
    missing = _error(client.post("/v1/answers", json=body), 401)
    assert "understudy serve token create" in missing["message"]
    assert missing["type"] == "authentication_error"
    _error(client.post("/v1/answers", json=body, headers={"Authorization": "Bearer nope"}), 401)
    _error(client.get("/v1/drafts", headers={"Authorization": "Basic abc"}), 401)
    assert client.get("/v1/drafts", headers=headers).status_code == 200
    assert ws.store.revoke_token("tests") == 1
    _error(client.get("/v1/drafts", headers=headers), 401)


def test_tokens_are_stored_only_as_hashes(workspace):
    token_id, token = create_token(workspace.store, "ci")
    rows = workspace.store.db.execute("SELECT * FROM api_tokens").fetchall()
    assert [r["id"] for r in rows] == [token_id]
    assert token not in [str(v) for v in rows[0]]
    assert rows[0]["token_hash"] == hash_token(token)


def test_bad_requests_get_json_errors(api):
    client, headers, _ = api
    error = _error(client.post("/v1/answers", headers=headers, json={"body": "no title"}), 422)
    assert "title" in error["message"]
    error = _error(client.post("/v1/answers", headers=headers,
                               json={"title": "x", "colour": "red"}), 422)
    assert "colour" in error["message"]
    _error(client.post("/v1/answers", headers=headers, content=b"{not json",
                       ), 422)
    error = _error(client.get("/v1/drafts/999", headers=headers), 404)
    assert "999" in error["message"]
    error = _error(client.get("/v1/drafts", headers=headers, params={"status": "odd"}), 400)
    assert "saved" in error["message"]
    error = _error(client.get("/v1/nowhere", headers=headers), 404)
    assert "/openapi.json" in error["message"]
    error = _error(client.post("/v1/answers", headers=headers,
                               json={"title": "x", "backend": "nope"}), 400)
    assert "retrieval" in error["message"]


def test_body_size_limit_declared_and_streamed(workspace):
    seed(workspace)
    client, headers = make_client(workspace, serve_body_limit=300)
    with client:
        big = {"title": "CSV export", "body": "x" * 400}
        error = _error(client.post("/v1/answers", headers=headers, json=big), 413)
        assert "serve_body_limit" in error["message"]

        def chunks():  # no Content-Length: the limit must hold while the body streams in
            yield b'{"title": "CSV", "body": "'
            for _ in range(10):
                yield b"y" * 50
            yield b'"}'

        _error(client.post("/v1/answers", headers={**headers, "Content-Type": "application/json"},
                           content=chunks()), 413)
        small = client.post("/v1/answers", headers=headers, json={"title": "CSV export fails"})
        assert small.status_code == 200


def test_rate_limit_per_token(workspace):
    seed(workspace)
    client, headers = make_client(workspace, rate_limit_per_minute=3)
    _, other = create_token(workspace.store, "other", "review")
    with client:
        codes = [client.get("/v1/drafts", headers=headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/v1/drafts", headers=headers)
        error = _error(limited, 429)
        assert error["type"] == "rate_limit_error"
        assert int(limited.headers["Retry-After"]) >= 1
        assert client.get("/v1/drafts", headers={"Authorization": f"Bearer {other}"}).is_success


def test_feedback_is_stored_and_edits_become_the_final_text(api):
    client, headers, ws = api
    draft = client.post("/v1/answers", headers=headers,
                        json={"title": "How to require 2FA for everyone?"}).json()
    up = client.post(f"/v1/drafts/{draft['id']}/feedback", headers=headers,
                     json={"rating": "up"})
    assert up.status_code == 200 and up.json()["feedback"] == 1
    edited = "Admin > Security > 'Require two-factor authentication'."
    down = client.post(f"/v1/drafts/{draft['id']}/feedback", headers=headers,
                       json={"rating": "down", "text": edited}).json()
    assert down["draft"]["final_text"] == edited and down["draft"]["status"] == "saved"
    stored = ws.store.feedback(draft["id"])
    assert [(f["rating"], f["text"], f["channel"]) for f in stored] == [
        ("up", None, "api"), ("down", edited, "api")]
    assert ws.store.get_draft(draft["id"]).final_text == edited
    actions = [r["action"] for r in ws.store.review_log()]
    assert "feedback:up" in actions and "feedback:down" in actions
    _error(client.post(f"/v1/drafts/{draft['id']}/feedback", headers=headers, json={}), 422)
    _error(client.post(f"/v1/drafts/{draft['id']}/feedback", headers=headers,
                       json={"rating": "meh"}), 422)


def test_sending_a_ticket_with_nowhere_to_post_says_so(api):
    client, headers, ws = api
    draft = client.post("/v1/answers", headers=headers,
                        json={"title": "CSV export returns 500"}).json()
    error = _error(client.post(f"/v1/drafts/{draft['id']}/send", headers=headers), 409)
    assert "nowhere to post" in error["message"]
    assert ws.store.get_draft(draft["id"]).status == "new"


def test_openapi_document_validates(api):
    client, _, _ = api
    document = client.get("/openapi.json").json()
    validate(document)
    assert {"/v1/answers", "/v1/drafts", "/v1/drafts/{draft_id}", "/v1/drafts/{draft_id}/feedback",
            "/v1/drafts/{draft_id}/send", "/v1/chat/completions", "/v1/models",
            "/hooks/gitlab"} <= set(document["paths"])
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_concurrent_requests_keep_the_store_whole(api):
    client, headers, ws = api
    titles = [f"{t} (case {i})" for i in range(6) for t, _, _ in KNOWLEDGE]
    results: list[int] = []
    failures: list[str] = []

    def ask(title: str) -> None:
        response = client.post("/v1/answers", headers=headers, json={"title": title})
        if response.status_code == 200:
            results.append(response.json()["id"])
        else:
            failures.append(response.text)

    workers = [threading.Thread(target=ask, args=(t,)) for t in titles]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert len(set(results)) == len(titles)
    if ws.store.dialect == "sqlite":  # PostgreSQL keeps its own pages whole
        assert ws.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {d.id for d in ws.store.drafts()} == set(results)
    assert ws.store.count("threads") == len(KNOWLEDGE) + len(titles)


def test_the_index_is_built_once_per_process(api):
    client, headers, _ = api
    service = client.app.state.service
    index = service.answerer().index
    before = (id(index.items), id(index.bm25))
    for title in ("CSV export fails", "2FA setting"):
        assert client.post("/v1/answers", headers=headers, json={"title": title}).is_success
    assert service.answerer() is service.answerer()
    assert (id(index.items), id(index.bm25)) == before


def test_token_commands_create_list_and_revoke(home):
    from typer.testing import CliRunner

    from understudy.cli import app as cli
    from understudy.workspace import Workspace

    runner = CliRunner()
    created = runner.invoke(cli, ["serve", "token", "create", "web", "--json"],
                            catch_exceptions=False)
    assert created.exit_code == 0, created.output
    token = json.loads(created.output)["token"]
    listed = json.loads(runner.invoke(cli, ["serve", "token", "list", "--json"]).output)
    assert [t["name"] for t in listed] == ["web"] and token not in json.dumps(listed)
    ws = Workspace(home)
    assert ws.store.token_by_hash(hash_token(token)) is not None
    assert runner.invoke(cli, ["serve", "token", "revoke", "web"]).exit_code == 0
    assert ws.store.token_by_hash(hash_token(token)) is None
    again = runner.invoke(cli, ["serve", "token", "revoke", "web"])
    assert again.exit_code == 1 and "understudy serve token list" in again.output
    bad_port = runner.invoke(cli, ["serve", "--port", "70000"])
    assert bad_port.exit_code == 2 and "--port" in bad_port.output
    ws.close()


def test_a_running_server_finds_what_another_process_synced(database, workspace):
    """Another process (its own connection to the same database) syncs a thread; the running
    server's next check rebuilds its index in the background and answers from it."""
    from understudy.store import Store

    seed(workspace)
    client, headers = make_client(workspace, index_refresh_seconds=0.05)
    question = {"title": "Webhook deliveries are signed with which header?",
                "body": "Our receiver needs to verify the webhook signature header."}
    with client:
        first = client.post("/v1/answers", headers=headers, json=question).json()
        assert "X-Acme-Signature" not in first["text"]
        # The question itself is stored as a thread, but knows no answer: nothing to rebuild.
        assert not workspace.index.stale()

        other = Store(database)
        other.upsert_thread(make_thread(
            9, "How do I verify webhook signatures?", "Which header carries the signature?",
            [("support-ana", "Every delivery carries an `X-Acme-Signature` header: an HMAC "
              "of the body with your webhook secret.", True)]))
        other.close()
        index = workspace.index
        assert index.stale()
        time.sleep(0.1)
        client.post("/v1/answers", headers=headers, json={"title": "ping"})  # starts the check
        deadline = time.monotonic() + 180  # a rebuild encodes: generous on a loaded machine
        while index.stale() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not index.stale()
        again = client.post("/v1/answers", headers=headers, json=question).json()
    assert "X-Acme-Signature" in again["text"]
    assert again["sources"][0]["title"] == "How do I verify webhook signatures?"
