"""The offline backend: the single best past reply (or doc passage), cleaned for a new reader.

The draft is that one reply as the team wrote it, without the handles it was addressed to, the
agent's initials or HTML entities, then a link to where it came from and to related threads or
docs of the team's own, by title and link only.
"""

from __future__ import annotations

from ..evidence import Evidence, clean_for_reader, link, related
from ..records import Thread
from .base import Backend, Composition

RELATED = 3


class RetrievalBackend(Backend):
    name = "retrieval"

    @property
    def model_name(self) -> str:
        return self.workspace.index.embedder.name

    def compose(self, ticket: Thread, evidence: list[Evidence]) -> Composition:
        best = evidence[0]
        body = clean_for_reader(best.text, own=best.author, names=best.askers)
        parts = [body]
        shown = set()
        if best.url:
            parts += ["", f"Source: {link(best)}"]
            shown.add(best.url.split("#")[0])
        others = [e for e in evidence[1:] if e.thread_id is None or e.thread_id != best.thread_id]
        linked = related(others, RELATED, skip=shown)
        if linked:
            parts += ["", "Related:", *[f"- {link(e)}" for e in linked]]
        used = [best, *linked]
        return Composition("\n".join(parts).strip(), used=used, model=self.model_name)
