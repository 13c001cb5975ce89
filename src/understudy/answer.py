"""The Answerer, the one pipeline from ticket to draft: retrieve -> rank -> compose -> judge.

Every backend and the backtest go through it: the retriever it is handed finds knowledge (the
workspace's index, or a view bounded in time), the ranking stage turns it into evidence (one
reply or passage each), the backend composes from the masked evidence, the judge says how sure
the draft is and abstains when it is not, and the text is made safe to send.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .backends.base import Backend, Composition
from .errors import UsageError
from .evidence import Evidence, bot_accounts, ticket_language, ticket_query
from .judge import Judge
from .plugins import load
from .ranker.answer import encoder, extra_encoders, load_ranker
from .ranker.stage import Ranking
from .records import Draft, SourceRef, Thread
from .retrieve import IndexRetriever, Retriever
from .text.masking import mask_secrets
from .text.outgoing import safe_outgoing

if TYPE_CHECKING:
    from .workspace import Workspace

TOP_K = 5  # items retrieved, and evidence a backend is handed at most

__all__ = ["TOP_K", "Answerer", "ticket_query"]


class Answerer:
    """Drafts answers for tickets with one backend; the pipeline's stages are its own."""

    def __init__(self, workspace: Workspace, backend: str = "retrieval",
                 model: str | None = None, retriever: Retriever | None = None,
                 judge: Judge | None = None, ranking: Ranking | None = None):
        self.workspace = workspace
        self.backend: Backend = load("backends", backend)(workspace)
        self.index = workspace.index
        patterns = workspace.settings.get("procedural_patterns") or []
        self.index.extra_patterns = patterns
        self.retriever: Retriever = retriever or IndexRetriever(self.index, workspace.store)
        self._judge = judge
        self._ranking = ranking
        if model:
            self.use_model(model)

    @property
    def judge(self) -> Judge:
        """The judge in force: the one handed in, else the workspace's calibration and
        settings as they are now (a changed threshold applies to the next draft)."""
        if self._judge is not None:
            return self._judge
        return Judge.for_workspace(self.workspace.home, self.workspace.settings,
                                   self.index.embedder.name)

    @property
    def ranking(self) -> Ranking:
        """The ranking stage: the workspace's trained ranker, else the default weighting."""
        if self._ranking is None:
            ws = self.workspace
            ranker = load_ranker(ws)
            extras = ranker.extras if ranker is not None else ()
            self._ranking = Ranking(ranker, lambda: encoder(ws), self.index.extra_patterns,
                                    bot_accounts(ws.settings.get("bot_account")),
                                    lambda: list(extra_encoders(ws, extras).values()))
        return self._ranking

    def use_model(self, model: str) -> None:
        """Have a generating backend answer with `model` (a name, or a folder for local)."""
        if not self.backend.takes_model:
            raise UsageError(
                f"The {self.backend.name} backend takes no model: add --backend openai or local"
            )
        self.backend.model = model  # type: ignore[attr-defined]  (takes_model says it has one)

    @property
    def threshold(self) -> float:
        return self.judge.threshold

    def evidence(self, thread: Thread, before: str | None = None,
                 retriever: Retriever | None = None) -> list[Evidence]:
        """Retrieve and rank: the evidence for `thread`, best first; `retriever`, when given,
        replaces the Answerer's own for this ticket (the backtest's view of one moment)."""
        retriever = retriever or self.retriever
        if before:
            retriever = IndexRetriever(self.index, self.workspace.store, before)
        query = ticket_query(thread)
        exclude = {thread.id} if thread.id is not None else None
        hits = retriever.search(query, TOP_K, exclude)
        return self.ranking.rank(thread, query, hits, retriever)

    def prompt_evidence(self, thread: Thread, before: str | None = None) -> list[Evidence]:
        """The evidence a backend is handed for `thread`, masked: what a prompt is built from,
        for answering and for training alike."""
        return _masked(self.evidence(thread, before)[:TOP_K])

    def _public_contacts(self) -> list[str]:
        return list(self.workspace.settings.get("public_contacts") or [])

    def draft(self, thread: Thread, before: str | None = None, save: bool = True,
              retriever: Retriever | None = None) -> Draft:
        """Draft an answer for `thread`; `before` limits knowledge to what existed earlier."""
        ranked = self.evidence(thread, before, retriever)
        judge = self.judge
        verdict = judge.before_compose(ranked, self.backend.generates)
        if verdict.abstained:
            composed = Composition(verdict.text, used=ranked[:3], model=self.backend.model_name)
        else:
            composed = self.backend.compose(thread, _masked(ranked[:TOP_K]))
        draft = Draft(
            thread_id=thread.id or 0,
            text=safe_outgoing(composed.text, public_contacts=self._public_contacts()),
            backend=self.backend.name,
            model=composed.model,
            confidence=round(verdict.confidence, 4),
            abstained=verdict.abstained or composed.declined,
            sources=[_source(e) for e in composed.used],
            thread_url=thread.url,
            thread_title=thread.title,
            language=ticket_language(thread),
        )
        if not verdict.abstained and self.ranking.trained and not self.backend.generates:
            draft.model = f"{draft.model}+ranker"
        if verdict.uncertain and not composed.declined:
            draft.error = (f"uncertain: retrieval confidence {verdict.confidence:.2f} is below "
                           f"{judge.threshold:.2f}; check the answer against its sources")
        if save and thread.id is not None:
            self.workspace.store.save_draft(draft)
            self.workspace.store.log_review("drafted", thread.id, draft.id)
        return draft


def _masked(evidence: list[Evidence]) -> list[Evidence]:
    """Evidence with whatever a past reply or passage holds (tokens, keys, emails) masked, so
    no prompt and no draft carries it."""
    return [replace(e, text=mask_secrets(e.text)) for e in evidence]


def _source(evidence: Evidence) -> SourceRef:
    return SourceRef(evidence.kind, evidence.key, evidence.url, evidence.title,
                     round(evidence.score, 4), evidence.thread_id)
