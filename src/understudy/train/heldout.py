"""Evaluation on the team's held-out threads (the validation split), before promotion."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from ..answer import ticket_query
from ..llm import Client
from ..prompts import STOP
from ..records import Example
from ..store import Store
from ..text import markdown_to_text

Encode = Callable[[list[str]], np.ndarray]
_WORD = re.compile(r"\w+")


def token_f1(answer: str, reference: str) -> float:
    """Word overlap F1 of an answer against the reply the team wrote (SQuAD-style)."""
    ours = Counter(_WORD.findall(answer.lower()))
    theirs = Counter(_WORD.findall(reference.lower()))
    common = sum((ours & theirs).values())
    if not common:
        return 0.0
    precision, recall = common / sum(ours.values()), common / sum(theirs.values())
    return 2 * precision * recall / (precision + recall)


def generation_scores(client: Client, examples: list[Example], completion: bool = False,
                      max_tokens: int = 256) -> dict[str, float]:
    """Answer each held-out prompt with `client`'s model; mean word F1 against the team's
    reply, in percent."""
    from ..datasets.formats import completion_prompt

    scores = []
    for example in examples:
        if completion:
            done = client.complete(prompt=completion_prompt(example), max_tokens=max_tokens,
                                   stop=[STOP])
        else:
            done = client.complete(messages=example.messages, max_tokens=max_tokens)
        scores.append(token_f1(done.text, markdown_to_text(example.completion)))
    return {"answer_f1": round(100 * float(np.mean(scores)), 2) if scores else 0.0,
            "heldout": len(scores)}


def qa_pairs(store: Store, examples: list[Example]) -> list[tuple[str, str, str]]:
    """(group, question, answer) per example: the ticket's title and question, and the reply
    as plain text; group is the thread, so a thread's replies all count as its answers."""
    pairs = []
    threads: dict[int, str] = {}
    for example in examples:
        if example.thread_id is None:
            continue
        if example.thread_id not in threads:
            threads[example.thread_id] = ticket_query(store.get_thread(example.thread_id))
        answer = markdown_to_text(example.completion).strip()
        if answer:
            pairs.append((str(example.thread_id), threads[example.thread_id], answer))
    return pairs


def retrieval_scores(encode: Encode, queries: list[tuple[str, str, str]],
                     answers: list[tuple[str, str, str]]) -> dict[str, float]:
    """How well each held-out question finds its own thread's answers among all answers:
    MRR and recall@1, in percent."""
    if not queries or not answers:
        return {"mrr": 0.0, "recall_at_1": 0.0, "heldout": 0}
    questions = list(dict.fromkeys((g, q) for g, q, _ in queries))
    candidates = list(dict.fromkeys((g, a) for g, _, a in answers))
    matrix = encode([a for _, a in candidates])
    vectors = encode([q for _, q in questions])
    owners = np.array([g for g, _ in candidates])
    reciprocal, first = [], []
    for (group, _), vector in zip(questions, vectors, strict=True):
        order = np.argsort(-(matrix @ vector), kind="stable")
        rank = int(np.flatnonzero(owners[order] == group)[0]) + 1
        reciprocal.append(1 / rank)
        first.append(rank == 1)
    return {"mrr": round(100 * float(np.mean(reciprocal)), 2),
            "recall_at_1": round(100 * float(np.mean(first)), 2), "heldout": len(questions)}
