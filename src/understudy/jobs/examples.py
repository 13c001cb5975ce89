"""Training examples from the jobs' results: synthetic Q&A (`synthetic`) and code notes (`code`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..index import KnowledgeItem, snippet_item
from ..prompts import build_messages, rules_for
from ..records import Example, Message, Passage, Thread
from ..text import mask_secrets
from .annotate_code import snippet_uses
from .synth_qa import passage_result

if TYPE_CHECKING:
    from ..datasets import BuildOptions, BuildReport
    from ..workspace import Workspace

CODE_QUESTION = "What does {name} in {path} do, and what should I watch for when using it?"


def _ticket(ref: str, question: str) -> Thread:
    """A one-message ticket asking `question`, as the answerer's prompt quotes tickets."""
    message = Message("question", "user", question, "", kind="question", text=question)
    return Thread(source="synthetic", external_id=ref, url="", title=question,
                  messages=[message])


def _passage_item(passage: Passage) -> KnowledgeItem:
    return KnowledgeItem(key=f"passage:{passage.id}", kind="passage",
                         title=passage.heading or passage.path, question=passage.text,
                         answer=passage.text, url=passage.url or passage.path)


def _messages(ticket: Thread, item: KnowledgeItem, options: BuildOptions,
              answer: str) -> list[dict[str, str]]:
    messages = build_messages(ticket, [item], budget=options.budget, model=options.model,
                              rules=rules_for(answer))
    return [{**m, "content": mask_secrets(m["content"])} for m in messages]


def synthetic_examples(
    workspace: Workspace, options: BuildOptions, report: BuildReport
) -> Iterator[Example]:
    """One example per kept synthetic question: the passage as the only source, its answer."""
    for passage in workspace.store.passages():
        result = passage_result(workspace, passage)
        if result is None:
            continue
        item = _passage_item(passage)
        for number, pair in enumerate(result["pairs"]):
            ticket = _ticket(f"passage-{passage.id}-{number}", pair["question"])
            yield Example(
                kind="synthetic", messages=_messages(ticket, item, options, pair["answer"]),
                completion=mask_secrets(pair["answer"].strip()),
                source={"passage": passage.id, "path": passage.path, "url": passage.url,
                        "question": pair["question"], "model": result["model"],
                        "group": f"page:{passage.source}:{passage.path}"},
            )


def code_examples(
    workspace: Workspace, options: BuildOptions, report: BuildReport
) -> Iterator[Example]:
    """One example per use the model named for an annotated snippet (a support question, a
    documentation topic, a coding task), its code as the source; a note without uses gives one
    example, a question about the snippet answered by the note."""
    for snippet in workspace.store.snippets(with_note=True):
        if not snippet.note.strip():
            report.skipped["snippet without a note"] += 1
            continue
        item = replace(snippet_item(snippet), answer=snippet.code)  # the code, not the note
        question = CODE_QUESTION.format(name=snippet.qualified_name, path=snippet.path)
        uses = snippet_uses(workspace, snippet) or [
            {"use": "note", "ask": question, "answer": snippet.note.strip()}]
        for number, use in enumerate(uses):
            yield Example(
                kind="code",
                messages=_messages(_ticket(f"snippet-{snippet.id}-{number}", use["ask"]), item,
                                   options, use["answer"]),
                completion=mask_secrets(use["answer"]),
                source={"snippet": snippet.id, "path": snippet.path,
                        "name": snippet.qualified_name, "model": snippet.note_model,
                        "use": use["use"], "group": f"file:{snippet.source}:{snippet.path}"},
            )


def rebuild(workspace: Workspace, builder: str) -> None:
    """Rebuild the examples of one builder ("synthetic" or "code") as `dataset build` would."""
    from ..backends.openai import DEFAULT_BUDGET
    from ..datasets import BuildOptions, build

    settings = workspace.settings
    build(workspace, BuildOptions(
        kinds=[builder], budget=int(settings.get("prompt_budget") or DEFAULT_BUDGET),
        model=settings.get("model") or BuildOptions().model,
    ))
