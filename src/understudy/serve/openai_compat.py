"""OpenAI-compatible /v1/chat/completions (streaming too) and /v1/models over the answerer."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..plugins import registry
from ..records import Draft
from ..workspace import Workspace
from .api import HistoryMessage, asked_by, ticket_thread
from .app import APIError, require_scope
from .auth import Caller

router = APIRouter(prefix="/v1", tags=["openai"])

DEFAULT_MODEL = "understudy"  # the workspace's default backend
CHUNK_WORDS = 4


def model_names(workspace: Workspace) -> dict[str, tuple[str, str | None]]:
    """Model name -> (backend, model): 'understudy', each backend, each ready generating model."""
    from ..store.training import models

    names: dict[str, tuple[str, str | None]] = {
        DEFAULT_MODEL: (workspace.settings.get("default_backend") or "retrieval", None)
    }
    for backend in registry("backends"):
        names[backend] = (backend, None)
    for model in models(workspace.store, status="ready"):
        target = model.remote_id if model.backend == "openai" else model.path
        if model.backend in ("openai", "local") and target:
            names.setdefault(model.name, (model.backend, target))
    return names


class ChatMessage(BaseModel):
    """One chat message; content is text or a list of OpenAI content parts."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            parts = [p for p in self.content if p.get("type") == "text"]
            return "\n".join(str(p.get("text", "")) for p in parts)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(..., min_length=1)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=500)
    stream: bool = False
    user: str | None = None


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


@router.get("/models", response_model=ModelList, summary="The models (backends) to chat with")
def list_models(
    request: Request, caller: Caller = Depends(require_scope("ask"))
) -> ModelList:
    service = request.app.state.service
    return ModelList(data=[
        ModelOut(id=name, created=0, owned_by=f"understudy:{backend}")
        for name, (backend, _) in model_names(service.workspace).items()
    ])


def _extension(draft: Draft) -> dict[str, Any]:
    """What understudy adds to OpenAI's shape: the draft id, confidence and sources."""
    return {
        "draft_id": draft.id,
        "confidence": draft.confidence,
        "abstained": draft.abstained,
        "sources": [
            {"title": s.title, "url": s.url, "kind": s.kind, "score": s.score}
            for s in draft.sources
        ],
    }


def _usage(prompt: str, completion: str) -> dict[str, int]:
    # Word counts: the retrieval backend has no tokenizer; close enough for accounting.
    p, c = len(prompt.split()), len(completion.split())
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _stream(draft: Draft, model: str, created: int) -> Iterator[str]:
    base = {"id": f"chatcmpl-{draft.id}", "object": "chat.completion.chunk",
            "created": created, "model": model}

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return f"data: {json.dumps({**base, 'choices': [choice], **extra})}\n\n"

    yield event({"role": "assistant", "content": ""}, understudy=_extension(draft))
    words = re.findall(r"\S+\s*|\s+", draft.text)
    for start in range(0, len(words), CHUNK_WORDS):
        yield event({"content": "".join(words[start : start + CHUNK_WORDS])})
    yield event({}, "stop")
    yield "data: [DONE]\n\n"


def chat_history(messages: list[ChatMessage], author: str) -> list[HistoryMessage]:
    """The user and assistant turns before the last user message, as the ticket's history.

    System, developer and tool messages are instructions or plumbing, not part of the
    conversation with the customer, so they are left out.
    """
    last = max(i for i, m in enumerate(messages) if m.role == "user" and m.text.strip())
    return [
        HistoryMessage(author=author if m.role == "user" else "assistant", body=m.text.strip(),
                       is_team=m.role == "assistant")
        for m in messages[:last] if m.role in ("user", "assistant") and m.text.strip()
    ]


@router.post("/chat/completions", summary="Chat with the team's understudy (OpenAI-compatible)")
def chat_completions(
    body: ChatRequest, request: Request, caller: Caller = Depends(require_scope("ask"))
) -> Any:
    """The last user message is the one to answer; earlier turns are the ticket's history."""
    service = request.app.state.service
    models = model_names(service.workspace)
    target = models.get(body.model)
    if target is None:
        raise APIError(
            404,
            f"The model '{body.model}' does not exist: choose one of "
            f"{', '.join(models)} (GET /v1/models)",
            code="model_not_found",
        )
    users = [m for m in body.messages if m.role == "user" and m.text.strip()]
    if not users:
        raise APIError(400, "messages has no user message with text: add the question as "
                            "{\"role\": \"user\", \"content\": \"...\"}")
    question = users[-1].text.strip()
    author = body.user or caller.name
    title = question.splitlines()[0][:200]
    thread = ticket_thread(title, question, author, chat_history(body.messages, author),
                           meta={"chat": True, **asked_by(caller)})
    stored = service.store.find_thread(thread.source, thread.external_id)
    draft = service.draft(stored or thread, *target)
    created = int(time.time())
    if body.stream:
        return StreamingResponse(_stream(draft, body.model, created),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    return {
        "id": f"chatcmpl-{draft.id}",
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": draft.text},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        "usage": _usage(question, draft.text),
        "understudy": _extension(draft),
    }
