"""Notes on code from a model: what each snippet does, how it is used, what to watch for, and
the uses it can serve (a support question, a documentation topic, a coding task), each of
which becomes a training example."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import Snippet
from .base import Ask, Job, JobReport, Planned, load_prompt, parse_json, usage

if TYPE_CHECKING:
    from ..llm import Client
    from ..workspace import Workspace

NOTE_TOKENS = 600  # assumed length of one note and its three uses
USES = ("question", "documentation", "code creation")
USES_PREFIX = "jobs:annotate-code:uses:"
NOTE_FORM = ('{"note": "the note", "uses": [{"use": "question", "ask": "...", "answer": "..."}, '
             '{"use": "documentation", "ask": "...", "answer": "..."}, '
             '{"use": "code creation", "ask": "...", "answer": "..."}]}')
MAX_CODE_CHARS = 12_000  # a longer unit is cut: the note is about what it does, not every line


def uses_key(snippet: Snippet) -> str:
    """Where a snippet's uses are stored."""
    return f"{USES_PREFIX}{snippet.id}"


def parse_note(text: str) -> dict[str, Any] | None:
    """{"note": str, "uses": [{"use", "ask", "answer"}]} from a reply, keeping the uses that
    are whole and of a known kind; None when the reply is not that JSON."""
    value = parse_json(text)
    if not isinstance(value, dict) or not isinstance(value.get("note"), str):
        return None
    uses = []
    for use in value.get("uses") or []:
        if not isinstance(use, dict):
            continue
        kind, ask, answer = (use.get(k) for k in ("use", "ask", "answer"))
        if kind == "code":
            kind = "code creation"
        if kind in USES and isinstance(ask, str) and ask.strip() and isinstance(answer, str) \
                and answer.strip():
            uses.append({"use": kind, "ask": ask.strip(), "answer": answer.strip()})
    return {"note": value["note"].strip(), "uses": uses}


def snippet_uses(workspace: Workspace, snippet: Snippet) -> list[dict[str, str]]:
    """The stored uses of a snippet, when they were written for its current code and note."""
    found = workspace.store.get_state(uses_key(snippet))
    if not found or found.get("hash") != snippet.content_hash() or \
            found.get("model") != snippet.note_model:
        return []
    return found.get("uses", [])


class AnnotateCode(Job):
    """A note for each snippet, stored with it along with the model and the call's usage."""

    name = "annotate-code"

    def __init__(
        self, workspace: Workspace, model: str, limit: int | None = None,
        client: Client | None = None,
    ):
        super().__init__(workspace, model, limit, client)
        self.prompt = load_prompt(workspace, "annotate_code")

    def items(self) -> list[Snippet]:
        return list(self.store.snippets())

    def is_done(self, snippet: Snippet) -> bool:
        # A note by this model; a changed snippet lost its note when it was synced.
        return snippet.note_model == self.model

    def messages(self, snippet: Snippet) -> list[dict[str, str]]:
        code = snippet.code
        if len(code) > MAX_CODE_CHARS:
            code = code[:MAX_CODE_CHARS] + "\n…"
        return self.prompt.render(path=snippet.path, name=snippet.qualified_name,
                                  language=snippet.language, kind=snippet.kind, code=code,
                                  docstring=snippet.docstring)

    def plan(self, snippet: Snippet) -> list[Planned]:
        return [Planned(self.messages(snippet), NOTE_TOKENS)]

    def process(self, snippet: Snippet, ask: Ask, report: JobReport) -> None:
        value, made = self.ask_json(ask, self.messages(snippet), parse_note, NOTE_FORM, report)
        if value is None:  # no note rather than a wrong one: tried again on the next run
            report.failed += 1
            return
        report.counts["notes" if value["note"] else "empty notes"] += 1
        report.counts["uses"] += len(value["uses"])
        self.store.set_state(uses_key(snippet), {"hash": snippet.content_hash(),
                                                 "model": self.model, "uses": value["uses"]})
        self.store.set_snippet_note(snippet.id, value["note"], self.model, usage(made))

    def finish(self, report: JobReport) -> None:
        from .examples import rebuild

        rebuild(self.workspace, "code")
