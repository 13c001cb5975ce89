"""Generated answers: the prompt built from the ticket and its evidence, a model's reply, cited."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..evidence import Evidence, clean_for_reader
from ..index import KnowledgeItem
from ..llm import Client, Completion, client_for
from ..prompts import (
    DONT_KNOW,
    PROMPT_TAG,
    STOP,
    answering_rules,
    build_completion_prompt,
    build_messages,
    declines,
)
from ..records import Thread
from .base import Backend, Composition

if TYPE_CHECKING:
    from ..workspace import Workspace

DEFAULT_BUDGET = 3000
DEFAULT_MAX_TOKENS = 512

_CITATION = re.compile(r"\[(\d{1,2})\]")
_LEAD = re.compile(r"^\s*(?:answer|reply|response|team)\s*:\s*", re.IGNORECASE)
# A refusal opens the reply: "I'm sorry, but I can't ...", "As an AI language model, ...".
_REFUSAL = re.compile(
    r"^\W*(?:(?:i['’]?m|i\s+am)\s+(?:very\s+)?sorry|sorry|unfortunately)\b[^\n]{0,80}?"
    r"\b(?:can(?:not|['’]?t)|unable|not\s+(?:able|allowed|permitted)|don['’]?t\s+have)\b"
    r"|^\W*as\s+an?\s+(?:ai|artificial|language\s+model|text-based)\b",
    re.IGNORECASE)


def clean(text: str) -> str:
    """The answer without junk: a leading "Answer:", the stop sequence and what follows it."""
    if STOP in text:
        text = text[: text.index(STOP)]
    text = _LEAD.sub("", text.strip(), count=1)
    if text.endswith(STOP.strip()):
        text = text[: -len(STOP.strip())]
    return text.strip()


def says_dont_know(text: str) -> bool:
    """True when the reply is no answer to send: empty, "I don't know" (the sources do not
    answer the ticket), a refusal ("I'm sorry, but I can't ..."), or a copy of the prompt's
    own markup (a small model may echo the <ticket> block or the <source> list)."""
    return (not text.strip() or declines(text) or bool(_REFUSAL.match(text))
            or bool(PROMPT_TAG.search(text)))


def cited(text: str, evidence: list[Evidence]) -> list[Evidence]:
    """The evidence the text cites as [n], in the order first cited."""
    numbers: list[int] = []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        if 1 <= number <= len(evidence) and number not in numbers:
            numbers.append(number)
    return [evidence[n - 1] for n in numbers]


def source_item(evidence: Evidence) -> KnowledgeItem:
    """Evidence as a numbered source of the prompt: the one reply or passage, no thread. A
    reply is read as a new reader gets it: no other customer's handle or name."""
    text = evidence.text if evidence.kind != "reply" else clean_for_reader(
        evidence.text, own=evidence.author, names=evidence.askers)
    return KnowledgeItem(key=evidence.key, kind=evidence.kind, title=evidence.title,
                         question="", answer=text, url=evidence.url,
                         created_at=evidence.created_at, thread_id=evidence.thread_id)


class GenerativeBackend(Backend):
    """Writes a reply with a model through the model client; engines differ by subclass."""

    engine = "openai"
    generates = True
    takes_model = True

    def __init__(self, workspace: Workspace):
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

    def setting(self, key: str, default: object) -> object:
        value = self.workspace.settings.get(key)
        return default if value is None else value

    @property
    def budget(self) -> int:
        return int(self.setting("prompt_budget", DEFAULT_BUDGET))

    def options(self) -> dict[str, object]:
        """Generation options: the defaults, then the settings' "llm_options"."""
        options: dict[str, object] = {"max_tokens": DEFAULT_MAX_TOKENS, "temperature": 0.0}
        options.update(self.setting("llm_options", {}))
        return options

    def counter(self) -> Callable[[str], int] | None:
        return None  # count with the OpenAI tokenizer of the model

    def compose(self, ticket: Thread, evidence: list[Evidence]) -> Composition:
        completion = self.generate(ticket, evidence)
        text = clean(completion.text)
        if says_dont_know(text):
            return Composition(text or f"{DONT_KNOW}.", used=evidence[:3],
                               model=completion.model, declined=True)
        used = cited(text, evidence) or evidence  # nothing cited: every source it was shown
        return Composition(text, used=used, model=completion.model)

    def generate(self, ticket: Thread, evidence: list[Evidence]) -> Completion:
        """One call to the model with the prompt built from `ticket` and the evidence."""
        items = [source_item(e) for e in evidence]
        client = self.client
        model = client.model or ""
        options = self.options()
        rules = answering_rules(ticket)
        if client.completion_only():
            prompt = build_completion_prompt(ticket, items, budget=self.budget, model=model,
                                             counter=self.counter(), rules=rules)
            stops = list(options.get("stop") or [])
            options["stop"] = stops + [STOP] if STOP not in stops else stops
            return client.complete(prompt=prompt, **options)
        messages = build_messages(ticket, items, budget=self.budget, model=model,
                                  counter=self.counter(), rules=rules)
        return client.complete(messages=messages, **options)


class OpenAIBackend(GenerativeBackend):
    """Answers with OpenAI or any OpenAI-compatible server (OPENAI_BASE_URL)."""

    name = "openai"
    engine = "openai"
    needs_key = True
    key_env_var = "OPENAI_API_KEY"
