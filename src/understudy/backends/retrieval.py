"""The offline backend: the single best past reply (or doc passage), cleaned for a new reader.

The draft is that one reply as the team wrote it, without the handles it was addressed to, the
agent's initials or HTML entities, then a link to where it came from and to related threads or
docs of the team's own, by title and link only. Among replies that rank nearly equal, one in the
ticket's language is preferred: it needs no translating by the reviewer or the customer.
"""

from __future__ import annotations

from ..evidence import Evidence, clean_for_reader, link, related, ticket_language
from ..records import Thread
from ..text.language import detect_language
from .base import Backend, Composition

RELATED = 3
# Scores this close to the best (the ranking's scores spread over about 0.3 to 0.9) are a tie
# the ticket's language may break; past it, the better answer wins in any language.
NEAR = 0.02


def in_language(evidence: list[Evidence], language: str | None, near: float = NEAR
                ) -> Evidence:
    """The best evidence; or, when it is in another language than `language`, the best one in
    `language` whose score is within `near` of it."""
    best = evidence[0]
    if language is None or detect_language(best.text) in (language, None):
        return best
    for item in evidence[1:]:
        if best.score - item.score > near:
            break
        if detect_language(item.text) == language:
            return item
    return best


class RetrievalBackend(Backend):
    name = "retrieval"

    @property
    def model_name(self) -> str:
        return self.workspace.index.embedder.name

    def compose(self, ticket: Thread, evidence: list[Evidence]) -> Composition:
        best = in_language(evidence, ticket_language(ticket))
        body = clean_for_reader(best.text, own=best.author, names=best.askers)
        parts = [body]
        shown = set()
        if best.url:
            parts += ["", f"Source: {link(best)}"]
            shown.add(best.url.split("#")[0])
        others = [e for e in evidence
                  if e is not best and (e.thread_id is None or e.thread_id != best.thread_id)]
        linked = related(others, RELATED, skip=shown)
        if linked:
            parts += ["", "Related:", *[f"- {link(e)}" for e in linked]]
        used = [best, *linked]
        return Composition("\n".join(parts).strip(), used=used, model=self.model_name)
