"""Checks of training data, after OpenAI's legacy `prepare_data` and its chat format rules,
each problem with its fix; the safe fixes can be applied; plus a token and cost estimate."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..llm import training_cost
from ..prompts import SEPARATOR, STOP, SYSTEM_PROMPTS
from ..text import count_tokens, find_secrets, mask_secrets

MIN_EXAMPLES = 100  # the legacy tool recommended "at least a few hundred"
PROMPT_PREFIX_LEN = 12  # the legacy tool's limits for a common prefix worth mentioning
COMPLETION_PREFIX_LEN = 5
DEFAULT_CONTEXT = 16_384
# Tokens one training example may hold, per base model (OpenAI's fine-tuning limits).
CONTEXT = {
    "gpt-4o-mini": 65_536, "gpt-4o": 65_536, "gpt-4.1": 65_536, "gpt-3.5-turbo": 16_385,
    "davinci-002": 16_384, "babbage-002": 16_384,
}
# OpenAI's default number of epochs: 3, raised for small sets and lowered for big ones.
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MAX_EPOCHS = 3, 100, 25_000, 25
CHAT_ROLES = {"system", "user", "assistant", "function", "tool"}
CHAT_KEYS = {"role", "content", "name", "function_call", "tool_calls", "weight", "refusal"}

Records = list[dict[str, Any]]
ID = "_id"  # the stored example a line stands for, so fixes can be written back
# Where the separator would be read inside a prompt: a line of "###" (any spacing around it).
_SEPARATOR_LINE = re.compile(r"^[ \t]*###[ \t]*$", re.MULTILINE)
# The conversation layout: the prompt ends with the agent's turn, the answer is one line.
AGENT_TURN = "\nAgent:"
# The API stops at the stop sequence wherever it occurs, even at the start of a longer word.
_STOP_INSIDE = re.compile(r"(?<=\s)END")


@dataclass
class Problem:
    """One finding: what is wrong, how to fix it, and the safe fix if there is one."""

    rule: str
    message: str
    fix: str
    count: int = 0
    apply: Callable[[Records], Records] | None = None  # the safe fix, None when not safe

    @property
    def fixable(self) -> bool:
        return self.apply is not None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "fix": self.fix,
                "count": self.count, "fixable": self.fixable}


@dataclass
class Estimate:
    """Tokens a fine-tuning job trains on, and what it costs."""

    examples: int
    tokens: int  # one pass over the training examples
    epochs: int
    cost: float | None  # dollars; None when the model has no known training price

    @property
    def trained_tokens(self) -> int:
        return self.tokens * self.epochs

    def to_json(self) -> dict[str, Any]:
        return {"examples": self.examples, "tokens": self.tokens, "epochs": self.epochs,
                "trained_tokens": self.trained_tokens, "cost": self.cost}


@dataclass
class Report:
    format: str
    model: str
    problems: list[Problem] = field(default_factory=list)
    estimate: Estimate | None = None


def context_for(model: str) -> int:
    """Tokens one example may hold for `model`; UNDERSTUDY_CONTEXT overrides it."""
    if os.environ.get("UNDERSTUDY_CONTEXT"):
        return int(os.environ["UNDERSTUDY_CONTEXT"])
    base = model.split(":")[1] if model.startswith("ft:") else model
    for name in sorted(CONTEXT, key=len, reverse=True):
        if base == name or base.startswith(name + "-"):
            return CONTEXT[name]
    return DEFAULT_CONTEXT


def record_format(records: Records) -> str:
    """"chat" when the records hold messages, "conversation" when most prompts end with the
    agent's turn to speak, else "completion"."""
    if any(isinstance(r, dict) and "messages" in r for r in records):
        return "chat"
    prompts = [r.get("prompt") for r in records if isinstance(r, dict)]
    turns = sum(isinstance(p, str) and p.endswith(AGENT_TURN) for p in prompts)
    return "conversation" if prompts and 2 * turns > len(prompts) else "completion"


