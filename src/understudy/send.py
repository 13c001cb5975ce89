"""Sending a reviewed draft to where its thread came from, exactly once.

A send is a claimed step: the draft is claimed in the store (a conditional update to 'sending'
that only one sender can win), the destination is searched for the draft's marker, the body is
posted (or the earlier post is edited), and the draft is recorded 'sent' with the text the
destination shows. A claim left by a sender that died is taken over once it is stale; the marker
search then finds what that sender had already posted, so nothing is posted twice.

A ticket gets one answer per customer message: the claim records the message it answers, and
of two drafts of one ticket (drafted twice, or by a webhook and `answer --open` at once) only
the first claimed is posted; the other is refused unless sent with `again`.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Collection
from datetime import UTC, datetime

from .destinations.base import Destination, Posted
from .errors import SendError, UnderstudyError
from .evidence import bot_accounts, is_own_post
from .marker import MARKER, marker
from .plugins import load, registry
from .records import Draft, Thread
from .store.sending import AlreadyAnswered
from .text.outgoing import safe_outgoing
from .workspace import Workspace

CLAIM_TIMEOUT = 600.0  # seconds after which a claim is stale (setting "send_claim_timeout")
_POLL = 0.1


def new_claimant() -> str:
    """Who is sending: process and host (to tell a dead sender) and a nonce (to tell threads)."""
    return f"{os.getpid()}@{socket.gethostname()}:{secrets.token_hex(4)}"


def claim_is_stale(draft: Draft, timeout: float = CLAIM_TIMEOUT) -> bool:
    """Whether a 'sending' claim belongs to a sender that is gone (too old, or its pid died)."""
    if not draft.claimed_at or not draft.claimed_by:
        return True
    try:
        claimed = datetime.fromisoformat(draft.claimed_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    if (datetime.now(UTC) - claimed).total_seconds() > timeout:
        return True
    pid, _, rest = draft.claimed_by.partition("@")
    host = rest.rpartition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def destination_for(workspace: Workspace, thread: Thread) -> Destination:
    """The registered destination of the thread's source."""
    if thread.source not in registry("destinations"):
        raise SendError(
            f"Ticket {thread.id} comes from the {thread.source} source, which has nowhere to "
            "post: save "
            "its draft ('understudy review' then 'save FILE') and post it by hand"
        )
    return load("destinations", thread.source)(workspace.settings)


def send_draft(
    workspace: Workspace,
    draft_id: int,
    text: str | None = None,
    internal: bool = False,
    wait: float = 0.0,
    destination: Destination | None = None,
    again: bool = False,
) -> Draft:
    """Post the draft's final text (or `text`) once, however many senders try at the same time.

    Args:
        again: post it even when another draft of the ticket already answered the same
            customer message (by default that send is refused).
        wait: seconds to wait for another sender that holds the claim to finish; past it the
            send is refused with "already being sent".
        destination: where to post (default: the one registered for the thread's source).

    Raises:
        SendError: nothing to post, another sender holds the draft, or the destination failed
            (the draft keeps the error and can be sent again).
    """
    store = workspace.store
    draft = store.get_draft(draft_id)
    if draft.status == "sent":
        return _already_sent(workspace, draft, text)
    thread = store.get_thread(draft.thread_id)
    destination = destination or destination_for(workspace, thread)
    if text is not None and not text.strip():
        raise SendError(f"The text for draft {draft.id} is empty: write the answer first")
    if text is None and not (draft.final_text or draft.text).strip():
        raise SendError(f"Draft {draft.id} is empty: edit it, then send with --file EDITED")
    if draft.abstained and text is None and draft.final_text is None:
        raise SendError(
            f"Draft {draft.id} abstained (no confident answer): write the answer and send it "
            f"with 'understudy send {draft.id} --file EDITED'"
        )
    if internal and destination.no_internal:
        raise SendError(destination.no_internal)
    settings = workspace.settings
    timeout = float(settings.get("send_claim_timeout") or CLAIM_TIMEOUT)
    claimant = new_claimant()
    answers = None if again else answered_message(thread, bot_accounts(settings.get("bot_account")))
    try:
        claimed, back_to = _claim(workspace, draft, claimant, text, wait, timeout, answers)
    except AlreadyAnswered as taken:
        raise SendError(
            f"Ticket {thread.id} already has an answer to its latest message (draft "
            f"{taken.draft_id}, {taken.status}); draft {draft.id} was not posted: to post it as "
            f"well, run 'understudy send {draft.id} --again'"
        ) from None
    if claimed.status == "sent":
        return _already_sent(workspace, claimed, text)
    allowed = settings.get("allowed_quick_actions") or ()
    public = settings.get("public_contacts") or ()
    final = safe_outgoing(claimed.final_text or claimed.text, allowed_quick_actions=allowed,
                          public_contacts=public)
    tag = marker(claimed)
    body = f"{final.rstrip()}\n\n{tag}\n"
    try:
        posted = destination.find(thread, tag)
        if posted is None:
            posted = destination.post(thread, body, internal=internal)
        elif posted.body is not None and _shown(posted.body, tag).strip() != final.strip():
            return _edit_posted(workspace, claimed, claimant, destination, thread, posted, final)
    except UnderstudyError as exc:
        store.release_draft(claimed.id, claimant, back_to, str(exc))
        raise
    except Exception as exc:  # network and client failures: keep the draft, report one line
        error = f"{type(exc).__name__}: {exc}"
        store.release_draft(claimed.id, claimant, back_to, error)
        raise SendError(f"Sending draft {claimed.id} failed ({error}); retry later") from exc
    return _record(workspace, claimed, claimant, final, posted)


