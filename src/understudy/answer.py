"""The Answerer: ticket -> Draft, with sources, confidence, and abstention."""

from __future__ import annotations

from .backends.base import Backend
from .backends.retrieval import DEFAULT_THRESHOLD
from .errors import UsageError
from .plugins import load
from .records import Draft, SourceRef, Thread
from .workspace import Workspace

TOP_K = 5


def ticket_query(thread: Thread) -> str:
    """The text a ticket is matched by: its title and first message."""
    first = thread.messages[0].text if thread.messages else ""
    return f"{thread.title}\n{first}".strip()


class Answerer:
    """Retrieves knowledge for a ticket and asks a backend for a draft."""

    def __init__(self, workspace: Workspace, backend: str = "retrieval",
                 model: str | None = None):
        self.workspace = workspace
        self.backend: Backend = load("backends", backend)(workspace)
        self.index = workspace.index
        self.index.extra_patterns = workspace.settings.get("procedural_patterns") or []
        if model:
            self.use_model(model)

    def use_model(self, model: str) -> None:
        """Have a generating backend answer with `model` (a name, or a folder for local)."""
        if not hasattr(self.backend, "model"):
            raise UsageError(
                f"The {self.backend.name} backend takes no model: add --backend openai or local"
            )
        self.backend.model = model

    @property
    def threshold(self) -> float:
        value = self.workspace.settings.get("abstain_threshold")
        return DEFAULT_THRESHOLD if value is None else float(value)

    def draft(self, thread: Thread, before: str | None = None, save: bool = True) -> Draft:
        """Draft an answer for `thread`; `before` limits knowledge to items created earlier."""
        exclude = {thread.id} if thread.id is not None else None
        hits = self.index.search(ticket_query(thread), k=TOP_K, before=before,
                                 exclude_threads=exclude)
        reply = self.backend.reply(thread, hits, self.threshold)
        draft = Draft(
            thread_id=thread.id or 0,
            text=reply.text,
            backend=self.backend.name,
            model=reply.model,
            confidence=round(reply.confidence, 4),
            abstained=reply.abstained,
            sources=[
                SourceRef(h.item.kind, h.item.key, h.item.url, h.item.title, round(h.score, 4),
                          h.item.thread_id)
                for h in reply.used
            ],
            thread_url=thread.url,
            thread_title=thread.title,
        )
        if getattr(reply, "uncertain", False):
            draft.error = (f"uncertain: retrieval confidence {reply.confidence:.2f} is below "
                           f"{self.threshold:.2f}; check the answer against its sources")
        if save and thread.id is not None:
            self.workspace.store.save_draft(draft)
            self.workspace.store.log_review("drafted", thread.id, draft.id)
        return draft
