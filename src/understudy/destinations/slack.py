"""Posting a draft as a reply in the Slack thread it answers; the marker rides in metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..config import Settings
from ..errors import SendError
from ..marker import MARKER, without_marker
from ..records import Thread
from .base import Destination, Posted

DEFAULT_API_URL = "https://slack.com/api/"
EVENT_TYPE = "understudy_draft"


def permalink(channel: str, ts: str) -> str:
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


class SlackDestination(Destination):
    """A reply in the thread; Slack shows no HTML comments, so the marker is message metadata
    (read back by conversations.replies) rather than part of the text."""

    name = "slack"

    def __init__(
        self,
        settings: Settings,
        client: WebClient | None = None,
        render: Callable[[str], dict[str, Any]] | None = None,
    ):
        """`render` turns the text into chat.postMessage fields (text, blocks)."""
        super().__init__(settings)
        self.client = client or WebClient(token=settings.require_secret("slack_bot_token"),
                                          base_url=settings.get("slack_api_url")
                                          or DEFAULT_API_URL)
        self.render = render or (lambda text: {"text": text})

    def find(self, thread: Thread, marker: str) -> Posted | None:
        """The reply in the thread whose metadata carries `marker`, over every page."""
        channel, thread_ts = _where(thread)
        cursor = None
        while True:
            try:
                page = self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200,
                    cursor=cursor)
            except SlackApiError as exc:
                raise SendError(f"Slack refused to list the replies of {thread.url} "
                                f"({exc.response.get('error')}): check the bot's scopes "
                                "(channels:history) and that it is in the channel") from None
            for message in page.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("marker") == marker:
                    # The text was rendered as mrkdwn, so it cannot be compared with the draft's.
                    return Posted(message["ts"], permalink(channel, message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def post(self, thread: Thread, body: str, internal: bool = False) -> Posted:
        """Reply in the thread with `body` (its marker moved into the message metadata)."""
        channel, thread_ts = _where(thread)
        found = MARKER.search(body)
        text = without_marker(body)
        metadata = {"event_type": EVENT_TYPE,
                    "event_payload": {"marker": found.group(0).strip() if found else ""}}
        try:
            posted = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                                  metadata=metadata, unfurl_links=False,
                                                  **self.render(text))
        except SlackApiError as exc:
            raise SendError(f"Slack refused the reply in {thread.url} "
                            f"({exc.response.get('error')}): check SLACK_BOT_TOKEN and that "
                            "the bot is in the channel") from None
        return Posted(posted["ts"], permalink(channel, posted["ts"]), body)


def _where(thread: Thread) -> tuple[str, str]:
    channel, _, thread_ts = thread.external_id.partition(":")
    if not channel or not thread_ts:
        raise SendError(f"Ticket {thread.id} ({thread.external_id}) is not a Slack thread")
    return channel, thread_ts
