"""The resumable job runner: prompts from files, a cost estimate first, progress with spent cost."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError, UnderstudyError
from ..llm import Client, Completion, client_for, cost, price_for
from ..store.locks import LockBusy, named_lock
from ..text import count_tokens

if TYPE_CHECKING:
    from ..workspace import Workspace

PROMPTS_FOLDER = "prompts"  # in the workspace: files here replace the packaged prompts
SYSTEM_SEPARATOR = "\n---\n"  # in a prompt file, the system message comes before this line
_FIELD = re.compile(r"\{([a-z_]+)\}")
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?|\n?\s*```\s*$")

Ask = Callable[[list[dict[str, str]]], Completion]
Parse = Callable[[str], Any]  # a reply's text -> its value, or None when it is not the form asked

# Sent once after a reply that is not the JSON asked for, with the form the prompt asked for.
STRICTER = ("Your reply was not the JSON asked for, so it could not be read. Reply again with "
            "JSON only, in exactly this form, with nothing before or after it:\n{form}")


@dataclass(frozen=True)
class Prompt:
    """A prompt template: a system message and a user message with {field} slots."""

    name: str
    system: str
    user: str
    origin: str  # the file it came from

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages with the slots filled; other braces stay as they are."""
        def fill(template: str) -> str:
            return _FIELD.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], template)

        messages = [{"role": "user", "content": fill(self.user)}]
        if self.system:
            messages.insert(0, {"role": "system", "content": fill(self.system)})
        return messages


def load_prompt(workspace: Workspace, name: str) -> Prompt:
    """The prompt `name`: <workspace>/prompts/<name>.txt when present, else the packaged one."""
    override = workspace.home / PROMPTS_FOLDER / f"{name}.txt"
    if override.is_file():
        try:
            text, origin = override.read_text(encoding="utf-8"), str(override)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the prompt {override} ({exc}): fix or remove it") \
                from None
    else:
        packaged = resources.files(__package__).joinpath(PROMPTS_FOLDER, f"{name}.txt")
        text, origin = packaged.read_text(encoding="utf-8"), f"understudy/jobs/prompts/{name}.txt"
    system, found, user = text.partition(SYSTEM_SEPARATOR)
    if not found:
        system, user = "", text
    if not user.strip():
        raise ConfigError(f"The prompt {origin} has no user message: write it after a '---' line")
    return Prompt(name, system.strip(), user.strip(), origin)


def parse_json(text: str) -> Any:
    """The first JSON object or list in a model's reply (code fences and chatter around it
    allowed), or None when there is none."""
    text = _FENCE.sub("", text.strip())
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict | list):
            return value
    return None


def chat_tokens(messages: list[dict[str, str]], model: str) -> int:
    """Prompt tokens of chat messages as OpenAI bills them: contents plus per-message overhead."""
    return sum(3 + count_tokens(m["content"], model) for m in messages) + 3


@dataclass
class Planned:
    """One call an item will make: its messages and an assumed completion length in tokens."""

    messages: list[dict[str, str]]
    completion_tokens: int
    extra_prompt_tokens: int = 0  # what the messages do not hold yet (a question not yet asked)


@dataclass
class Estimate:
    """What a run is expected to cost before it starts."""

    job: str
    model: str
    items: int  # items this run will work on
    done: int  # items already finished, skipped
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    priced: bool  # False when the model has no known price (a server of one's own)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class JobReport:
    """What a run did: items finished, calls made or answered from the cache, tokens, cost."""

    job: str
    model: str
    items: int = 0  # items this run set out to do
    finished: int = 0
    done_before: int = 0
    calls: int = 0  # requests sent to the model
    cached: int = 0  # requests answered from the call cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    counts: Counter = field(default_factory=Counter)  # job-specific outcomes
    stopped: str | None = None  # why the run stopped early
    not_parsed: int = 0  # replies that were not the JSON asked for
    parsed_on_retry: int = 0  # of those, how many the stricter second request fixed
    failed: int = 0  # items left without a result: their reply did not parse even then

    @property
    def worked(self) -> int:
        """Items this run worked through, finished or failed."""
        return self.finished + self.failed

    def failed_share(self) -> float:
        return self.failed / self.worked if self.worked else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "counts"},
                "counts": dict(sorted(self.counts.items()))}


Progress = Callable[[JobReport], None]


