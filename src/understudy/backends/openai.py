"""Generated answers: retrieve, build the prompt, ask a model, clean up, cite, or abstain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..index import Hit
from ..llm import Client, client_for
from ..prompts import DONT_KNOW, STOP, build_completion_prompt, build_messages
from ..records import Thread
from .base import Backend, Reply
from .retrieval import confidence

LOW_CONFIDENCE = ("abstain", "mark")  # what to do below the threshold
DEFAULT_BUDGET = 3000
DEFAULT_MAX_TOKENS = 512

_CITATION = re.compile(r"\[(\d{1,2})\]")
_LEAD = re.compile(r"^\s*(?:answer|reply|response|team)\s*:\s*", re.IGNORECASE)
_DONT_KNOW = re.compile(r"^\W*i\s+(?:don['’]?t|do\s+not)\s+know\b", re.IGNORECASE)


@dataclass
class GeneratedReply(Reply):
    """A reply written by a model; `uncertain` when generated despite low retrieval confidence."""

    uncertain: bool = False


def clean(text: str) -> str:
    """The answer without junk: a leading "Answer:", the stop sequence and what follows it."""
    if STOP in text:
        text = text[: text.index(STOP)]
    text = _LEAD.sub("", text.strip(), count=1)
    if text.endswith(STOP.strip()):
        text = text[: -len(STOP.strip())]
    return text.strip()


def says_dont_know(text: str) -> bool:
    """True when the model answered that the sources do not answer the ticket."""
    return not text.strip() or bool(_DONT_KNOW.match(text))


def cited(text: str, hits: list[Hit]) -> list[Hit]:
    """The hits the text cites as [n], in the order first cited."""
    numbers: list[int] = []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        if 1 <= number <= len(hits) and number not in numbers:
            numbers.append(number)
    return [hits[n - 1] for n in numbers]


def _nearest(hits: list[Hit]) -> str:
    lines = [f"- [{h.item.title}]({h.item.url})" if h.item.url else f"- {h.item.title}"
             for h in hits[:3]]
    return "\n".join(lines)


class GenerativeBackend(Backend):
    """Retrieval-augmented generation through the model client; engines differ by subclass."""

    engine = "openai"

    def __init__(self, workspace: Any):
        super().__init__(workspace)
        self.model: str | None = None  # --model; else the settings
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = client_for(self.workspace, self.engine, self.model)
        return self._client

    @property
    def model_name(self) -> str:
        return self.client.model or ""

    def setting(self, key: str, default: Any) -> Any:
        value = self.workspace.settings.get(key)
        return default if value is None else value

    @property
    def budget(self) -> int:
        return int(self.setting("prompt_budget", DEFAULT_BUDGET))

    def options(self) -> dict[str, Any]:
        """Generation options: the defaults, then the settings' "llm_options"."""
        options = {"max_tokens": DEFAULT_MAX_TOKENS, "temperature": 0.0}
        options.update(self.setting("llm_options", {}))
        return options

    def counter(self):
        return None  # count with the OpenAI tokenizer of the model

    def reply(self, ticket: Thread, hits: list[Hit], threshold: float) -> Reply:
        mode = self.setting("low_confidence", "abstain")
        if mode not in LOW_CONFIDENCE:
            raise UsageError(f"Setting \"low_confidence\" is '{mode}': use abstain or mark")
        sure = confidence(hits[0].score) if hits else 0.0
        if not hits:
            return GeneratedReply("I found nothing in the knowledge base about this ticket.",
                                  model=self.model_name, confidence=0.0, abstained=True)
        if sure < threshold and mode == "abstain":
            text = (f"No confident answer (confidence {sure:.2f} is below {threshold:.2f}), so "
                    f"no model was asked. The nearest past threads:\n{_nearest(hits)}")
            return GeneratedReply(text, model=self.model_name, confidence=sure, abstained=True,
                                  used=hits[:3])
        completion = self.generate(ticket, hits)
        text = clean(completion.text)
        if says_dont_know(text):
            text = text or f"{DONT_KNOW}."
            return GeneratedReply(text, model=completion.model, confidence=sure, abstained=True,
                                  used=hits[:3])
        used = cited(text, hits) or hits  # nothing cited: every source it was shown
        return GeneratedReply(text, model=completion.model, confidence=sure, used=used,
                              uncertain=sure < threshold)

    def generate(self, ticket: Thread, hits: list[Hit]):
        """One call to the model with the prompt built from `ticket` and the hits' items."""
        items = [h.item for h in hits]
        client = self.client
        model = client.model or ""
        options = self.options()
        if client.completion_only():
            prompt = build_completion_prompt(ticket, items, budget=self.budget, model=model,
                                             counter=self.counter())
            stops = list(options.get("stop") or [])
            options["stop"] = stops + [STOP] if STOP not in stops else stops
            return client.complete(prompt=prompt, **options)
        messages = build_messages(ticket, items, budget=self.budget, model=model,
                                  counter=self.counter())
        return client.complete(messages=messages, **options)


class OpenAIBackend(GenerativeBackend):
    """Answers with OpenAI or any OpenAI-compatible server (OPENAI_BASE_URL)."""

    name = "openai"
    engine = "openai"
    needs_key = True
    key_env_var = "OPENAI_API_KEY"
