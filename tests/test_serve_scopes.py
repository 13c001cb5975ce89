"""API token scopes: ask, review, admin; every /v1 route checks its own; ids out of range."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient
from test_serve_api import seed
from typer.testing import CliRunner

from understudy.cli import app as cli
from understudy.serve import create_app
from understudy.serve.auth import SCOPES, create_token, hash_token
from understudy.store import Store
from understudy.store.migrations import migrate

# Every /v1 route and the scope it needs; a new route must be added here to pass.
NEEDS = {
    ("POST", "/v1/answers"): "ask",
    ("POST", "/v1/chat/completions"): "ask",
    ("GET", "/v1/models"): "ask",
    ("GET", "/v1/drafts"): "review",
    ("GET", "/v1/drafts/{draft_id}"): "review",
    ("POST", "/v1/drafts/{draft_id}/feedback"): "ask",  # review, or ask on its own answers
    ("POST", "/v1/drafts/{draft_id}/send"): "review",
    ("GET", "/v1/tokens"): "admin",
    ("POST", "/v1/tokens"): "admin",
    ("DELETE", "/v1/tokens/{token_id}"): "admin",
}
TOO_BIG = 2**63  # one past SQLite's largest INTEGER


@pytest.fixture
def scoped(workspace):
    """A served workspace and one bearer header per scope."""
    seed(workspace)
    headers = {}
    for scope in SCOPES:
        _, token = create_token(workspace.store, f"{scope}-token", scope)
        headers[scope] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(workspace, slack=False)) as client:
        yield client, headers, workspace


def _forbidden(response, needed: str) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["type"] == "permission_error" and error["code"] == "insufficient_scope"
    assert f"needs the {needed} scope" in error["message"]
    assert f"--scope {needed}" in error["message"]
    return error["message"]


def _sample(path: str) -> str:
    return path.replace("{draft_id}", "1").replace("{token_id}", "1")


def test_every_v1_route_is_listed_with_its_scope(scoped):
    client, _, _ = scoped
    paths = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, methods in paths.items()
              if path.startswith("/v1") for method in methods}
    assert routes == set(NEEDS)
    for method, path in NEEDS:  # no token: every one of them refuses
        assert client.request(method, _sample(path)).status_code == 401, path


@pytest.mark.parametrize("held", list(SCOPES))
def test_a_token_reaches_exactly_the_routes_its_scope_covers(scoped, held):
    client, headers, _ = scoped
    order = list(SCOPES)
    for (method, path), needed in NEEDS.items():
        response = client.request(method, _sample(path), headers=headers[held], json={})
        if order.index(held) < order.index(needed):
            _forbidden(response, needed)
        else:
            assert response.status_code != 403, (held, method, path, response.text)


def test_an_ask_token_answers_chats_and_rates_only_its_own_answers(scoped):
    client, headers, _ = scoped
    ask, review = headers["ask"], headers["review"]
    mine = client.post("/v1/answers", headers=ask, json={"title": "CSV export fails"}).json()
    chat = client.post("/v1/chat/completions", headers=ask, json={
        "model": "understudy", "messages": [{"role": "user", "content": "2FA for everyone?"}]})
    assert chat.status_code == 200
    theirs = client.post("/v1/answers", headers=review, json={"title": "No reset mail"}).json()

    rated = client.post(f"/v1/drafts/{mine['id']}/feedback", headers=ask, json={"rating": "up"})
    assert rated.status_code == 200 and rated.json()["feedback"] == 1
    chat_id = chat.json()["understudy"]["draft_id"]
    assert client.post(f"/v1/drafts/{chat_id}/feedback", headers=ask,
                       json={"rating": "down"}).status_code == 200
    _forbidden(client.post(f"/v1/drafts/{theirs['id']}/feedback", headers=ask,
                           json={"rating": "up"}), "review")
    _forbidden(client.post(f"/v1/drafts/{mine['id']}/feedback", headers=ask,
                           json={"text": "A better answer"}), "review")
    message = _forbidden(client.get("/v1/drafts", headers=ask), "review")
    assert "ask-token" in message and "has the ask scope" in message
    _forbidden(client.get(f"/v1/drafts/{mine['id']}", headers=ask), "review")
    _forbidden(client.post(f"/v1/drafts/{mine['id']}/send", headers=ask), "review")
    listed = client.get("/v1/drafts", headers=review).json()["data"]
    assert {d["id"] for d in listed} >= {mine["id"], theirs["id"]}
    edited = client.post(f"/v1/drafts/{theirs['id']}/feedback", headers=review,
                         json={"text": "Allow noreply@acme.test."})
    assert edited.json()["draft"]["final_text"] == "Allow noreply@acme.test."


def test_admin_tokens_manage_tokens_over_the_api(scoped):
    client, headers, ws = scoped
    admin = headers["admin"]
    _forbidden(client.get("/v1/tokens", headers=headers["review"]), "admin")
    made = client.post("/v1/tokens", headers=admin, json={"name": "bot", "scope": "review"})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["scope"] == "review" and created["token"].startswith("us_")
    row = ws.store.token_by_hash(hash_token(created["token"]))
    assert row["scope"] == "review" and row["name"] == "bot"
    listed = client.get("/v1/tokens", headers=admin).json()["data"]
    assert [t["scope"] for t in listed] == ["ask", "review", "admin", "review"]
    assert created["token"] not in json.dumps(listed)
    bad = client.post("/v1/tokens", headers=admin, json={"name": "x", "scope": "root"})
    assert bad.status_code == 422 and "scope" in bad.json()["error"]["message"]
    gone = client.delete(f"/v1/tokens/{created['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    with_it = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/drafts", headers=with_it).status_code == 401
    assert client.delete(f"/v1/tokens/{created['id']}", headers=admin).status_code == 404
    assert client.delete(f"/v1/tokens/{TOO_BIG}", headers=admin).status_code == 422


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/drafts/{id}"), ("POST", "/v1/drafts/{id}/feedback"),
    ("POST", "/v1/drafts/{id}/send"),
])
def test_draft_ids_past_sqlite_integers_are_json_errors(scoped, method, path):
    client, headers, _ = scoped
    body = {"rating": "up"} if path.endswith("feedback") else {}
    for draft_id, status in ((TOO_BIG, 422), (10**30, 422), (0, 422), (-5, 422),
                             (2**63 - 1, 404)):
        response = client.request(method, path.format(id=draft_id), headers=headers["admin"],
                                  json=body)
        assert response.status_code == status, (draft_id, response.text)
        message = response.json()["error"]["message"]
        assert ("draft_id" if status == 422 else f"No draft {draft_id}") in message


def test_upgrade_keeps_existing_tokens_working_as_admin(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    migrate(old, upto="m008_snippets")  # a workspace from before token scopes
    old.execute("INSERT INTO api_tokens (name, token_hash, prefix, created_at)"
                " VALUES ('legacy', ?, 'us_abc', '2026-01-01')", (hash_token("us_legacy"),))
    old.commit()
    old.close()
    store = Store(path)  # opening it applies the scope migration
    assert store.token_by_hash(hash_token("us_legacy"))["scope"] == "admin"
    _, fresh = create_token(store, "new")
    assert store.token_by_hash(hash_token(fresh))["scope"] == "ask"
    store.close()


def test_a_blank_database_defaults_new_tokens_to_ask(workspace):
    _, token = create_token(workspace.store, "plain")
    assert workspace.store.token_by_hash(hash_token(token))["scope"] == "ask"
    with pytest.raises(ValueError, match="ask, review, admin"):
        create_token(workspace.store, "odd", "root")


def test_token_create_prints_its_scope_and_list_shows_it(home):
    runner = CliRunner()
    plain = runner.invoke(cli, ["serve", "token", "create", "web"], catch_exceptions=False)
    assert plain.exit_code == 0
    assert "scope ask" in plain.output and "No --scope given" in plain.output
    made = runner.invoke(cli, ["serve", "token", "create", "desk", "--scope", "review",
                               "--json"], catch_exceptions=False)
    assert json.loads(made.output)["scope"] == "review"
    admin = runner.invoke(cli, ["serve", "token", "create", "ops", "--scope", "admin"])
    assert "scope admin" in admin.output and "No --scope" not in admin.output
    bad = runner.invoke(cli, ["serve", "token", "create", "x", "--scope", "root"])
    assert bad.exit_code == 2 and "--scope ask|review|admin" in bad.output
    listed = runner.invoke(cli, ["serve", "token", "list"]).output.splitlines()
    for name, scope in (("web", "ask"), ("desk", "review"), ("ops", "admin")):
        row = next(line.split() for line in listed if name in line.split())
        assert scope in row, (name, row)
    as_json = json.loads(runner.invoke(cli, ["serve", "token", "list", "--json"]).output)
    assert [t["scope"] for t in as_json] == ["ask", "review", "admin"]
    huge = runner.invoke(cli, ["serve", "token", "revoke", str(TOO_BIG)])
    assert huge.exit_code == 1 and "No live token" in huge.output
