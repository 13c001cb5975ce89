"""Synthetic questions and answers from documentation passages, kept as `synthetic` examples."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..records import Passage
from .base import Ask, Job, JobReport, Planned, load_prompt, parse_json, usage

if TYPE_CHECKING:
    from ..llm import Client
    from ..workspace import Workspace

QUESTIONS = 3
QUESTION_TOKENS = 25  # assumed length of one generated question
ANSWER_TOKENS = 150  # assumed length of one answer
STATE_PREFIX = "jobs:synth-qa:passage:"
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_DONT_KNOW = re.compile(r"^\W*(i don'?t know|unanswerable|not answered|n/?a)\W*$", re.I)


def state_key(passage: Passage) -> str:
    """Where a passage's questions and answers are stored."""
    return f"{STATE_PREFIX}{passage.id}"


def normalise(question: str) -> str:
    """A question reduced to lowercase words, so trivially different copies compare equal."""
    return " ".join(_NOT_WORD.sub(" ", question.lower()).split())


QUESTIONS_FORM = '{"questions": ["first question", "second question"]}'
ANSWER_FORM = '{"answer": "the answer"} or {"unanswerable": true}'
UNANSWERABLE = ""  # what parse_answer gives when the model said the passage does not answer


def parse_questions(text: str) -> list[str] | None:
    """Questions from a reply: {"questions": [...]}, a list of strings or of {"question": ...},
    or failing JSON, the lines that end with a question mark; None when it holds none of these."""
    value = parse_json(text)
    if isinstance(value, dict):
        if "questions" not in value and "question" not in value:
            return None
        value = value.get("questions", [value])
    if isinstance(value, list):
        found = [v.get("question") if isinstance(v, dict) else v for v in value]
        return [q.strip() for q in found if isinstance(q, str) and q.strip()]
    lines = (re.sub(r"^\s*(?:[-*]|\d+[.)])\s*", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line.endswith("?")] or None


def parse_answer(text: str) -> str | None:
    """The answer in a reply; UNANSWERABLE ("") when the model said the passage does not answer
    it; None when the reply is not the JSON asked for."""
    value = parse_json(text)
    if isinstance(value, list):
        value = value[0] if value and isinstance(value[0], dict) else None
    if not isinstance(value, dict):
        return None
    if value.get("unanswerable") in (True, "true", "yes"):
        return UNANSWERABLE
    answer = value.get("answer")
    if not isinstance(answer, str):
        return None
    answer = answer.strip()
    return UNANSWERABLE if not answer or _DONT_KNOW.match(answer) else answer


def passage_result(workspace: Workspace, passage: Passage) -> dict[str, Any] | None:
    """The stored questions and answers of a passage, if they are of its current text."""
    result = workspace.store.get_state(state_key(passage))
    if not result or result.get("hash") != passage.content_hash():
        return None
    return result


class SynthQA(Job):
    """For each passage, N questions it answers, each answered from the passage alone."""

    name = "synth-qa"

    def __init__(
        self, workspace: Workspace, model: str, questions: int = QUESTIONS,
        limit: int | None = None, client: Client | None = None,
    ):
        if questions < 1:
            raise UsageError("--questions must be 1 or more")
        super().__init__(workspace, model, limit, client)
        self.questions = questions
        self.ask_prompt = load_prompt(workspace, "synth_questions")
        self.answer_prompt = load_prompt(workspace, "synth_answer")
        self._seen: set[str] | None = None

    def items(self) -> list[Passage]:
        return self.store.passages()

    def is_done(self, passage: Passage) -> bool:
        result = passage_result(self.workspace, passage)
        return bool(result) and result.get("model") == self.model and \
            result.get("questions") == self.questions

    def question_messages(self, passage: Passage) -> list[dict[str, str]]:
        return self.ask_prompt.render(title=_title(passage), text=passage.text.strip(),
                                      questions=self.questions)

    def answer_messages(self, passage: Passage, question: str) -> list[dict[str, str]]:
        return self.answer_prompt.render(title=_title(passage), text=passage.text.strip(),
                                         question=question.strip())

    def plan(self, passage: Passage) -> list[Planned]:
        asking = Planned(self.question_messages(passage), self.questions * QUESTION_TOKENS)
        answering = Planned(self.answer_messages(passage, ""), ANSWER_TOKENS, QUESTION_TOKENS)
        return [asking] + [answering] * self.questions

    def seen(self) -> set[str]:
        """Questions already kept for other passages: a later copy is dropped."""
        if self._seen is None:
            self._seen = set()
            for passage in self.items():
                result = passage_result(self.workspace, passage)
                for pair in (result or {}).get("pairs", []):
                    self._seen.add(normalise(pair["question"]))
        return self._seen

    def process(self, passage: Passage, ask: Ask, report: JobReport) -> None:
        seen = self.seen()
        stale = passage_result(self.workspace, passage)  # of another model: its questions go
        for pair in (stale or {}).get("pairs", []):
            seen.discard(normalise(pair["question"]))
        questions, made = self.ask_json(ask, self.question_messages(passage), parse_questions,
                                        QUESTIONS_FORM, report)
        if questions is None:  # nothing stored: the passage is tried again on the next run
            report.failed += 1
            return
        questions = questions[: self.questions]
        if not questions:
            report.counts["passages without questions"] += 1
        pairs, dropped = [], {"duplicate": 0, "unanswerable": 0, "answer not parsed": 0}
        for question in questions:
            key = normalise(question)
            if not key or key in seen:
                dropped["duplicate"] += 1
                continue
            answer, calls = self.ask_json(ask, self.answer_messages(passage, question),
                                          parse_answer, ANSWER_FORM, report)
            made += calls
            if answer is None:
                dropped["answer not parsed"] += 1
                continue
            if answer == UNANSWERABLE:
                dropped["unanswerable"] += 1
                continue
            seen.add(key)
            pairs.append({"question": question, "answer": answer})
        report.counts["kept"] += len(pairs)
        for reason, count in dropped.items():
            if count:
                report.counts[reason] += count
        self.store.set_state(state_key(passage), {
            "hash": passage.content_hash(), "model": self.model, "questions": self.questions,
            "pairs": pairs, "dropped": dropped, "usage": usage(made),
        })

    def finish(self, report: JobReport) -> None:
        from .examples import rebuild

        rebuild(self.workspace, "synthetic")


def _title(passage: Passage) -> str:
    return passage.heading or passage.path

