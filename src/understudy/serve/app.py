"""The FastAPI application: one answerer per process, JSON errors, body limit, background jobs."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..answer import Answerer
from ..embeddings.serving import ServingEmbedder, query_encoder_kind, serving_embedder
from ..errors import ConfigError, InputError, NotFoundError, SendError, UnderstudyError
from ..records import Draft, Thread
from ..workspace import Workspace
from .auth import DEFAULT_RATE_PER_MINUTE, Caller, RateLimiter, authenticate, check_scope

log = logging.getLogger("understudy.serve")

DEFAULT_BODY_LIMIT = 1_048_576  # bytes
TOUCH_EVERY_S = 60.0


class APIError(Exception):
    """A request the server refuses, answered as {"error": {"message", "type"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers = headers or {}


def error_response(
    status: int, message: str, type_: str, code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON error body every 4xx/5xx answer carries."""
    error: dict[str, Any] = {"message": message, "type": type_}
    if code:
        error["code"] = code
    return JSONResponse({"error": error}, status_code=status, headers=headers)


# Errors a user can cause, by the status that says so.
_STATUS = {NotFoundError: 404, InputError: 400, SendError: 409, ConfigError: 503}


def _status_of(exc: UnderstudyError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


class Jobs(ThreadPoolExecutor):
    """Background work (webhook and Slack events) that is drained, not dropped, at shutdown."""

    def __init__(self, workers: int = 2):
        super().__init__(max_workers=workers, thread_name_prefix="understudy-job")
        self._pending: set[Future] = set()
        self._guard = threading.Lock()

    def submit(self, fn, /, *args: Any, **kwargs: Any) -> Future:
        def logged() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background job %s failed", getattr(fn, "__name__", fn))
                raise

        future = super().submit(logged)
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._guard:
            self._pending.discard(future)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._guard:
                pending = set(self._pending)
            if not pending:
                return
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            wait_futures(pending, timeout=left)
            if deadline is not None and time.monotonic() >= deadline:
                return


class Service:
    """What every front end shares: the workspace, one answerer per backend, limits and jobs."""

    def __init__(self, workspace: Workspace, backend: str | None = None):
        self.workspace = workspace
        self.settings = workspace.settings
        self.store = workspace.store
        self.backend = backend or self.settings.get("default_backend") or "retrieval"
        self.body_limit = int(self.settings.get("serve_body_limit") or DEFAULT_BODY_LIMIT)
        rate = self.settings.get("rate_limit_per_minute") or DEFAULT_RATE_PER_MINUTE
        self.limiter = RateLimiter(int(rate))
        self.query_encoder = query_encoder_kind(self.settings.get("serve_query_encoder"))
        self.jobs = Jobs()
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.Lock()
        self.hook_lock = threading.Lock()
        self._touched: dict[int, float] = {}
        self.refresh_every = float(self.settings.get("index_refresh_seconds") or 0)
        self._checked = time.monotonic()

    def answerer(self, backend: str | None = None, model: str | None = None) -> Answerer:
        """The process's answerer for `backend` (and `model`); the index is built once."""
        key = (backend or self.backend, model)
        answerer = self._answerers.get(key)
        if answerer is not None:
            self._refresh_soon(answerer)
            return answerer
        with self._lock:
            if key not in self._answerers:
                answerer = Answerer(self.workspace, key[0], model)
                index = answerer.index
                if not answerer.index.ready:
                    answerer.index.build()
                if not isinstance(index.embedder, ServingEmbedder):
                    index.use_encoder(serving_embedder(index.embedder, self.query_encoder))
                self._answerers[key] = answerer
            return self._answerers[key]

    def _refresh_soon(self, answerer: Answerer) -> None:
        """Every `index_refresh_seconds`, look for knowledge another process synced into the
        database; if there is, rebuild the index on a thread while answers use the last one."""
        if not self.refresh_every or time.monotonic() - self._checked < self.refresh_every:
            return
        self._checked = time.monotonic()
        threading.Thread(target=answerer.index.refresh, name="index-refresh",
                         daemon=True).start()

    def ticket(self, thread: Thread) -> Thread:
        """The stored copy of `thread`, stored now if it is new or changed."""
        self.store.upsert_thread(thread)
        return thread

    def draft(self, thread: Thread, backend: str | None = None, model: str | None = None) -> Draft:
        """Store the ticket and draft an answer for it (saved before it is returned)."""
        answerer = self.answerer(backend, model)
        return answerer.draft(self.ticket(thread))

    def get_draft(self, draft_id: int) -> Draft:
        with self.store.lock:
            return self.store.get_draft(draft_id)

    def feedback(
        self, draft_id: int, rating: str | None, text: str | None, channel: str,
        author: str = "",
    ) -> Draft:
        """Keep a rating and/or an edited text for a draft, as the review loop would."""
        draft = self.get_draft(draft_id)
        self.store.add_feedback(draft_id, rating, text, channel, author)
        if text is not None:
            draft.final_text = text
            if draft.status == "new":
                draft.status = "saved"
            self.store.save_draft(draft)
        action = f"feedback:{rating}" if rating else "feedback:edit"
        self.store.log_review(action, draft.thread_id, draft.id)
        return draft

    def caller(self, header: str | None) -> Caller:
        """The authenticated, rate-limited caller of a /v1 request."""
        who = authenticate(self.store, header)
        if who is None:
            message = (
                "Invalid API token: send 'Authorization: Bearer TOKEN' with a token from "
                "'understudy serve token create NAME'"
                if header
                else "Missing API token: send 'Authorization: Bearer TOKEN' with a token from "
                "'understudy serve token create NAME'"
            )
            raise APIError(401, message, "authentication_error",
                           headers={"WWW-Authenticate": "Bearer"})
        wait = self.limiter.check(who.token_id)
        if wait is not None:
            raise APIError(
                429,
                f"Rate limit of {self.limiter.per_minute} requests per minute reached for token "
                f"'{who.name}': retry after {math.ceil(wait)} s, or raise rate_limit_per_minute "
                "in settings.json",
                "rate_limit_error",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        now = time.monotonic()
        if now - self._touched.get(who.token_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
            self._touched[who.token_id] = now
            self.store.touch_token(who.token_id)
        return who

    def close(self) -> None:
        """Finish queued jobs; every draft they make is saved before this returns."""
        self.jobs.wait()
        self.jobs.shutdown(wait=True)


bearer = HTTPBearer(
    auto_error=False,
    description="An API token from 'understudy serve token create NAME'.",
)


def require_scope(needed: str) -> Callable[..., Caller]:
    """FastAPI dependency: the caller of a /v1 request if its token's scope covers `needed`.

    Answers a 401/429 JSON error for a missing, bad or throttled token, and 403 for a token
    whose scope is too narrow.
    """
    check_scope(needed)

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        caller = request.app.state.service.caller(request.headers.get("authorization"))
        if not caller.allows(needed):
            raise scope_error(caller, needed, f"{request.method} {request.url.path}")
        return caller

    return dependency


def scope_error(caller: Caller, needed: str, what: str) -> APIError:
    """The 403 for a token whose scope does not cover `needed`."""
    return APIError(
        403,
        f"The token '{caller.name}' has the {caller.scope} scope; {what} needs the {needed} "
        f"scope: create a token with 'understudy serve token create NAME --scope {needed}'",
        "permission_error",
        code="insufficient_scope",
    )


require_caller = require_scope("ask")


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(413, self._message(), "invalid_request_error")(
                scope, receive, send
            )
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return (
            f"Request body is over {self.limit} bytes: send less, or raise serve_body_limit "
            "in settings.json"
        )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, exc.code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc), "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.method} {request.url.path} (see /openapi.json)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /openapi.json)"
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return error_response(exc.status_code, message, kind, headers=exc.headers)

    @app.exception_handler(UnderstudyError)
    async def _understudy(request: Request, exc: UnderstudyError) -> JSONResponse:
        status = _status_of(exc)
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        if status >= 500:
            kind = "server_error"
        return error_response(status, str(exc), kind)


def create_app(
    workspace: Workspace, backend: str | None = None, slack: bool | None = None
) -> FastAPI:
    """The whole server; Slack is mounted when its bot token and signing secret are set."""
    from . import api, hooks, openai_compat, tokens, web

    service = Service(workspace, backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from threadpoolctl import threadpool_limits

        service.answerer()  # load the model and the index before the first request
        # One BLAS thread: the cosine scan is small, and idle BLAS threads spin on the cores
        # that the ticket encoders of concurrent requests need.
        blas = threadpool_limits(1, user_api="blas")
        try:
            yield
        finally:
            blas.restore_original_limits()
            service.close()

    app = FastAPI(
        title="understudy",
        summary="Drafts answers to support tickets from how the team answered before.",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    _install_errors(app)
    app.add_middleware(BodyLimit, limit=service.body_limit)
    app.include_router(api.router)
    app.include_router(openai_compat.router)
    app.include_router(tokens.router)
    app.include_router(hooks.router)
    app.include_router(web.router)
    settings = workspace.settings
    if slack or (
        slack is None
        and settings.secret("slack_bot_token")
        and settings.secret("slack_signing_secret")
    ):
        from .slack import mount

        mount(app, service)
    return app


def run(
    workspace: Workspace, host: str = "127.0.0.1", port: int = 8000,
    backend: str | None = None, log_level: str = "info",
) -> None:
    """Serve until interrupted; in-flight requests and queued jobs finish first."""
    import uvicorn

    app = create_app(workspace, backend)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30)
