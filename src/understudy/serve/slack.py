"""The Slack app (slack_bolt): answers mentions in the thread, with sources and feedback buttons."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from ..destinations.slack import DEFAULT_API_URL, SlackDestination, permalink
from ..errors import UnderstudyError
from ..records import Draft, Message, Thread
from ..send import send_draft
from .app import Service

log = logging.getLogger("understudy.slack")
UP = {"+1", "thumbsup", "white_check_mark", "heavy_check_mark", "100"}
DOWN = {"-1", "thumbsdown", "x"}
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def to_mrkdwn(markdown: str) -> str:
    """Markdown links and bold as Slack's mrkdwn."""
    text = _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", markdown)
    return re.sub(r"\*\*([^*]+)\*\*", r"*\1*", text)


def slack_thread(channel: str, thread_ts: str, ts: str, user: str, text: str) -> Thread:
    """A question asked in Slack as a Thread of source 'slack' (external id channel:thread_ts)."""
    when = datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    title = text.strip().splitlines()[0][:200]
    return Thread(
        source="slack", external_id=f"{channel}:{thread_ts}", url=permalink(channel, thread_ts),
        title=title, state="opened", created_at=when, updated_at=when,
        messages=[Message(ts, user, text.strip(), when, kind="question")],
        meta={"channel": channel, "thread_ts": thread_ts},
    )


def _feedback_buttons(draft: Draft) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"understudy_feedback:{draft.id}",
        "elements": [
            {"type": "button", "action_id": "understudy_feedback_up", "value": str(draft.id),
             "text": {"type": "plain_text", "text": ":+1: Helpful", "emoji": True}},
            {"type": "button", "action_id": "understudy_feedback_down", "value": str(draft.id),
             "text": {"type": "plain_text", "text": ":-1: Not helpful", "emoji": True}},
        ],
    }


def answer_blocks(draft: Draft, private: bool = False) -> list[dict[str, Any]]:
    """The answer, its sources as links, and feedback buttons (and 'Post' for a private draft)."""
    blocks: list[dict[str, Any]] = []
    if private:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"Only you can see this draft (confidence {draft.confidence:.2f}).")}]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                               "text": to_mrkdwn(draft.text)[:2900]}})
    links = [f"<{s.url}|{s.title}>" if s.url.startswith("http") else s.title
             for s in draft.sources]
    if links:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": "Sources: " + " · ".join(links)[:2900]}]})
    buttons = _feedback_buttons(draft)
    if private:
        buttons["elements"].insert(0, {
            "type": "button", "action_id": "understudy_post", "value": str(draft.id),
            "style": "primary", "text": {"type": "plain_text", "text": "Post in thread"}})
    blocks.append(buttons)
    return blocks


class SlackAnswerer:
    """What the Slack listeners do, kept apart from Bolt so each step is one method."""

    def __init__(self, service: Service):
        self.service = service
        self.settings = service.settings

    def channels(self) -> set[str]:
        return set(self.settings.get("slack_channels") or [])

    def answer(self, client: WebClient, event: dict[str, Any]) -> Draft | None:
        """Draft an answer to a question; post it in the thread, or keep it quiet below the bar."""
        text = _MENTION.sub("", event.get("text") or "").strip()
        if not text:
            return None
        channel, ts = event["channel"], event["ts"]
        thread_ts = event.get("thread_ts") or ts
        thread = slack_thread(channel, thread_ts, ts, event.get("user", ""), text)
        answerer = self.service.answerer()
        draft = self.service.draft(thread)
        if not draft.abstained and draft.confidence >= answerer.threshold:
            return self.post(client, draft, channel, thread_ts)
        if self.settings.get("slack_low_confidence", "silent") == "private" and event.get("user"):
            client.chat_postEphemeral(
                channel=channel, user=event["user"], thread_ts=thread_ts,
                text=f"Draft answer (only you can see this): {to_mrkdwn(draft.text)}",
                blocks=answer_blocks(draft, private=True),
            )
        return draft

    def post(
        self, client: WebClient, draft: Draft, channel: str, thread_ts: str,
        text: str | None = None,
    ) -> Draft:
        """Post a draft (or `text`) in its Slack thread once: the claimed send of every
        destination."""

        def render(text: str) -> dict[str, Any]:
            return {"text": to_mrkdwn(text), "blocks": answer_blocks(replace(draft, text=text))}

        destination = SlackDestination(self.settings, client, render)
        try:
            return send_draft(self.service.workspace, draft.id, text, destination=destination)
        except UnderstudyError as exc:  # kept with its error, for review
            log.warning("Draft %s was kept but not posted in Slack: %s", draft.id, exc)
            return self.service.get_draft(draft.id)

    def post_private(self, client: WebClient, draft_id: int) -> Draft | None:
        """Post a private draft in its thread when the person who saw it chooses to."""
        draft = self.service.get_draft(draft_id)
        if draft.status == "sent":
            return draft
        thread = self.service.store.get_thread(draft.thread_id)
        if thread.source != "slack":
            return None
        channel, _, thread_ts = thread.external_id.partition(":")
        # The person who saw the private draft chose it, abstained or not.
        return self.post(client, draft, channel, thread_ts, draft.final_text or draft.text)

    def rate(self, draft_id: int, rating: str, user: str) -> None:
        self.service.feedback(draft_id, rating, None, "slack", user)

    def reaction(self, event: dict[str, Any]) -> None:
        """A reaction on one of the app's answers is a rating."""
        item = event.get("item") or {}
        name = (event.get("reaction") or "").split("::")[0]
        rating = "up" if name in UP else "down" if name in DOWN else None
        if rating is None or item.get("type") != "message":
            return
        draft = self.service.store.draft_by_sent_id(item.get("ts", ""))
        if draft is not None:
            self.rate(draft.id, rating, event.get("user", ""))


