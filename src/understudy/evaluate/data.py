"""What a benchmark is made of: queries, their candidates, and which candidates are right."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answer import ticket_query
from ..errors import InputError
from ..index import KnowledgeItem, thread_item
from ..records import Message, Thread


@dataclass
class Candidate:
    """Something a query can be matched to: a forum question, a comment, or a FAQ thread."""

    id: str
    texts: list[str]  # matched one by one; a candidate scores as its best text
    item: KnowledgeItem  # the knowledge item the product would index for it
    ir_rank: int = 0  # the position the dataset's own search engine gave it, 0 if none


@dataclass
class Query:
    """One question to rank candidates for, with the ids of the right ones."""

    id: str
    text: str
    candidates: list[Candidate]  # in the gold file's order: ties keep it
    relevant: set[str] = field(default_factory=set)


@dataclass
class Benchmark:
    """A loaded data set: its queries and how it is scored."""

    dataset: str  # "semeval2016" or "stackfaq"
    subtask: str | None
    path: str
    queries: list[Query]
    scoring: str  # "semeval" (official scorer, top 10) or "retrieval" (full rankings)


def product_query(title: str, body: str) -> str:
    """The text the answerer would match a ticket with this title and body by."""
    question = Message("q", "", body, "", kind="question", text=body)
    return ticket_query(Thread("bench", "q", "", title, messages=[question]))


def product_item(key: str, title: str, question: str, answers: list[str]) -> KnowledgeItem:
    """The knowledge item the index would build from a thread with these answers."""
    messages = [Message("q", "", question, "", kind="question", text=question)]
    messages += [
        Message(f"a{n}", "team", a, "", kind="reply", is_team=True, text=a)
        for n, a in enumerate(answers)
    ]
    thread = Thread("bench", key, "", title, messages=messages, id=0)
    item = thread_item(thread)
    if item is None:  # no answer left after the noise filter: match on the question alone
        item = KnowledgeItem(key, "thread", title, question, "", "", thread_id=0)
    item.key = key
    return item


def product_passage(key: str, title: str, text: str) -> KnowledgeItem:
    """The knowledge item the index builds from a stand-alone text (as from a doc passage)."""
    return KnowledgeItem(key, "passage", title, text, text, "")


def read_json_set(path: Path | str, file_name: str, name: str, hint: str) -> tuple[Path, Any]:
    """The parsed JSON data set at `path`: the file itself or a folder holding `file_name`."""
    source = Path(path).expanduser()
    if source.is_dir():
        source = source / file_name
    if not source.is_file():
        raise InputError(f"No such file: {source}; {hint}")
    try:
        return source, json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {source} as {name} ({exc}); {hint}") from None
