"""The REST API under /v1: draft an answer, list drafts, give feedback, send."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..records import DRAFT_STATUSES, Draft, Message, Thread
from ..send import send_draft
from ..store import MAX_ID, now
from .app import APIError, require_scope, scope_error
from .auth import Caller

# An id SQLite cannot hold names no draft: refused as 422 before any query.
DraftId = Annotated[int, Path(ge=1, le=MAX_ID, description="The draft's id.")]

router = APIRouter(prefix="/v1", tags=["answers"])


class HistoryMessage(BaseModel):
    """One earlier message of the ticket's thread, written before `body`."""

    model_config = ConfigDict(extra="forbid")
    author: str = Field("", max_length=200, description="Who wrote it (a name or handle).")
    body: str = Field(..., min_length=1, description="What was written, as text or markdown.")
    is_team: bool = Field(
        False, description="True for a message by the support team (an earlier answer), "
        "false for the customer's.",
    )


class AnswerRequest(BaseModel):
    """A ticket to draft an answer for."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(..., min_length=1, max_length=500, description="The ticket's subject.")
    body: str = Field("", description="The newest message, the one to answer.")
    author: str = Field("", max_length=200, description="Who wrote `body`.")
    history: list[HistoryMessage] = Field(
        default_factory=list, max_length=200,
        description="The thread's earlier messages, oldest first, before `body`: the customer's "
        "first question and any answers and follow-ups since. They are kept with the ticket "
        "and the first of them is matched with the title, so context from earlier turns "
        "reaches retrieval.",
    )
    backend: str | None = Field(None, description="Backend name (default: the workspace's).")


class SourceOut(BaseModel):
    kind: str
    key: str
    url: str
    title: str
    score: float
    thread_id: int | None = None


class DraftOut(BaseModel):
    """A draft as the API returns it."""

    id: int
    thread_id: int
    text: str
    sources: list[SourceOut]
    confidence: float
    abstained: bool
    status: str
    backend: str
    model: str
    final_text: str | None
    sent_to: str | None
    error: str | None
    thread_url: str
    thread_title: str
    created_at: str
    updated_at: str
    language: str | None = Field(
        None, description="The ticket's language (ISO 639-1), when it could be told")

    @classmethod
    def of(cls, draft: Draft) -> DraftOut:
        data = draft.to_dict()
        return cls(**{k: data[k] for k in cls.model_fields})


class DraftList(BaseModel):
    data: list[DraftOut]


class FeedbackRequest(BaseModel):
    """Thumbs up or down, and/or the text the answer should have been."""

    model_config = ConfigDict(extra="forbid")
    rating: Literal["up", "down"] | None = None
    text: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _something(self) -> FeedbackRequest:
        if self.rating is None and self.text is None:
            raise ValueError("give a rating ('up' or 'down'), an edited text, or both")
        return self


class FeedbackOut(BaseModel):
    draft: DraftOut
    feedback: int = Field(..., description="How many feedback records this draft has.")


class SendRequest(BaseModel):
    """Send the draft (or this text instead) back where its ticket came from."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, min_length=1)
    internal: bool | None = Field(None, description="Internal note (default: internal_notes).")


def ticket_thread(
    title: str, body: str, author: str = "", history: list[HistoryMessage] | None = None,
    meta: dict | None = None,
) -> Thread:
    """A ticket that arrived over the API as a Thread of source 'api' (id from its content).

    The messages are the history, oldest first, then `body`: the first of them is the
    ticket's question, as in a thread synced from a tracker.
    """
    history = history or []
    content = [title, body, [[h.author, h.body, h.is_team] for h in history], meta or {}]
    digest = hashlib.sha256(json.dumps(content).encode()).hexdigest()[:24]
    stamp = now()
    turns = [(h.author, h.body, h.is_team) for h in history]
    turns.append((author or "api", body or title, False))
    messages = [
        Message(str(i), who, text, stamp, kind="question" if i == 0 else "reply", is_team=team)
        for i, (who, text, team) in enumerate(turns)
    ]
    return Thread(source="api", external_id=digest, url="", title=title, state="opened",
                  created_at=stamp, updated_at=stamp, messages=messages, meta=meta or {})


def asked_by(caller: Caller) -> dict:
    """Thread meta naming the token that asked: an ask token may rate only its own answers."""
    return {"asked_by": caller.token_id}


def _service(request: Request):
    return request.app.state.service


@router.post("/answers", response_model=DraftOut, summary="Draft an answer for a ticket")
def create_answer(
    body: AnswerRequest, request: Request, caller: Caller = Depends(require_scope("ask"))
) -> DraftOut:
    """Draft an answer with sources and a confidence; the draft is kept for review."""
    service = _service(request)
    thread = ticket_thread(body.title, body.body, body.author, body.history,
                           meta=asked_by(caller))
    stored = service.store.find_thread(thread.source, thread.external_id)
    draft = service.draft(stored or thread, body.backend)
    return DraftOut.of(draft)


@router.get("/drafts", response_model=DraftList, summary="List drafts, newest first")
def list_drafts(
    request: Request,
    status: str | None = Query(None, description="new, saved, sent or discarded"),
    limit: int = Query(50, ge=1, le=500),
    caller: Caller = Depends(require_scope("review")),
) -> DraftList:
    if status is not None and status not in DRAFT_STATUSES:
        raise APIError(400, f"Unknown status '{status}': use one of {', '.join(DRAFT_STATUSES)}")
    service = _service(request)
    with service.store.lock:
        found = service.store.drafts(status=status)
    return DraftList(data=[DraftOut.of(d) for d in reversed(found[-limit:])])


@router.get("/drafts/{draft_id}", response_model=DraftOut, summary="One draft")
def get_draft(
    draft_id: DraftId, request: Request, caller: Caller = Depends(require_scope("review"))
) -> DraftOut:
    return DraftOut.of(_service(request).get_draft(draft_id))


@router.post("/drafts/{draft_id}/feedback", response_model=FeedbackOut,
             summary="Rate a draft or give the text it should have been")
def give_feedback(
    draft_id: DraftId, body: FeedbackRequest, request: Request,
    caller: Caller = Depends(require_scope("ask")),
) -> FeedbackOut:
    """A review token may rate or edit any draft; an ask token may rate its own answers."""
    service = _service(request)
    if not caller.allows("review"):
        own = service.store.get_thread(service.get_draft(draft_id).thread_id).meta
        if body.text is not None or own.get("asked_by") != caller.token_id:
            raise scope_error(caller, "review", "feedback with a text, or on a draft this "
                              "token did not ask for,")
    draft = service.feedback(draft_id, body.rating, body.text, "api", caller.name)
    return FeedbackOut(draft=DraftOut.of(draft), feedback=len(service.store.feedback(draft_id)))


@router.post("/drafts/{draft_id}/send", response_model=DraftOut,
             summary="Send a draft back where its ticket came from (at most once)")
def send(
    draft_id: DraftId, request: Request, body: SendRequest | None = None,
    caller: Caller = Depends(require_scope("review")),
) -> DraftOut:
    service = _service(request)
    body = body or SendRequest()
    internal = body.internal
    if internal is None:
        internal = bool(service.settings.get("internal_notes"))
    sent = send_draft(service.workspace, draft_id, text=body.text, internal=internal)
    return DraftOut.of(sent)
