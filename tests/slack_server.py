"""A local Slack Web API on 127.0.0.1: auth.test, chat.postMessage, chat.postEphemeral,
conversations.replies, reactions.add and apps.connections.open, shaped as Slack documents them;
every call is recorded.
Socket Mode is a WebSocket on 127.0.0.1 that greets with `hello`, sends envelopes and records
their acknowledgements."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from loopback import LoopbackServer

TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-A1-test-token"
BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


class SocketMode:
    """Slack's Socket Mode endpoint: a WebSocket on 127.0.0.1 (the `websockets` package) that
    lets in holders of a ticket from apps.connections.open, says `hello`, then sends each
    envelope given to `send` and records the `{"envelope_id": ...}` replies."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self._tickets: set[str] = set()
        self._waiting: list[dict[str, Any]] = []  # envelopes sent before anyone connected
        self._connection: Any = None
        self._changed = threading.Condition()
        # Slack pings its clients; pinging often also wakes the SDK's blocking read (3 s
        # timeout) so that a client closing down stops in a fraction of a second.
        self._server = serve(self._session, "127.0.0.1", 0, compression=None,
                             process_request=self._admit, ping_interval=0.1, ping_timeout=10)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def open(self) -> str:
        """A new ticket and the URL to use it at, as apps.connections.open returns them."""
        ticket = secrets.token_hex(8)
        with self._changed:
            self._tickets.add(ticket)
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket={ticket}&app_id=A1"

    def send(self, envelope: dict[str, Any]) -> None:
        """Deliver an envelope now, or right after `hello` when no client is connected yet."""
        with self._changed:
            self.sent.append(envelope)
            if self._connection is None:
                self._waiting.append(envelope)
            else:
                self._connection.send(json.dumps(envelope))

    def wait_for_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The client's acknowledgement of an envelope; AssertionError if none comes in time."""
        def acked() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        with self._changed:
            ack = self._changed.wait_for(acked, timeout)
        assert ack is not None, f"envelope {envelope_id} was not acknowledged in {timeout} s"
        return ack

    def _admit(self, connection: Any, request: Any) -> Any:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self._changed:
            if ticket in self._tickets:
                self._tickets.discard(ticket)  # a ticket opens one connection
                return None
        return connection.respond(401, "invalid ticket\n")

    def _session(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._changed:
            connection.send(json.dumps({
                "type": "hello", "num_connections": 1,
                "debug_info": {"host": "applink-test", "build_number": 1,
                               "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A1"},
            }))
            for envelope in self._waiting:
                connection.send(json.dumps(envelope))
            self._waiting.clear()
            self._connection = connection
        try:
            for message in connection:
                with self._changed:
                    self.acks.append(json.loads(message))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if self._connection is connection:
                    self._connection = None

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


class FakeSlack(LoopbackServer):
    """Slack's Web API for one workspace with one bot user (and an app-level token)."""

    def __init__(self, token: str = TOKEN, app_token: str = APP_TOKEN):
        self.token = token
        self.app_token = app_token
        self.calls: list[Call] = []
        self.messages: list[dict[str, Any]] = []  # what chat.postMessage posted, for replies
        self._lock = threading.Lock()
        self._ts = 1_700_000_000
        self._socket: SocketMode | None = None

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/"

    @property
    def socket(self) -> SocketMode:
        """The Socket Mode endpoint, started the first time it is needed."""
        with self._lock:
            if self._socket is None:
                self._socket = SocketMode()
            return self._socket

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.stop()
            self._socket = None
        super().stop()

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
        # apps.connections.open takes the app-level token, every other method the bot token
        expected = self.app_token if method == "apps.connections.open" else self.token
        if token != expected:
            known = token in (self.token, self.app_token)
            return {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket.open()}
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
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            with self._lock:
                self.messages.append({**message, "channel": args["channel"],
                                      "metadata": metadata})
            return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
        if method == "conversations.replies":
            with self._lock:
                found = [m for m in self.messages if m["channel"] == args.get("channel")
                         and args.get("ts") in (m["ts"], m.get("thread_ts"))]
            keep_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
            shown = [{k: v for k, v in m.items() if k != "channel"
                      and (keep_metadata or k != "metadata")} for m in found]
            return {"ok": True, "messages": shown, "has_more": False}
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
