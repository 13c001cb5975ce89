"""Watch mode: poll GitLab, draft an answer for every new ticket, post the confident ones."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import UnderstudyError
from .records import Draft, Thread
from .send import is_own, own_authors, send_draft
from .sources import SyncReport, sync
from .workspace import Workspace

log = logging.getLogger("understudy.watch")

OPEN_STATES = ("opened", "open", "reopened")


def team_answered(thread: Thread, own: Collection[str] = ()) -> bool:
    """Whether someone on the team has replied in the thread (bots, system notes and
    understudy's own posts aside)."""
    return any(m.is_team and not m.is_bot and m.kind == "reply"
               and not is_own(m.body, m.author, own) for m in thread.messages[1:])


def needs_answer(thread: Thread, own: Collection[str] = ()) -> bool:
    """Whether a customer wrote last: no team reply, and nothing understudy posted since.

    understudy's own posts (its marker, or the user `own` names: the token's user, bot or not)
    never count as a customer message, so posting an answer never asks for another one.
    """
    if team_answered(thread, own):
        return False
    last_customer = last_own = -1
    for position, m in enumerate(thread.messages):
        if is_own(m.body, m.author, own) and position > 0:
            last_own = position
        elif position == 0 or (m.kind != "system" and not m.is_team and not m.is_bot):
            last_customer = position
    return last_customer > last_own


def draft_ticket(workspace: Workspace, answerer: Any, thread: Thread) -> Draft:
    """Draft an answer for a stored ticket; with auto_send on, post it when it is confident."""
    draft = answerer.draft(thread)
    settings = workspace.settings
    if settings.get("auto_send") and not draft.abstained and draft.confidence >= answerer.threshold:
        try:
            draft = send_draft(workspace, draft.id, internal=bool(settings.get("internal_notes")))
        except UnderstudyError as exc:  # the draft is kept with its error, for review
            log.warning("Draft %s was kept but not sent: %s", draft.id, exc)
            draft = workspace.store.get_draft(draft.id)
    return draft


@dataclass
class WatchRound:
    """What one round of watching did."""

    synced: SyncReport
    drafts: list[Draft] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(1 for d in self.drafts if d.status == "sent")

    def to_dict(self) -> dict[str, Any]:
        return {"synced": self.synced.to_dict(), "drafted": len(self.drafts), "sent": self.sent,
                "drafts": [d.to_dict() for d in self.drafts]}


def watch_once(workspace: Workspace, answerer: Any, **sync_options: Any) -> WatchRound:
    """Sync GitLab, bring the index up to date, and draft every open ticket nobody answered."""
    report = sync(workspace, "gitlab", **sync_options)
    if not answerer.index.ready or report.new or report.updated:
        answerer.index.build()
    done = WatchRound(report)
    own: dict[str, set[str]] = {}  # per host: one look-up of the token's user per round
    for thread in workspace.store.threads_needing_answer():
        if thread.source != "gitlab" or thread.state not in OPEN_STATES:
            continue
        host = urlsplit(thread.url).netloc
        if host not in own:
            own[host] = own_authors(workspace, thread)
        if needs_answer(thread, own[host]):
            done.drafts.append(draft_ticket(workspace, answerer, thread))
    return done


def watch(
    workspace: Workspace,
    interval: float = 300.0,
    once: bool = False,
    backend: str | None = None,
    on_round: Callable[[WatchRound], None] | None = None,
    on_error: Callable[[UnderstudyError], None] | None = None,
    stop: threading.Event | None = None,
    **sync_options: Any,
) -> None:
    """Run rounds every `interval` seconds until `stop` is set (or once); errors do not stop it."""
    answerer = workspace.answerer(backend)
    stop = stop or threading.Event()
    while True:
        try:
            result = watch_once(workspace, answerer, **sync_options)
        except UnderstudyError as exc:
            if once or on_error is None:
                raise
            on_error(exc)
        else:
            if on_round:
                on_round(result)
        if once or stop.wait(interval):
            return