def build_app(service: Service, client: WebClient | None = None, *, http: bool = True) -> App:
    """The Bolt app; signatures are verified (over HTTP), retried and duplicate events dropped.

    Socket Mode (`http=False`) has no request signatures, so it needs no signing secret.
    """
    settings = service.settings
    token = settings.require_secret("slack_bot_token")
    client = client or WebClient(token=token,
                                 base_url=settings.get("slack_api_url") or DEFAULT_API_URL)
    bolt = App(
        token=token,
        signing_secret=settings.require_secret("slack_signing_secret") if http else "",
        request_verification_enabled=http,
        token_verification_enabled=False,
        client=client,
        listener_executor=service.jobs,
    )
    slack = SlackAnswerer(service)

    @bolt.middleware
    def once_per_event(body: dict, next: Any) -> BoltResponse | None:
        # Slack re-sends an event it thinks was missed; its event_id stays the same.
        event_id = body.get("event_id")
        if event_id and not service.store.mark_seen("slack", event_id):
            return BoltResponse(status=200, body="")
        return next()

    @bolt.event("app_mention")
    def on_mention(event: dict, client: WebClient) -> None:
        slack.answer(client, event)

    @bolt.event("message")
    def on_message(event: dict, client: WebClient, context: dict) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return
        if event.get("channel") not in slack.channels():
            return
        if event.get("thread_ts") not in (None, event.get("ts")):
            return  # replies inside a thread are people talking, not new questions
        if f"<@{context.get('bot_user_id')}>" in (event.get("text") or ""):
            return  # answered as a mention
        slack.answer(client, event)

    @bolt.event("reaction_added")
    def on_reaction(event: dict) -> None:
        slack.reaction(event)

    @bolt.action(re.compile(r"understudy_feedback_(up|down)"))
    def on_feedback(ack: Any, action: dict, body: dict) -> None:
        ack()
        rating = action["action_id"].rsplit("_", 1)[1]
        slack.rate(int(action["value"]), rating, (body.get("user") or {}).get("id", ""))

    @bolt.action("understudy_post")
    def on_post(ack: Any, action: dict, client: WebClient) -> None:
        ack()
        slack.post_private(client, int(action["value"]))

    return bolt


def mount(app: FastAPI, service: Service, client: WebClient | None = None) -> App:
    """Serve the Slack app's events and interactions at POST /slack/events."""
    bolt = build_app(service, client)
    app.state.slack = bolt

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        bolt_request = BoltRequest(body=body, query=request.url.query,
                                   headers={k: v for k, v in request.headers.items()})
        reply = await run_in_threadpool(bolt.dispatch, bolt_request)
        headers = {k: v[0] for k, v in reply.headers.items() if v and k != "content-length"}
        return Response(reply.body, status_code=reply.status, headers=headers)

    return bolt


def socket_mode(service: Service) -> Any:
    """A Socket Mode handler (for servers Slack cannot reach); call .connect() to start it.

    Its WebSocket URL comes from apps.connections.open, called with the app-level token
    (`slack_app_token`, SLACK_APP_TOKEN) at the Web API that HTTP mode uses (`slack_api_url`);
    no signing secret is needed.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = service.settings.require_secret("slack_app_token")
    return SocketModeHandler(build_app(service, http=False), app_token)
