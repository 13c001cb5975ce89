"""Notes on code: what each snippet does, how it is used, what to watch for, from a model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..records import Snippet
from .base import Ask, Job, JobReport, Planned, load_prompt, parse_json, usage

if TYPE_CHECKING:
    from ..llm import Client
    from ..workspace import Workspace

NOTE_TOKENS = 160  # assumed length of one note
MAX_CODE_CHARS = 12_000  # a longer unit is cut: the note is about what it does, not every line


def parse_note(text: str) -> str:
    """The note in a reply: {"note": ...}, else the reply itself when it is not JSON."""
    value = parse_json(text)
    if isinstance(value, dict):
        note = value.get("note")
        return note.strip() if isinstance(note, str) else ""
    return "" if value is not None else text.strip()


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
        done = ask(self.messages(snippet))
        note = parse_note(done.text)
        report.counts["notes" if note else "empty notes"] += 1
        self.store.set_snippet_note(snippet.id, note, self.model, usage([done]))

    def finish(self, report: JobReport) -> None:
        if report.finished:
            from .examples import rebuild

            rebuild(self.workspace, "code")
