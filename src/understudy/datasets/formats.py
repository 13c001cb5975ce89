"""Example formats: chat JSONL, prompt/completion JSONL, and the Hugging Face (TRL) layout."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..prompts import SEPARATOR, STOP, format_completion
from ..records import Example
from ..text import mask_secrets

CONVERSATION = "conversation"  # made from threads, not examples: datasets.export_workspace
FORMATS = ("chat", "completion", "hf", CONVERSATION)
SPLIT_FILES = {"train": "train.jsonl", "valid": "valid.jsonl"}


def _masked(messages: list[dict[str, str]], mask: bool = True) -> list[dict[str, str]]:
    scrub = mask_secrets if mask else str
    return [{"role": m["role"], "content": scrub(m["content"])} for m in messages]


def completion_prompt(example: Example) -> str:
    """The prompt string of a completion model: what build_completion_prompt makes of the same
    thread and sources (the system prompt, a blank line, the user message, the separator)."""
    system, user = _system_and_user(example.messages)
    return f"{system}\n\n{user}{SEPARATOR}"


def _system_and_user(messages: list[dict[str, str]]) -> tuple[str, str]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    user = "\n\n".join(m["content"] for m in messages if m["role"] != "system")
    return system, user


def chat_record(example: Example, mask: bool = True) -> dict[str, Any]:
    """{"messages": [system, user, assistant]} as OpenAI's chat fine-tuning expects."""
    text = example.completion.strip()
    answer = {"role": "assistant", "content": mask_secrets(text) if mask else text}
    return {"messages": [*_masked(example.messages, mask), answer]}


def completion_record(example: Example, mask: bool = True) -> dict[str, Any]:
    """{"prompt", "completion"}: the prompt ends with SEPARATOR, the completion starts with a
    space and ends with STOP, and neither occurs anywhere else."""
    scrub = mask_secrets if mask else str
    return {"prompt": scrub(completion_prompt(example)),
            "completion": format_completion(scrub(example.completion))}


def hf_record(example: Example, conversational: bool = True) -> dict[str, Any]:
    """TRL's prompt-completion layout: chat messages, or plain strings for models without a
    chat template."""
    if not conversational:
        return completion_record(example)
    answer = {"role": "assistant", "content": mask_secrets(example.completion.strip())}
    return {"prompt": _masked(example.messages), "completion": [answer]}


def record(example: Example, fmt: str, mask: bool = True) -> dict[str, Any]:
    """One example as a line of the format `fmt` (secrets masked unless `mask` is False)."""
    if fmt == "chat":
        return chat_record(example, mask)
    if fmt == "completion":
        return completion_record(example, mask)
    if fmt == "hf":
        return hf_record(example)
    raise UsageError(f"Unknown format '{fmt}': use one of {', '.join(FORMATS)}")


def example_from_record(data: dict[str, Any], like: Example) -> Example:
    """The example a (possibly fixed) record stands for, keeping `like`'s origin."""
    if "messages" in data:
        messages = [m for m in data["messages"] if m.get("role") != "assistant"]
        answers = [m for m in data["messages"] if m.get("role") == "assistant"]
        completion = answers[-1]["content"] if answers else ""
    else:
        prompt, completion = str(data.get("prompt", "")), str(data.get("completion", ""))
        system, _ = _system_and_user(like.messages)
        head = f"{system}\n\n"
        body = prompt[len(head):] if prompt.startswith(head) else prompt
        body = body[: -len(SEPARATOR)] if body.endswith(SEPARATOR) else body
        messages = [{"role": "system", "content": system}, {"role": "user", "content": body}]
        completion = completion.removesuffix(STOP).strip()
    return Example(like.kind, [dict(m) for m in messages], completion.strip(), like.thread_id,
                   like.message_id, like.draft_id, like.split, like.source, like.created_at,
                   like.id)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object a line; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for item in records:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[Any]:
    """The lines of a JSONL file; a line that is not JSON is a one-line error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}; give a JSONL file") from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number} is not JSON ({exc.msg}); fix or remove it") from None
    return out


def export(examples: list[Example], fmt: str, output: Path | str) -> dict[str, int]:
    """Write train.jsonl and valid.jsonl of `fmt` into `output`; returns lines per split."""
    if fmt not in FORMATS or fmt == CONVERSATION:
        raise UsageError(f"Unknown format '{fmt}': use one of {', '.join(FORMATS[:-1])}")
    if not examples:
        raise InputError("No examples to export: run 'understudy dataset build' first")
    counts = {}
    for split, path in output_files(output).items():
        chosen = [record(e, fmt) for e in examples if e.split == split]
        counts[split] = write_jsonl(path, chosen)
    return counts


def output_files(output: Path | str) -> dict[str, Path]:
    """The file of each split inside the folder `output`, created if need be."""
    folder = Path(output).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Cannot create {folder}: {exc.strerror}; choose another --output"
        ) from None
    return {split: folder / name for split, name in SPLIT_FILES.items()}
