"""A local Slack Web API on 127.0.0.1: auth.test, chat.postMessage, chat.postEphemeral,
reactions.add, shaped as Slack documents them; every call is recorded."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from loopback import LoopbackServer

TOKEN = "xoxb-test-token"
BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


class FakeSlack(LoopbackServer):
    """Slack's Web API for one workspace with one bot user."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._ts = 1_700_000_000

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{self._ts}.000100"

    def handle(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call(method, args, token))
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "url": "https://acme.slack.com/", "team": "Acme",
                    "user": "understudy", "team_id": "T1", "user_id": BOT_USER,
                    "bot_id": "B1", "is_enterprise_install": False}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            if not args.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not (args.get("text") or args.get("blocks")):
                return {"ok": False, "error": "no_text"}
            if method == "chat.postEphemeral":
                if not args.get("user"):
                    return {"ok": False, "error": "user_not_in_channel"}
                return {"ok": True, "message_ts": self.next_ts()}
            ts = self.next_ts()
            message = {"type": "message", "subtype": "bot_message", "text": args.get("text", ""),
                       "ts": ts, "bot_id": "B1", "username": "understudy"}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
        if method == "reactions.add":
            if not (args.get("channel") and args.get("timestamp") and args.get("name")):
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        method = self.path.split("?")[0].removeprefix("/api/")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            args = json.loads(raw or "{}")
        else:
            args = dict(parse_qsl(raw))
            for key in ("blocks", "attachments"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        auth = self.headers.get("Authorization", "")
        bearer = auth.startswith("Bearer ")
        token = auth.removeprefix("Bearer ") if bearer else args.get("token", "")
        payload = json.dumps(self.fake.handle(method, args, token)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


FakeSlack.handler_class = _Handler
