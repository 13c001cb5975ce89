"""The GitLab webhook: a new issue (or a new note nobody on the team answered) gets a draft."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..marker import MARKER
from ..plugins import load
from ..records import Draft
from ..send import own_authors
from ..store.locks import named_lock
from ..watch import OPEN_STATES, draft_ticket, needs_answer
from .app import APIError, Service

router = APIRouter(prefix="/hooks", tags=["hooks"])


class HookAccepted(BaseModel):
    status: str  # "queued", "ignored" or "duplicate"
    reason: str = ""


def ticket_url(payload: dict[str, Any]) -> str | None:
    """The issue URL an event is about, when it is one that may need an answer."""
    kind = payload.get("object_kind")
    attrs = payload.get("object_attributes") or {}
    if kind == "issue" and payload.get("event_type", "issue") == "issue":
        if attrs.get("action") in ("open", "reopen"):
            return attrs.get("url")
        return None
    if kind == "note" and payload.get("event_type", "note") == "note":
        if attrs.get("noteable_type") != "Issue" or attrs.get("system"):
            return None
        if MARKER.search(str(attrs.get("note") or "")):
            return None  # understudy's own note: nothing to answer
        issue = payload.get("issue") or {}
        if issue.get("url"):
            return issue["url"]
        web_url = (payload.get("project") or {}).get("web_url")
        if web_url and issue.get("iid"):
            return f"{web_url}/-/issues/{issue['iid']}"
    return None


def handle_ticket(service: Service, url: str) -> Draft | None:
    """Fetch the issue, store it, and draft an answer if it is open and the team has not replied."""
    workspace = service.workspace
    # One delivery at a time: two events of one issue, one draft, in this process and (the
    # named lock) in every other worker on the same database.
    with service.hook_lock, named_lock(workspace.store, f"ticket:{url}"):
        source = load("sources", "gitlab")(workspace.settings, workspace.store)
        thread = source.fetch_url(url)
        outcome = workspace.store.upsert_thread(thread)
        if thread.state not in OPEN_STATES:
            return None
        if not needs_answer(thread, own_authors(workspace, thread)):
            return None  # the team or understudy itself spoke last
        if outcome == "unchanged" and workspace.store.drafts(thread_id=thread.id):
            return None  # nothing new since the last draft
        return draft_ticket(workspace, service.answerer(), thread)


@router.post("/gitlab", status_code=202, response_model=HookAccepted,
             summary="GitLab issue and note events (verified by X-Gitlab-Token)")
async def gitlab_hook(request: Request) -> HookAccepted:
    service: Service = request.app.state.service
    secret = service.settings.secret("gitlab_webhook_secret")
    if not secret:
        raise APIError(503, "Webhooks are off: set GITLAB_WEBHOOK_SECRET (or "
                            "\"gitlab_webhook_secret\" in settings.json) and use it as the "
                            "hook's secret token", "server_error")
    given = request.headers.get("x-gitlab-token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise APIError(401, "Wrong or missing X-Gitlab-Token: set the hook's secret token to "
                            "GITLAB_WEBHOOK_SECRET", "authentication_error")
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise APIError(400, "The body is not JSON: send GitLab's webhook payload") from None
    if not isinstance(payload, dict):
        raise APIError(400, "The body is not a JSON object: send GitLab's webhook payload")
    url = ticket_url(payload)
    if url is None:
        return HookAccepted(status="ignored", reason="not a new issue or an issue note")
    delivery = (request.headers.get("x-gitlab-event-uuid")
                or request.headers.get("idempotency-key")
                or hashlib.sha256(raw).hexdigest())
    if not service.store.mark_seen("gitlab-hook", delivery):
        return HookAccepted(status="duplicate", reason=f"delivery {delivery} was seen before")
    service.jobs.submit(handle_ticket, service, url)
    return HookAccepted(status="queued")
