"""Sending a reviewed draft to where its thread came from, at most once."""

from __future__ import annotations

from .errors import SendError, UnderstudyError
from .plugins import load, registry
from .records import Draft
from .workspace import Workspace


def marker(draft: Draft) -> str:
    """The hidden line carried by a posted body, so a retry finds it instead of posting again."""
    return f"<!-- understudy-draft:{draft.thread_id}:{draft.id} -->"


def send_draft(
    workspace: Workspace, draft_id: int, text: str | None = None, internal: bool = False
) -> Draft:
    """Post the draft's final text; the draft is saved before and marked sent after."""
    store = workspace.store
    draft = store.get_draft(draft_id)
    if draft.status == "sent":
        return draft
    thread = store.get_thread(draft.thread_id)
    if thread.source not in registry("destinations"):
        raise SendError(
            f"Draft {draft.id} answers a ticket from a {thread.source}, which has nowhere to "
            "post: save it ('understudy review' then 'save FILE') and post it by hand"
        )
    final = text if text is not None else (draft.final_text or draft.text)
    if not final.strip():
        raise SendError(f"Draft {draft.id} is empty: edit it, then send with --file EDITED")
    if draft.abstained and text is None and draft.final_text is None:
        raise SendError(
            f"Draft {draft.id} abstained (no confident answer): write the answer and send it "
            f"with 'understudy send {draft.id} --file EDITED'"
        )
    draft.final_text = final
    draft.error = None
    store.save_draft(draft)
    tag = marker(draft)
    destination = load("destinations", thread.source)(workspace.settings)
    try:
        posted = destination.find(thread, tag)
        if posted is None:
            posted = destination.post(thread, f"{final.rstrip()}\n\n{tag}\n", internal=internal)
    except UnderstudyError as exc:
        draft.error = str(exc)
        store.save_draft(draft)
        raise
    except Exception as exc:  # network and client failures: keep the draft, report one line
        draft.error = f"{type(exc).__name__}: {exc}"
        store.save_draft(draft)
        raise SendError(f"Sending draft {draft.id} failed ({draft.error}); retry later") from exc
    draft.status = "sent"
    draft.sent_to = posted.url
    draft.sent_id = posted.id
    store.save_draft(draft)
    store.log_review("sent", thread.id, draft.id)
    return draft
