"""Training examples from the store: team replies to synced threads, and reviewers' sent edits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from ..answer import Answerer
from ..backends.openai import DEFAULT_BUDGET, source_item
from ..errors import UsageError
from ..jobs.examples import code_examples, synthetic_examples
from ..llm import DEFAULT_OPENAI_MODEL
from ..marker import MARKER, without_marker
from ..prompts import ANSWERING, Rules, build_messages, rules_for
from ..records import Example, Message, Thread
from ..store.training import examples as stored_examples
from ..store.training import replace_examples, update_examples
from ..text import is_procedural, markdown_to_text, mask_secrets
from ..workspace import Workspace
from .split import VALID_SHARE, assign_splits

# A reply posted by `understudy send` carries this marker; the edits builder covers it.
# Shorter replies are left out. Procedural one-liners ("thanks, closing") are caught by the
# procedural filter, so this only has to drop the empty-ish: a real answer can be short
# ("Set http.timeout to 120 and retry." is 35 characters).
MIN_CHARS = 20


@dataclass
class BuildOptions:
    """Which replies become examples, and how their prompts are built."""

    kinds: list[str] = field(default_factory=lambda: ["reply", "edit"])
    team: list[str] | None = None  # authors who count as the team; None: the synced flags
    since: str | None = None  # ISO date or time; replies before it are left out
    until: str | None = None  # replies at or after it are left out
    min_chars: int = MIN_CHARS
    projects: list[str] | None = None
    sources: bool = True  # retrieve the sources the answerer would have had
    budget: int = DEFAULT_BUDGET
    model: str = DEFAULT_OPENAI_MODEL
    valid_share: float = VALID_SHARE


@dataclass
class BuildReport:
    """What a build made: examples per kind and split, and what it left out and why."""

    counts: Counter = field(default_factory=Counter)  # (kind, split) -> examples
    skipped: Counter = field(default_factory=Counter)  # reason -> replies left out

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict:
        return {
            "examples": self.total,
            "by_kind": {f"{k}/{s}": n for (k, s), n in sorted(self.counts.items())},
            "skipped": dict(sorted(self.skipped.items())),
        }


Progress = Callable[[int, int], None]
Builder = Callable[[Workspace, BuildOptions, BuildReport], Iterator[Example]]


def thread_ref(thread: Thread) -> str:
    """A thread's name that holds across workspaces: its source and external id."""
    return f"{thread.source}:{thread.external_id}"


# One answering pipeline per workspace while a build runs: its ranker is loaded once.
_PIPELINES: WeakKeyDictionary[Workspace, Answerer] = WeakKeyDictionary()


def _pipeline(workspace: Workspace) -> Answerer:
    if workspace not in _PIPELINES:
        _PIPELINES[workspace] = Answerer(workspace, "retrieval")
    return _PIPELINES[workspace]


def prompt_messages(
    workspace: Workspace, thread: Thread, upto: int, before: str, options: BuildOptions,
    rules: Rules = ANSWERING,
) -> tuple[list[dict[str, str]], list[str]]:
    """The chat prompt for the reply at position `upto`: the thread so far and the evidence
    the answerer would have been handed from what existed `before`, built by build_messages
    with the instructions (`rules`) the reply obeys."""
    items = []
    if options.sources:
        items = [source_item(e) for e in _pipeline(workspace).prompt_evidence(thread,
                                                                             before or None)]
    messages = build_messages(thread, items, upto=upto, budget=options.budget,
                              model=options.model, rules=rules)
    masked = [{**m, "content": mask_secrets(m["content"])} for m in messages]
    return masked, [i.key for i in items]


def _in_range(stamp: str, options: BuildOptions) -> bool:
    if options.since and stamp < options.since:
        return False
    return not (options.until and stamp >= options.until)


def _is_team_reply(message: Message, team: set[str] | None, patterns: list[str]) -> str | None:
    """Why a message is not a substantive team reply, or None when it is one."""
    if message.kind != "reply" or message.is_bot:
        return "not a reply"
    if not (message.author in team if team is not None else message.is_team):
        return "not the team"
    if MARKER.search(message.body):
        return "sent draft"
    text = message.text or markdown_to_text(message.body)
    if not text.strip() or is_procedural(text, patterns):
        return "procedural"
    return None


