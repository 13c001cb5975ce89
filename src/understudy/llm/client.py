"""The one client every language-model call goes through: cache, retries, tokens, cost, log."""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnderstudyError, UsageError
from ..store import Store
from ..text import mask_secrets
from .options import Options, parse_options
from .pricing import cost

MAX_RETRIES = 4  # retries after the first try
BACKOFF = 1.0  # seconds before the first retry without Retry-After; doubles each time
MAX_WAIT = 60.0  # the longest wait between two tries, whatever Retry-After says


@dataclass
class Generated:
    """What an engine returned for one request."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # None when the server did not say
    completion_tokens: int | None = None
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Completion:
    """The text of one call and what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    cached: bool
    finish_reason: str | None = None
    call_id: int | None = None


class Transient(Exception):
    """An engine's error worth retrying; `wait` is the server's Retry-After in seconds."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class Engine(ABC):
    """Something that generates text for a model: an HTTP API or a model in this process."""

    name: str = ""
    # Secrets and personal data are masked out of every request, wherever the model runs; only
    # the `mask_for_local_models: false` setting turns this off, for a model on this machine.
    mask_requests = True

    @property
    def identity(self) -> str:
        """What, besides the request, decides the answer (a server URL, a model folder)."""
        return self.name

    @abstractmethod
    def generate(
        self, model: str, messages: list[dict[str, str]] | None, prompt: str | None,
        options: Options,
    ) -> Generated:
        """One try; raise Transient for errors worth retrying, UnderstudyError for the rest."""

    @abstractmethod
    def count_tokens(self, text: str, model: str) -> int:
        """Tokens of `text` for `model`, counted offline."""

    def completion_only(self, model: str) -> bool:
        """True for models that take one prompt string rather than chat messages."""
        return False


def request_hash(identity: str, request: dict[str, Any]) -> str:
    """The cache key of a request: what was asked, of whom."""
    raw = json.dumps([identity, request], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def _masked(
    messages: list[dict[str, str]] | None, prompt: str | None,
) -> tuple[list[dict[str, str]] | None, str | None]:
    if messages is not None:
        messages = [{**m, "content": mask_secrets(m["content"])} for m in messages]
    return messages, (mask_secrets(prompt) if prompt is not None else None)


class Client:
    """Calls an engine: answers identical temperature-0 requests from the store, retries
    transient errors with backoff honouring Retry-After, and logs every call with its cost."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        model: str | None = None,
        prices: dict[str, Any] | None = None,
        max_retries: int = MAX_RETRIES,
        backoff: float = BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.engine = engine
        self.model = model
        self.prices = prices or {}
        self.max_retries = max_retries
        self.backoff = backoff
        self.sleep = sleep

    def count_tokens(self, text: str, model: str | None = None) -> int:
        return self.engine.count_tokens(text, model or self.model or "")

    def completion_only(self, model: str | None = None) -> bool:
        return self.engine.completion_only(model or self.model or "")

    def complete(
        self,
        messages: list[dict[str, str]] | None = None,
        prompt: str | None = None,
        options: Options | dict[str, Any] | None = None,
        **more: Any,
    ) -> Completion:
        """Generate for chat `messages` or a completion `prompt`; options as keywords or Options.

        Raises UsageError for unknown options, UnderstudyError when the engine keeps failing.
        """
        if (messages is None) == (prompt is None):
            raise UsageError("Give either chat messages or a prompt to the model client")
        if isinstance(options, Options):
            options = options.model_dump(exclude_none=True)
        opts = parse_options(options, **more)
        model = opts.model or self.model
        if not model:
            raise UsageError("No model chosen: pass --model M or set \"model\" in settings.json")
        if self.engine.mask_requests:
            messages, prompt = _masked(messages, prompt)
        request: dict[str, Any] = {"model": model, **opts.api_arguments()}
        if messages is not None:
            request["messages"] = messages
        else:
            request["prompt"] = prompt
        key = request_hash(self.engine.identity, request)
        if opts.temperature == 0:
            hit = self.store.cached_call(key)
            if hit is not None:
                return self._replay(hit, key, request)
        return self._call(model, messages, prompt, opts, request, key)

    def _replay(self, hit: dict[str, Any], key: str, request: dict[str, Any]) -> Completion:
        call_id = self.store.log_call({
            "backend": self.engine.name, "model": hit["model"], "request_hash": key,
            "request": request, "response": hit["response"],
            "prompt_tokens": hit["prompt_tokens"], "completion_tokens": hit["completion_tokens"],
            "cost": 0.0, "latency_ms": 0.0, "cached": 1,
        })
        response = hit["response"] or {}
        return Completion(
            text=response.get("text", ""), model=hit["model"],
            prompt_tokens=hit["prompt_tokens"], completion_tokens=hit["completion_tokens"],
            cost=0.0, latency_ms=0.0, cached=True,
            finish_reason=response.get("finish_reason"), call_id=call_id,
        )

    def _call(
        self, model: str, messages: list[dict[str, str]] | None, prompt: str | None,
        opts: Options, request: dict[str, Any], key: str,
    ) -> Completion:
        base = {"backend": self.engine.name, "model": model, "request_hash": key,
                "request": request}
        for attempt in range(self.max_retries + 1):
            started = time.perf_counter()
            try:
                result = self.engine.generate(model, messages, prompt, opts)
            except Transient as exc:
                latency = (time.perf_counter() - started) * 1000
                if attempt == self.max_retries:
                    self.store.log_call({**base, "latency_ms": latency, "error": str(exc)})
                    raise UnderstudyError(
                        f"The {self.engine.name} backend kept failing ({exc}) after "
                        f"{attempt + 1} tries: try again later"
                    ) from None
                wait = self._wait(attempt, exc.wait)
                self.store.log_call({**base, "latency_ms": latency,
                                     "error": f"{exc}; retried after {wait:g} s"})
                self.sleep(wait)
                continue
            except UnderstudyError as exc:
                latency = (time.perf_counter() - started) * 1000
                self.store.log_call({**base, "latency_ms": latency, "error": str(exc)})
                raise
            return self._record(base, model, messages, prompt, result, started)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_WAIT)
        return min(self.backoff * 2**attempt, MAX_WAIT)

    def _record(
        self, base: dict[str, Any], model: str, messages: list[dict[str, str]] | None,
        prompt: str | None, result: Generated, started: float,
    ) -> Completion:
        latency = (time.perf_counter() - started) * 1000
        if result.prompt_tokens is None:
            text = prompt if prompt is not None else "\n".join(m["content"] for m in messages)
            result.prompt_tokens = self.engine.count_tokens(text, model)
        if result.completion_tokens is None:
            result.completion_tokens = self.engine.count_tokens(result.text, model)
        spent = cost(model, result.prompt_tokens, result.completion_tokens, self.prices)
        response = {"text": result.text, "finish_reason": result.finish_reason,
                    "raw": result.response}
        call_id = self.store.log_call({
            **base, "response": response, "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens, "cost": spent,
            "latency_ms": latency, "cached": 0,
        })
        return Completion(
            text=result.text, model=model, prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens, cost=spent, latency_ms=latency,
            cached=False, finish_reason=result.finish_reason, call_id=call_id,
        )