def answered_message(thread: Thread, bots: frozenset[str] = frozenset()) -> str:
    """The customer message a draft of `thread` answers: "THREAD:MESSAGE" for its latest
    message that neither the team, a bot nor understudy wrote."""
    for position in range(len(thread.messages) - 1, -1, -1):
        message = thread.messages[position]
        if not (message.is_team or message.is_bot or is_own_post(message, bots)):
            return f"{thread.id}:{message.external_id or position}"
    return f"{thread.id}:0"


def _claim(
    workspace: Workspace, draft: Draft, claimant: str, text: str | None, wait: float,
    timeout: float, answers: str | None = None,
) -> tuple[Draft, str]:
    """The draft claimed by `claimant` (or found sent by another), and its status before."""
    store = workspace.store
    deadline = time.monotonic() + wait
    current = draft
    while True:
        if current.status == "sent":
            return current, current.status
        if current.status == "discarded":
            raise SendError(f"Draft {current.id} was discarded: draft the ticket again with "
                            "'understudy answer', or edit and save this one in 'understudy review'")
        free = current.status in ("new", "saved")
        if free or (current.status == "sending" and claim_is_stale(current, timeout)):
            final = text if text is not None else (current.final_text or current.text)
            if store.claim_draft(current.id, claimant, current.status, current.claimed_by, final,
                                 answers):
                back_to = current.status if free else "saved"
                return store.get_draft(current.id), back_to
        elif time.monotonic() >= deadline:
            raise SendError(
                f"Draft {current.id} is already being sent (since {current.claimed_at} by "
                f"{current.claimed_by}): check it in a moment with 'understudy drafts --status "
                f"sent'; a claim older than {timeout:.0f} s is taken over by the next send"
            )
        else:
            time.sleep(_POLL)
        current = store.get_draft(current.id)


def _already_sent(workspace: Workspace, draft: Draft, text: str | None) -> Draft:
    """A draft another send already posted: fine for the same text, refused for another one."""
    allowed = workspace.settings.get("allowed_quick_actions") or ()
    public = workspace.settings.get("public_contacts") or ()
    sent = (draft.final_text or "").strip()
    if text is not None and sent not in (text.strip(),
                                         safe_outgoing(text, allowed, public).strip()):
        raise SendError(
            f"Draft {draft.id} was already sent ({draft.sent_to}) with other text; nothing was "
            "changed: edit the note there if it needs correcting"
        )
    return draft


def _edit_posted(
    workspace: Workspace, draft: Draft, claimant: str, destination: Destination, thread: Thread,
    posted: Posted, final: str,
) -> Draft:
    """An earlier post with other text (a sender died after posting): edit it, or say why not."""
    tag = marker(draft)
    try:
        updated = destination.update(thread, posted, f"{final.rstrip()}\n\n{tag}\n")
    except UnderstudyError as exc:
        # The earlier post stays what the ticket shows, so that is what the draft records.
        shown = (posted.body or "").replace(tag, "").rstrip() + "\n"
        why = (f"Draft {draft.id} was already posted ({posted.url}) with its earlier text, "
               f"which was kept: {exc}")
        _record(workspace, draft, claimant, shown, posted, error=why)
        raise SendError(why) from None
    return _record(workspace, draft, claimant, final, updated)


def _shown(body: str, tag: str) -> str:
    """What a posted body shows a reader: the body without its marker line."""
    return body.replace(tag, "").rstrip() + "\n"


def _record(
    workspace: Workspace, draft: Draft, claimant: str, final: str, posted: Posted,
    error: str | None = None,
) -> Draft:
    store = workspace.store
    if store.record_sent(draft.id, claimant, final, posted.url, posted.id, error):
        store.log_review("sent", draft.thread_id, draft.id)
    return store.get_draft(draft.id)


def is_own(body: str, author: str, own_authors: Collection[str]) -> bool:
    """Whether a message was posted by understudy: it carries a marker, or its token's user."""
    return bool(MARKER.search(body or "")) or (bool(author) and author in own_authors)


def own_authors(workspace: Workspace, thread: Thread) -> set[str]:
    """The user names understudy posts as on the thread's host (empty when it cannot tell)."""
    try:
        name = destination_for(workspace, thread).own_user(thread)
    except UnderstudyError:
        return set()  # the marker alone still tells understudy's own posts
    return {name} if name else set()
