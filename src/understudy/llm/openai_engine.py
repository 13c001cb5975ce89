"""The engine for OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp) via `openai`."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from typing import Any
from urllib.parse import urlparse

import openai

from ..config import Settings
from ..errors import ConfigError, UnderstudyError, UsageError
from ..text import count_tokens
from ..text.masking import redact_url_credentials
from .client import Engine, Generated, Transient
from .options import Options

OPENAI_HOST = "api.openai.com"
TIMEOUT = 120.0
# Models served only by the legacy completions endpoint.
COMPLETION_MARKERS = ("instruct", "davinci", "babbage")
PLACEHOLDER_KEY = "no-key-needed"  # servers of one's own often ask for none


def completion_model(model: str, settings: Settings | None = None) -> bool:
    """True when `model` takes a prompt string (legacy completions) rather than chat messages."""
    api = settings.get("openai_api") if settings else None
    if api in ("chat", "completions"):
        return api == "completions"
    listed = settings.get("completion_models") if settings else None
    if listed and model in listed:
        return True
    name = model.lower()
    return any(marker in name for marker in COMPLETION_MARKERS)


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (Retry-After, retry-after-ms), or None."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


class OpenAIEngine(Engine):
    """Chat completions, or legacy completions for models that only have them."""

    name = "openai"

    def __init__(self, settings: Settings, timeout: float = TIMEOUT):
        self.settings = settings
        self.base_url = settings.secret("openai_base_url")
        key = settings.secret("openai_api_key")
        own_server = bool(self.base_url) and _host(self.base_url) != OPENAI_HOST
        # a host name says nothing about who reads a request (`gpu.local` is another machine),
        # so only a loopback server may be exempted, and only by the setting
        self.mask_requests = not (_loopback(self.base_url)
                                  and settings.get("mask_for_local_models") is False)
        if not key:
            if not own_server:
                raise ConfigError(
                    "No OpenAI API key found: set OPENAI_API_KEY (or OPENAI_BASE_URL to use an "
                    f"OpenAI-compatible server of your own), or add \"openai_api_key\" to "
                    f"{settings.path}"
                )
            key = PLACEHOLDER_KEY
        self.api = openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                                 timeout=timeout)

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url or OPENAI_HOST}"

    @property
    def where(self) -> str:
        return redact_url_credentials(self.base_url) if self.base_url else \
            f"https://{OPENAI_HOST}/v1"

    def completion_only(self, model: str) -> bool:
        return completion_model(model, self.settings)

    def count_tokens(self, text: str, model: str) -> int:
        return count_tokens(text, model)

    def generate(
        self, model: str, messages: list[dict[str, str]] | None, prompt: str | None,
        options: Options,
    ) -> Generated:
        arguments = options.api_arguments()
        try:
            if prompt is not None:
                response = self.api.completions.create(model=model, prompt=prompt, **arguments)
                choice = response.choices[0]
                text = choice.text or ""
            else:
                response = self.api.chat.completions.create(
                    model=model, messages=messages, **arguments
                )
                choice = response.choices[0]
                text = choice.message.content or ""
        except openai.APIStatusError as exc:
            raise self._status_error(exc, model) from None
        except openai.APITimeoutError:
            raise Transient(f"no answer from {self.where} in time") from None
        except openai.APIConnectionError:
            raise Transient(f"cannot reach {self.where} (check OPENAI_BASE_URL)") from None
        usage = response.usage
        return Generated(
            text=text,
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            response=response.model_dump(mode="json"),
        )

    def _status_error(self, exc: openai.APIStatusError, model: str) -> Exception:
        status = exc.status_code
        detail = _detail(exc)
        if status in (408, 409, 429) or status >= 500:
            return Transient(f"HTTP {status} from {self.where}: {detail}",
                             retry_after(exc.response.headers))
        if status in (401, 403):
            return ConfigError(
                f"{self.where} refused the API key (HTTP {status}): check OPENAI_API_KEY"
            )
        if status == 404:
            return ConfigError(
                f"Model '{model}' was not found at {self.where} (HTTP 404): check --model, "
                "the \"model\" setting, or OPENAI_BASE_URL"
            )
        if status == 400:
            return UsageError(f"{self.where} refused the request for '{model}': {detail}")
        return UnderstudyError(f"{self.where} failed (HTTP {status}): {detail}")


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    message = error.get("message") if isinstance(error, dict) else None
    return str(message or exc.message)[:300]


def _host(url: str | None) -> str:
    try:
        return urlparse(url or "").hostname or ""
    except ValueError:  # an unclosed [IPv6 address
        return ""


def _loopback(url: str | None) -> bool:
    """Whether `url` names a server on this machine (a loopback address, or localhost)."""
    host = _host(url)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
