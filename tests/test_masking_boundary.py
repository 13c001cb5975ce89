"""Masking at the boundaries: every model request, the calls log, exports and error messages."""

from __future__ import annotations

import json
import subprocess

import pytest
from factories import make_thread, run_cli

from understudy.errors import SourceError, UnderstudyError
from understudy.llm import Client, client_for
from understudy.llm.openai_engine import OpenAIEngine
from understudy.text.masking import redact_url_credentials

TOKEN = "glpat-" + "Q7w" * 8
KEY = "sk-proj-" + "Zx9" * 10
CARD = "4111 1111 1111 1111"
ASK = [{"role": "user", "content": f"my token is {TOKEN}, card {CARD}, mail bo@acme.example"}]


def test_a_loopback_server_gets_masked_requests_and_the_log_keeps_them_masked(ws, openai_server):
    client_for(ws, "openai", "gpt-4o-mini").complete(messages=ASK)
    [sent] = openai_server.calls("/v1/chat/completions")
    content = sent["json"]["messages"][0]["content"]
    assert TOKEN not in content and "4111" not in content and "bo@acme" not in content
    assert "[REDACTED:gitlab_token]" in content and "[REDACTED:card_number]" in content
    logged = json.dumps(ws.store.calls())
    assert TOKEN not in logged and "4111 1111" not in logged


def test_a_lan_host_named_local_is_masked_too(ws, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu.local:8000/v1")
    assert OpenAIEngine(ws.settings).mask_requests
    ws.settings.set("mask_for_local_models", False)
    assert OpenAIEngine(ws.settings).mask_requests  # not this machine: the setting cannot help


def test_the_setting_turns_masking_off_for_a_model_on_this_machine(ws, openai_server):
    ws.settings.set("mask_for_local_models", False)
    engine = OpenAIEngine(ws.settings)
    assert not engine.mask_requests
    Client(ws.store, engine, "gpt-4o-mini").complete(messages=ASK)
    [sent] = openai_server.calls("/v1/chat/completions")
    assert TOKEN in sent["json"]["messages"][0]["content"]


@pytest.fixture
def ws(workspace):
    return workspace


def test_url_credentials_are_redacted():
    assert redact_url_credentials("https://oauth2:glpat-x@gitlab.example.com/a.git") == (
        "https://oauth2:[REDACTED]@gitlab.example.com/a.git")
    assert redact_url_credentials(f"https://{TOKEN}@gitlab.example.com/a") == (
        "https://[REDACTED]@gitlab.example.com/a")
    assert redact_url_credentials("git clone ssh://git@host/a.git") == "git clone ssh://git@host/a.git"
    for name in ("private_token", "access_token", "token", "key", "sig"):
        url = f"https://h.example/x?page=2&{name}=s3cr3tValue&b=1"
        assert redact_url_credentials(url) == f"https://h.example/x?page=2&{name}=[REDACTED]&b=1"
    assert redact_url_credentials("https://h.example/x?keyword=nginx") == (
        "https://h.example/x?keyword=nginx")


def test_every_error_message_is_redacted_when_made():
    error = SourceError(f"Cannot reach https://bot:{TOKEN}@gitlab.example.com (check GITLAB_URL)")
    assert TOKEN not in str(error) and "https://bot:[REDACTED]@gitlab.example.com" in str(error)
    assert str(UnderstudyError("plain words")) == "plain words"
    assert UnderstudyError().args == ()


# The six ways a credential in a URL used to reach the terminal, through the real command line.

def _no_secret(code: int, out: str, err: str, *secrets: str) -> str:
    assert code != 0 and "Traceback" not in err
    for secret in secrets:
        assert secret not in out and secret not in err, err
    return err


def test_gitlab_url_with_credentials_unreachable(monkeypatch):
    monkeypatch.setenv("GITLAB_URL", f"https://oauth2:{TOKEN}@127.0.0.1:9/")
    monkeypatch.setenv("GITLAB_TOKEN", "x")
    err = _no_secret(*run_cli(monkeypatch, "sync", "gitlab", "--project", "g/p"), TOKEN)
    assert "oauth2:[REDACTED]@127.0.0.1:9" in err


def test_gitlab_url_with_a_token_parameter_refused(gitlab_server, monkeypatch):
    monkeypatch.setenv("GITLAB_URL", f"{gitlab_server.url}?private_token={TOKEN}")
    monkeypatch.setenv("GITLAB_TOKEN", "wrong-token")
    _no_secret(*run_cli(monkeypatch, "sync", "gitlab", "--project", "acme/app"), TOKEN)


def test_issue_url_with_credentials(monkeypatch):
    monkeypatch.setenv("GITLAB_TOKEN", "x")
    url = f"https://alice:hunter2pass@127.0.0.1:9/g/p/-/issues/1?private_token={TOKEN}"
    err = _no_secret(*run_cli(monkeypatch, "add", url), TOKEN, "hunter2pass")
    assert "alice:[REDACTED]@127.0.0.1:9" in err


def test_issue_url_with_a_token_parameter(monkeypatch):
    url = f"https://127.0.0.1:9/g/p/-/issues/1?private_token={TOKEN}"
    _no_secret(*run_cli(monkeypatch, "answer", url), TOKEN)


def test_git_url_of_sync_docs(monkeypatch, tmp_path):
    subprocess.run(["git", "--version"], check=True, capture_output=True)
    url = f"https://oauth2:{TOKEN}@127.0.0.1:9/g/docs.git"
    err = _no_secret(*run_cli(monkeypatch, "sync", "docs", url), TOKEN)
    assert "oauth2:[REDACTED]@127.0.0.1:9/g/docs.git" in err


def test_openai_base_url_with_credentials(workspace, openai_server, monkeypatch, tmp_path):
    workspace.store.upsert_thread(make_thread(
        1, "Login with SSO fails", "Okta SSO gives invalid state.",
        [("maria", "Set SSO_STATE_TTL=600 and clear cookies.", True)]))
    monkeypatch.setenv("OPENAI_BASE_URL",
                       openai_server.url.replace("http://", f"http://user:{KEY}@"))
    openai_server.fail_next(401)
    ticket = tmp_path / "t.md"
    ticket.write_text("# Okta SSO login\nOkta SSO login ends with an invalid state error.\n")
    code, out, err = run_cli(monkeypatch, "answer", str(ticket), "--backend", "openai",
                             "--model", "gpt-4o-mini", "--json")
    assert KEY not in out and KEY not in err
    assert "user:[REDACTED]@127.0.0.1" in out + err
    assert KEY not in json.dumps(workspace.store.calls())
