"""Training examples from support conversations: each agent turn with the conversation so far."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..records import Message, Thread
from ..text import mask_secrets

SYSTEM_PROMPT = "You are a customer support agent. Answer the customer's last message."
PROMPT_SEPARATOR = "\n\n###\n\n"
STOP = "\n"


def conversation_examples(thread: Thread) -> list[dict[str, Any]]:
    """One chat example per team turn: the turns before it (on its reply branch) and the turn.

    Each is {"messages": [system, user/assistant..., assistant], "thread": ..., "message": ...};
    customer turns are `user`, the team's are `assistant`. A team turn with no customer turn
    before it teaches nothing and is left out.
    """
    examples = []
    for index, turn in _team_turns(thread):
        history = _history(thread, index)
        if not any(not m.is_team for m in history):
            continue
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        messages += [{"role": "assistant" if m.is_team else "user",
                      "content": mask_secrets(m.body.strip())} for m in history]
        messages.append({"role": "assistant", "content": mask_secrets(turn.body.strip())})
        examples.append({"messages": messages, **_ref(thread, turn)})
    return examples


def conversation_completion_examples(
    thread: Thread, summary: str | None = None, specifics: str | None = None
) -> list[dict[str, Any]]:
    """One prompt/completion example per team turn, in the customer-service prompt format.

    The prompt is "Summary: ...\\n\\nSpecific information: ...\\n\\n###\\n\\nCustomer: ...\\n
    Agent: ...\\nAgent:" (the summary and specifics lines only when given); the completion is
    " " + the turn + "\\n". Each turn is kept on one line so the prompt stays parseable.
    """
    header = []
    if summary:
        header.append(f"Summary: {_one_line(summary)}")
    if specifics:
        header.append(f"Specific information: {_one_line(specifics)}")
    prefix = "\n\n".join(header) + PROMPT_SEPARATOR if header else ""
    examples = []
    for index, turn in _team_turns(thread):
        history = _history(thread, index)
        if not any(not m.is_team for m in history):
            continue
        lines = [f"{'Agent' if m.is_team else 'Customer'}: {_one_line(mask_secrets(m.body))}"
                 for m in history]
        prompt = prefix + "\n".join(lines) + "\nAgent:"
        completion = f" {_one_line(mask_secrets(turn.body))}{STOP}"
        examples.append({"prompt": prompt, "completion": completion, **_ref(thread, turn)})
    return examples


def _team_turns(thread: Thread) -> list[tuple[int, Message]]:
    return [(i, m) for i, m in enumerate(thread.messages)
            if i > 0 and m.is_team and not m.is_bot and m.kind == "reply" and m.body.strip()]


def _history(thread: Thread, index: int) -> list[Message]:
    """The turns before message `index`: its chain of replies when the thread records one
    (meta "reply_to", as tweets do), else every earlier turn of a person."""
    messages = thread.messages
    reply_to: dict[str, str] = thread.meta.get("reply_to") or {}
    if reply_to:
        by_id = {m.external_id: m for m in messages[:index]}
        chain: list[Message] = []
        current = reply_to.get(messages[index].external_id)
        while current in by_id and len(chain) < len(messages):
            chain.append(by_id[current])
            current = reply_to.get(current)
        if chain:
            return list(reversed(chain))
    # A bot's notice ("this issue has been labelled ...") is neither customer nor agent.
    return [m for m in messages[:index]
            if m.kind != "system" and not m.is_bot and m.body.strip()]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ref(thread: Thread, turn: Message) -> dict[str, Any]:
    return {"thread": f"{thread.source}:{thread.external_id}", "thread_id": thread.id,
            "message": turn.external_id, "kind": "conversation"}


def thread_header(thread: Thread) -> tuple[str | None, str | None]:
    """The summary and the specific information a thread carries, if any: a "summary" and a
    "specifics" entry in its meta (CSV columns), and its labels (GitLab) as specifics."""
    summary = thread.meta.get("summary") or None
    specifics = thread.meta.get("specifics") or ", ".join(thread.labels) or None
    return summary, specifics


def conversation_records(threads: Iterable[Thread], splits: dict[int, str],
                         default: Callable[[Thread], str]) -> dict[str, list[dict[str, str]]]:
    """Prompt/completion lines in the conversation layout, by split.

    A thread goes to the split its stored examples are in (`splits`, by thread id), so the
    conversation export holds out the same threads as the other formats; a thread without
    examples goes where `default` says.
    """
    out: dict[str, list[dict[str, str]]] = {"train": [], "valid": []}
    for thread in threads:
        split = splits.get(thread.id) if thread.id is not None else None
        split = split or default(thread)
        for example in conversation_completion_examples(thread, *thread_header(thread)):
            out[split].append({"prompt": example["prompt"], "completion": example["completion"]})
    return out