def chat_tokens(messages: list[dict[str, Any]], model: str) -> int:
    """Tokens of chat messages as OpenAI's cookbook counts them (3 per message and 3 more)."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += count_tokens(value, model)
            if key == "name":
                total += 1
    return total


def record_tokens(item: dict[str, Any], model: str) -> int:
    if "messages" in item:
        return chat_tokens([m for m in item["messages"] if isinstance(m, dict)], model)
    return sum(count_tokens(str(item.get(k) or ""), model) for k in ("prompt", "completion"))


def default_epochs(examples: int) -> int:
    """The number of epochs OpenAI picks when none is given."""
    if examples and examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_EPOCHS, -(-MIN_TARGET_EXAMPLES // examples))
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def estimate(records: Records, model: str, epochs: int | None = None,
             prices: dict[str, Any] | None = None) -> Estimate:
    """Training tokens (each example capped at the model's context) and their cost."""
    limit = context_for(model)
    tokens = sum(min(record_tokens(r, model), limit) for r in records if isinstance(r, dict))
    chosen = epochs or default_epochs(len(records))
    return Estimate(len(records), tokens, chosen, training_cost(model, tokens, chosen, prices))


# -- shared rules -------------------------------------------------------------------------


def _texts(item: dict[str, Any]) -> list[str]:
    if "messages" in item:
        return [str(m.get("content") or "") for m in item["messages"] if isinstance(m, dict)]
    return [str(item.get("prompt") or ""), str(item.get("completion") or "")]


def _map_texts(item: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    if "messages" in item:
        return {**item, "messages": [{**m, "content": fn(m["content"])}
                                     if isinstance(m.get("content"), str) else m
                                     for m in item["messages"]]}
    return {**item, **{k: fn(item[k]) for k in ("prompt", "completion")
                       if isinstance(item.get(k), str)}}


def _key(item: Any) -> str:
    """What makes two lines duplicates: everything but the hidden "_id" of a stored example."""
    if isinstance(item, dict):
        return repr({k: v for k, v in item.items() if k != ID})
    return repr(item)


def few_examples(records: Records, model: str) -> Problem | None:
    if len(records) >= MIN_EXAMPLES:
        return None
    return Problem("few_examples", f"Only {len(records)} examples; fine-tuning needs at least "
                   f"{MIN_EXAMPLES}, and a few hundred do better",
                   "sync more threads, add review edits (--kind edit), or lower --min-chars")


def duplicates(records: Records, model: str) -> Problem | None:
    seen: set[str] = set()
    repeated = 0
    for item in records:
        key = _key(item)
        repeated += key in seen
        seen.add(key)
    if not repeated:
        return None

    def dedupe(items: Records) -> Records:
        kept, keys = [], set()
        for item in items:
            if _key(item) not in keys:
                keys.add(_key(item))
                kept.append(item)
        return kept

    return Problem("duplicates", f"{repeated} examples are duplicates of others",
                   "remove the duplicates (--fix)", repeated, dedupe)


def too_long(records: Records, model: str) -> Problem | None:
    limit = context_for(model)
    long = [n for n, r in enumerate(records) if isinstance(r, dict)
            and record_tokens(r, model) > limit]
    if not long:
        return None
    drop = set(long)
    return Problem("too_long", f"{len(long)} examples are longer than {limit} tokens, the most "
                   f"{model} trains on", "remove them (--fix), or lower the prompt budget",
                   len(long), lambda items: [r for n, r in enumerate(items) if n not in drop])


def secrets(records: Records, model: str) -> Problem | None:
    found = Counter(kind for item in records if isinstance(item, dict)
                    for text in _texts(item) for kind, _ in find_secrets(text))
    if not found:
        return None
    kinds = ", ".join(f"{k} ({n})" for k, n in found.most_common())
    return Problem("secrets", f"Secrets or personal data left in the text: {kinds}",
                   "mask them (--fix)", sum(found.values()),
                   lambda items: [_map_texts(i, mask_secrets) for i in items])


def uppercase(records: Records, model: str) -> Problem | None:
    upper = lower = 0
    for item in records:
        for text in _texts(item) if isinstance(item, dict) else []:
            upper += sum(c.isupper() for c in text)
            lower += sum(c.islower() for c in text)
    if upper * 2 < lower or not (upper + lower):
        return None
    return Problem("uppercase", "More than a third of the letters are upper case, which tends "
                   "to train worse than ordinary mixed case",
                   "lower-case the text if that makes sense for your tickets")


# -- prompt/completion rules (the legacy prepare_data) ------------------------------------


def _pairs(records: Records) -> list[dict[str, Any]]:
    return [r for r in records if isinstance(r, dict)]


def missing_fields(records: Records, model: str) -> Problem | None:
    bad = [n for n, r in enumerate(records) if not isinstance(r, dict)
           or not isinstance(r.get("prompt"), str) or not isinstance(r.get("completion"), str)]
    if not bad:
        return None
    drop = set(bad)
    return Problem("missing_fields", f"{len(bad)} lines lack a text \"prompt\" or "
                   "\"completion\"", "remove them (--fix)", len(bad),
                   lambda items: [r for n, r in enumerate(items) if n not in drop])


def extra_fields(records: Records, model: str) -> Problem | None:
    extra = sorted({k for r in _pairs(records) for k in r} - {"prompt", "completion", ID})
    if not extra:
        return None
    return Problem("extra_fields", f"Fields other than prompt and completion: {', '.join(extra)}",
                   "remove them (--fix); fine-tuning ignores them", len(extra),
                   lambda items: [{k: v for k, v in r.items() if k in ("prompt", "completion", ID)}
                                  if isinstance(r, dict) else r for r in items])


def empty_fields(records: Records, model: str) -> Problem | None:
    bad = [n for n, r in enumerate(records) if isinstance(r, dict)
           and any(isinstance(r.get(k), str) and not r[k].strip()
                   for k in ("prompt", "completion"))]
    if not bad:
        return None
    drop = set(bad)
    return Problem("empty_fields", f"{len(bad)} examples have an empty prompt or completion",
                   "remove them (--fix)", len(bad),
                   lambda items: [r for n, r in enumerate(items) if n not in drop])


def _common(texts: list[str], suffix: bool = False) -> str:
    if not texts:
        return ""
    flipped = [t[::-1] for t in texts] if suffix else texts
    common = os.path.commonprefix(flipped)
    return common[::-1] if suffix else common


def separator(records: Records, model: str) -> Problem | None:
    prompts = [r["prompt"] for r in _pairs(records) if isinstance(r.get("prompt"), str)]
    if not prompts:
        return None
    if not _common(prompts, suffix=True).endswith(SEPARATOR):
        missing = sum(not p.endswith(SEPARATOR) for p in prompts)
        return Problem("separator_missing", f"{missing} prompts do not end with the separator "
                       f"{SEPARATOR!r}, so the model cannot tell where the answer starts",
                       "append it (--fix)", missing,
                       lambda items: [_set(r, "prompt", _end_with(r["prompt"], SEPARATOR))
                                      for r in items])
    inside = sum(bool(_SEPARATOR_LINE.search(p[: -len(SEPARATOR)])) for p in prompts)
    if not inside:
        return None
    return Problem("separator_inside", f"The separator {SEPARATOR!r} also occurs inside "
                   f"{inside} prompts", "neutralise it there (--fix)", inside,
                   lambda items: [_set(r, "prompt", _SEPARATOR_LINE.sub(
                       "##", r["prompt"][: -len(SEPARATOR)]) + SEPARATOR) for r in items])


def common_prompt_prefix(records: Records, model: str) -> Problem | None:
    prompts = [r["prompt"] for r in _pairs(records) if isinstance(r.get("prompt"), str)]
    prefix = _common(prompts) if len(prompts) > 1 else ""
    # The answerer sends instructions first too (one of a few variants), so they stay.
    if len(prefix) <= PROMPT_PREFIX_LEN or any(
            prefix.startswith(p) or p.startswith(prefix) for p in SYSTEM_PROMPTS):
        return None
    return Problem("common_prompt_prefix", f"All prompts start with {prefix[:60]!r}; "
                   "a fine-tuned model needs no instructions repeated in every prompt",
                   "remove that prefix from the prompts, and from the answerer's prompt too")


def completion_start(records: Records, model: str) -> Problem | None:
    completions = [r["completion"] for r in _pairs(records)
                   if isinstance(r.get("completion"), str) and r["completion"].strip()]
    bad = sum(not c.startswith(" ") or c[1:2].isspace() for c in completions)
    if not bad:
        return None
    return Problem("completion_start", f"{bad} completions do not start with exactly one space, "
                   "which tokenizes worse", "start each with one space (--fix)", bad,
                   lambda items: [_set(r, "completion", " " + r["completion"].lstrip())
                                  for r in items])


def prompt_start(records: Records, model: str) -> Problem | None:
    bad = sum(r["prompt"][:1].isspace() for r in _pairs(records)
              if isinstance(r.get("prompt"), str))
    if not bad:
        return None
    return Problem("prompt_start", f"{bad} prompts start with whitespace",
                   "strip it (--fix)", bad,
                   lambda items: [_set(r, "prompt", r["prompt"].lstrip()) for r in items])


def common_completion_prefix(records: Records, model: str) -> Problem | None:
    completions = [r["completion"] for r in _pairs(records) if isinstance(r.get("completion"), str)]
    prefix = _common(completions) if len(completions) > 1 else ""
    if len(prefix.strip()) < COMPLETION_PREFIX_LEN:
        return None
    return Problem("common_completion_prefix", f"All completions start with {prefix!r}",
                   "remove it: a completion should hold only the answer")


def stop_sequence(records: Records, model: str) -> Problem | None:
    completions = [r["completion"] for r in _pairs(records)
                   if isinstance(r.get("completion"), str) and r["completion"].strip()]
    if not completions:
        return None
    if not _common(completions, suffix=True).endswith(STOP):
        missing = sum(not c.endswith(STOP) for c in completions)
        return Problem("stop_missing", f"{missing} completions do not end with the stop "
                       f"sequence {STOP!r}, so the model will not know when to stop",
                       "append it (--fix)", missing,
                       lambda items: [_set(r, "completion", _end_with(r["completion"], STOP))
                                      for r in items])
    inside = sum(bool(_STOP_INSIDE.search(c[: -len(STOP)])) for c in completions)
    if not inside:
        return None
    return Problem("stop_inside", f"The stop sequence {STOP!r} also occurs inside {inside} "
                   "completions, which would cut answers short", "neutralise it there (--fix)",
                   inside, lambda items: [_set(r, "completion", _STOP_INSIDE.sub(
                       "End", r["completion"][: -len(STOP)]) + STOP) for r in items])


def _set(item: Any, key: str, value: str) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key].strip():
        return item
    return {**item, key: value}


def _end_with(text: str, suffix: str) -> str:
    return text if text.endswith(suffix) else text.rstrip() + suffix


def agent_turn(records: Records, model: str) -> Problem | None:
    prompts = [r["prompt"] for r in _pairs(records) if isinstance(r.get("prompt"), str)]
    missing = sum(not p.endswith(AGENT_TURN) for p in prompts)
    if not missing:
        return None
    return Problem("agent_turn_missing", f"{missing} prompts do not end with {AGENT_TURN!r}, "
                   "so the model cannot tell it is the agent's turn", "append it (--fix)",
                   missing, lambda items: [_set(r, "prompt", _end_with(r["prompt"], AGENT_TURN))
                                           for r in items])


def one_line_answer(records: Records, model: str) -> Problem | None:
    """The conversation layout stops at the first newline: an answer must be one line."""
    completions = [r["completion"] for r in _pairs(records)
                   if isinstance(r.get("completion"), str) and r["completion"].strip()]
    bad = sum(not c.endswith("\n") or "\n" in c[:-1] or not c.startswith(" ")
              for c in completions)
    if not bad:
        return None

    def one_line(text: str) -> str:
        return " " + " ".join(text.split()) + "\n"

    return Problem("answer_not_one_line", f"{bad} completions are not one line starting with "
                   "a space and ending with the stop '\\n', so answers would be cut or run on",
                   "join their lines (--fix)", bad,
                   lambda items: [_set(r, "completion", one_line(r["completion"]))
                                  for r in items])


# -- chat rules (OpenAI's published chat fine-tuning format) ------------------------------


def chat_format(records: Records, model: str) -> Problem | None:
    errors: Counter = Counter()
    bad: set[int] = set()
    for n, item in enumerate(records):
        found = _chat_errors(item)
        errors.update(found)
        if found:
            bad.add(n)
    if not errors:
        return None
    what = ", ".join(f"{k} ({v})" for k, v in errors.most_common())
    return Problem("chat_format", f"{len(bad)} lines break the chat format: {what}",
                   "remove them (--fix), or rebuild with 'understudy dataset build'", len(bad),
                   lambda items: [r for n, r in enumerate(items) if n not in bad])


def _chat_errors(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return ["data_type"]
    messages = item.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["missing_messages_list"]
    found = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            found.append("message_missing_key")
            continue
        if set(message) - CHAT_KEYS:
            found.append("message_unrecognized_key")
        if message["role"] not in CHAT_ROLES:
            found.append("unrecognized_role")
        content = message["content"]
        if not isinstance(content, str) or not content.strip():
            found.append("missing_content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        found.append("example_missing_assistant_message")
    return found


def chat_whitespace(records: Records, model: str) -> Problem | None:
    bad = sum(any(t != t.strip() for t in _texts(r)) for r in records if isinstance(r, dict)
              and "messages" in r)
    if not bad:
        return None
    return Problem("whitespace", f"{bad} examples have messages starting or ending in "
                   "whitespace", "strip it (--fix)", bad,
                   lambda items: [_map_texts(i, str.strip) if isinstance(i, dict) else i
                                  for i in items])


COMPLETION_RULES = [missing_fields, extra_fields, empty_fields, duplicates, too_long, separator,
                    common_prompt_prefix, prompt_start, completion_start,
                    common_completion_prefix, stop_sequence, uppercase, secrets, few_examples]
CONVERSATION_RULES = [missing_fields, extra_fields, empty_fields, duplicates, too_long,
                      agent_turn, one_line_answer, uppercase, secrets, few_examples]
CHAT_RULES = [chat_format, duplicates, too_long, chat_whitespace, uppercase, secrets,
              few_examples]


def check_records(records: Records, model: str, fix: bool = False) -> tuple[list[Problem],
                                                                             Records]:
    """Run every rule of the records' format; with `fix`, apply each safe fix as found and
    check again, so later rules see fixed data. Returns the problems left (or found, without
    `fix`) and the records."""
    rules = {"chat": CHAT_RULES, "conversation": CONVERSATION_RULES}.get(
        record_format(records), COMPLETION_RULES)
    problems: list[Problem] = []
    for rule in rules:
        problem = rule(records, model)
        if problem is None:
            continue
        if fix and problem.apply is not None:
            records = problem.apply(records)
            problem.message = f"fixed: {problem.message}"
        problems.append(problem)
    return problems, records