def reply_examples(
    workspace: Workspace, options: BuildOptions, report: BuildReport
) -> Iterator[Example]:
    """One example per substantive team reply of every synced thread."""
    team = set(options.team) if options.team else None
    patterns = workspace.settings.get("procedural_patterns") or []
    workspace.index.extra_patterns = patterns
    for thread in workspace.store.threads():
        if options.projects and thread.project not in options.projects:
            continue
        for position, message in enumerate(thread.messages[1:], start=1):
            reason = _is_team_reply(message, team, patterns)
            if reason in ("not a reply", "not the team"):
                continue
            if reason is None and not _in_range(message.created_at, options):
                reason = "out of date range"
            text = (message.text or markdown_to_text(message.body)).strip()
            if reason is None and len(text) < options.min_chars:
                reason = "too short"
            if reason:
                report.skipped[reason] += 1
                continue
            messages, keys = prompt_messages(workspace, thread, position, message.created_at,
                                             options, rules_for(text))
            yield Example(
                kind="reply", messages=messages, completion=mask_secrets(message.body.strip()),
                thread_id=thread.id, message_id=message.id,
                source={"thread": thread_ref(thread), "url": thread.url,
                        "author": message.author, "at": message.created_at, "sources": keys},
            )


def edit_examples(
    workspace: Workspace, options: BuildOptions, report: BuildReport
) -> Iterator[Example]:
    """One example per sent draft: the text the reviewer finally sent."""
    store = workspace.store
    for draft in store.drafts(status="sent"):
        text = without_marker(draft.final_text or draft.text)
        thread = store.get_thread(draft.thread_id)
        if options.projects and thread.project not in options.projects:
            continue
        if not _in_range(draft.created_at, options):
            report.skipped["out of date range"] += 1
            continue
        if len(markdown_to_text(text).strip()) < options.min_chars:
            report.skipped["too short"] += 1
            continue
        upto = 0
        while upto < len(thread.messages) and thread.messages[upto].created_at <= draft.created_at:
            upto += 1
        messages, keys = prompt_messages(workspace, thread, max(upto, 1), draft.created_at,
                                         options, rules_for(markdown_to_text(text)))
        edited = draft.final_text is not None and draft.final_text.strip() != draft.text.strip()
        yield Example(
            kind="edit", messages=messages, completion=mask_secrets(text), thread_id=thread.id,
            draft_id=draft.id,
            source={"thread": thread_ref(thread), "url": thread.url, "draft": draft.id,
                    "edited": edited, "backend": draft.backend, "at": draft.created_at,
                    "sources": keys},
        )


# Builder name (for --kind) -> the example kind it makes and the function making them.
BUILDERS: dict[str, tuple[str, Builder]] = {
    "reply": ("reply", reply_examples),
    "edit": ("edit", edit_examples),
    "synthetic": ("synthetic", synthetic_examples),  # from `understudy jobs synth-qa`
    "code": ("code", code_examples),  # from `understudy jobs annotate-code`
}


# Plurals said before the kinds were named as the examples are; still understood.
ALIASES = {"replies": "reply", "edits": "edit"}


def builder_name(kind: str) -> str:
    """The builder for an example kind given to --kind (an old plural works too)."""
    name = ALIASES.get(kind, kind)
    if name not in BUILDERS:
        raise UsageError(f"Unknown example kind '{kind}': use one of {', '.join(BUILDERS)}")
    return name


def build(
    workspace: Workspace, options: BuildOptions | None = None, progress: Progress | None = None
) -> BuildReport:
    """Rebuild the examples of the chosen kinds and split all examples by thread."""
    options = options or BuildOptions()
    options.kinds = [builder_name(k) for k in options.kinds]
    report = BuildReport()
    made: list[Example] = []
    for name in dict.fromkeys(options.kinds):
        for example in BUILDERS[name][1](workspace, options, report):
            made.append(example)
            if progress:
                progress(len(made), 0)
    replace_examples(workspace.store, [BUILDERS[k][0] for k in options.kinds], made)
    everything = stored_examples(workspace.store)
    assign_splits(everything, options.valid_share)
    update_examples(workspace.store, everything)
    for example in everything:
        if example.kind in {BUILDERS[k][0] for k in options.kinds}:
            report.counts[(example.kind, example.split)] += 1
    return report