class Job(ABC):
    """A batch of language-model calls over stored items; finished items are never redone."""

    name: ClassVar[str]

    def __init__(
        self, workspace: Workspace, model: str, limit: int | None = None,
        client: Client | None = None,
    ):
        self.workspace = workspace
        self.store = workspace.store
        self.model = model
        self.limit = limit
        self._client = client
        self.prices = workspace.settings.get("prices")
        self._exclusive = False

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this job's lock on the workspace for the block: one run of a job at a time,
        across processes and hosts. A second run is refused at once (UnderstudyError), rather
        than both paying for the same items and storing them twice."""
        if self._exclusive:
            yield
            return
        try:
            with named_lock(self.store, f"job:{self.name}", wait=0):
                self._exclusive = True
                try:
                    yield
                finally:
                    self._exclusive = False
        except LockBusy:
            raise UnderstudyError(
                f"Another 'understudy jobs {self.name}' is running on this workspace: wait for "
                "it to finish, then run this one again") from None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = client_for(self.workspace, "openai", self.model)
        return self._client

    def connect(self) -> Client:
        """The model client, set up now: a missing key fails here rather than mid-run."""
        return self.client

    @abstractmethod
    def items(self) -> list[Any]:
        """Every item the job covers, in the order it works on them."""

    @abstractmethod
    def is_done(self, item: Any) -> bool:
        """True when the item's result is stored."""

    @abstractmethod
    def plan(self, item: Any) -> list[Planned]:
        """The calls the item will make at most, for the estimate."""

    @abstractmethod
    def process(self, item: Any, ask: Ask, report: JobReport) -> None:
        """Make the item's calls and store its result."""

    @abstractmethod
    def finish(self, report: JobReport) -> None:
        """Make the examples from the stored results: after a run that finished items (even
        when it stopped early), or after one killed before it made them."""

    def pending(self) -> tuple[list[Any], int]:
        """The items this run will work on (at most `limit`), and how many are done already."""
        todo, done = [], 0
        for item in self.items():
            if self.is_done(item):
                done += 1
            elif self.limit is None or len(todo) < self.limit:
                todo.append(item)
        return todo, done

    def estimate(self) -> Estimate:
        """Calls, tokens and cost of the pending items, from the real prompts."""
        todo, done = self.pending()
        calls = prompt = completion = 0
        for item in todo:
            for planned in self.plan(item):
                calls += 1
                prompt += chat_tokens(planned.messages, self.model) + planned.extra_prompt_tokens
                completion += planned.completion_tokens
        priced = price_for(self.model, self.prices) is not None
        spent = cost(self.model, prompt, completion, self.prices)
        return Estimate(self.name, self.model, len(todo), done, calls, prompt, completion, spent,
                        priced)

    def run(self, progress: Progress | None = None) -> JobReport:
        """Work through the pending items, storing each result as soon as it is finished.

        A failing model or an interrupt stops the run; what finished stays, and the next run
        starts after it. Another run of the same job on the workspace is refused (`exclusive`).
        """
        with self.exclusive():
            return self._run(progress)

    def _run(self, progress: Progress | None) -> JobReport:
        todo, done = self.pending()
        report = JobReport(self.name, self.model, items=len(todo), done_before=done)
        # Set while results may be stored that the examples do not hold yet: a run killed
        # after its last result but before its examples leaves it, and the next run, with
        # nothing left to ask, makes the examples.
        examples_key = f"jobs:{self.name}:examples"
        stale = bool((self.store.get_state(examples_key) or {}).get("stale"))
        if not todo:
            if stale:
                self._finish(report, examples_key)
            return report
        if not stale:
            self.store.set_state(examples_key, {"stale": True})
        ask = self._asker(report, progress)
        try:
            for item in todo:
                failed = report.failed
                self.process(item, ask, report)
                if report.failed == failed:
                    report.finished += 1
                if progress:
                    progress(report)
        except UnderstudyError as exc:
            report.stopped = str(exc)
        except KeyboardInterrupt:
            report.stopped = "interrupted"
        finally:
            if report.finished or stale:
                self._finish(report, examples_key)
        return report

    def _finish(self, report: JobReport, examples_key: str) -> None:
        self.finish(report)
        self.store.set_state(examples_key, {"stale": False})

    def ask_json(self, ask: Ask, messages: list[dict[str, str]], parse: Parse, form: str,
                 report: JobReport) -> tuple[Any, list[Completion]]:
        """Ask, and parse the reply; a reply that is not the JSON asked for is counted and asked
        once more with a stricter instruction. Returns the value (None when even the second
        reply did not parse) and the completions made."""
        made = [ask(messages)]
        value = parse(made[0].text)
        if value is not None:
            return value, made
        report.not_parsed += 1
        retry = [*messages, {"role": "assistant", "content": made[0].text},
                 {"role": "user", "content": STRICTER.format(form=form)}]
        made.append(ask(retry))
        value = parse(made[1].text)
        if value is not None:
            report.parsed_on_retry += 1
        return value, made

    def _asker(self, report: JobReport, progress: Progress | None) -> Ask:
        client = self.client

        def ask(messages: list[dict[str, str]]) -> Completion:
            if client.completion_only():
                prompt = "\n\n".join(m["content"] for m in messages) + "\n\n"
                done = client.complete(prompt=prompt, temperature=0)
            else:
                done = client.complete(messages=messages, temperature=0)
            if done.cached:
                report.cached += 1
            else:
                report.calls += 1
            report.prompt_tokens += done.prompt_tokens
            report.completion_tokens += done.completion_tokens
            report.cost += done.cost
            if progress:
                progress(report)
            return done

        return ask


def usage(completions: list[Completion]) -> dict[str, Any]:
    """The token usage and cost of an item's calls, as stored with its result."""
    return {
        "calls": len(completions),
        "cached": sum(c.cached for c in completions),
        "prompt_tokens": sum(c.prompt_tokens for c in completions),
        "completion_tokens": sum(c.completion_tokens for c in completions),
        "cost": round(sum(c.cost for c in completions), 8),
        "call_ids": [c.call_id for c in completions],
    }
