"""The records understudy passes around: threads, messages, passages, drafts, examples, models."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

MESSAGE_KINDS = ("question", "reply", "system")
DRAFT_STATUSES = ("new", "saved", "sending", "sent", "discarded")


@dataclass
class Message:
    """One post in a thread."""

    external_id: str
    author: str
    body: str
    created_at: str
    kind: str = "reply"
    is_team: bool = False
    is_bot: bool = False
    text: str = ""
    id: int | None = None


@dataclass
class Thread:
    """One problem and the talk about it; messages[0] is the question."""

    source: str
    external_id: str
    url: str
    title: str
    state: str = "opened"
    created_at: str = ""
    updated_at: str = ""
    project: str = ""
    labels: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def question(self) -> Message | None:
        return self.messages[0] if self.messages else None

    @property
    def body(self) -> str:
        return self.messages[0].body if self.messages else ""

    def content_hash(self) -> str:
        """Hash of everything synced from the source; ids assigned locally are left out."""
        payload = asdict(self)
        payload.pop("id")
        for message in payload["messages"]:
            message.pop("id")
            message.pop("text")  # derived from body when stored
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Passage:
    """A chunk of documentation."""

    source: str
    path: str
    heading: str
    text: str
    url: str = ""
    id: int | None = None

    def content_hash(self) -> str:
        raw = json.dumps([self.source, self.path, self.heading, self.text, self.url])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Snippet:
    """A unit of source code: a function, method, class or type, exactly as written."""

    source: str
    path: str
    qualified_name: str
    language: str
    kind: str  # function, method, class, type
    code: str
    docstring: str = ""
    decorators: list[str] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0
    note: str = ""  # written later by a language model; cleared when the code changes
    note_model: str = ""
    note_usage: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def content_hash(self) -> str:
        """Hash of the code and what describes it; line numbers are left out (they move)."""
        raw = json.dumps([self.source, self.path, self.qualified_name, self.language, self.kind,
                          self.code, self.docstring, self.decorators])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class SourceRef:
    """A knowledge item a draft drew on, with its retrieval score."""

    kind: str  # "reply" (one reply of a thread), "passage" or "snippet"
    key: str
    url: str
    title: str
    score: float
    thread_id: int | None = None


@dataclass
class Draft:
    """A proposed answer for a thread."""

    thread_id: int
    text: str
    backend: str
    model: str = ""
    confidence: float = 0.0
    abstained: bool = False
    sources: list[SourceRef] = field(default_factory=list)
    status: str = "new"
    final_text: str | None = None
    sent_to: str | None = None
    sent_id: str | None = None
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    id: int | None = None
    thread_url: str = ""
    thread_title: str = ""
    claimed_by: str | None = None  # the sender posting it now ("pid@host:nonce"), while sending
    claimed_at: str | None = None
    language: str | None = None  # the ticket's language (ISO 639-1) when it could be told

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = [asdict(s) for s in self.sources]
        return data


@dataclass
class Example:
    """One training example: chat messages (system, user) and the wanted reply, with its origin."""

    kind: str  # "reply" (a team reply) or "edit" (the text a reviewer sent)
    messages: list[dict[str, str]]
    completion: str
    thread_id: int | None = None
    message_id: int | None = None
    draft_id: int | None = None
    split: str = "train"  # "train" or "valid"
    source: dict[str, Any] = field(default_factory=dict)  # url, author, time, sources used
    created_at: str = ""
    id: int | None = None

    def content_hash(self) -> str:
        """Hash of what is trained on: the messages and the completion."""
        raw = json.dumps([self.messages, self.completion], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Model:
    """A trained model registered in the workspace, with its evaluation figures."""

    name: str
    backend: str  # "openai", "local" or "retrieval"
    base_model: str = ""
    path: str | None = None  # a folder in the workspace (LoRA adapter, tuned embedder)
    remote_id: str | None = None  # the fine-tuned model's name at the provider
    job_id: str | None = None
    status: str = "ready"  # "running", "ready", "failed", "cancelled"
    metrics: dict[str, Any] = field(default_factory=dict)
    is_default: bool = False
    created_at: str = ""
    updated_at: str = ""
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
