"""StackFAQ: StackExchange threads, each with people's rephrasings of its question."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .data import Benchmark, Candidate, Query, product_item, product_query, read_json_set

FILE_NAME = "stackfaq-dev.json"
PATH_HINT = "give stackfaq-dev.json or the folder holding it"


def load_stackfaq(path: Path | str) -> Benchmark:
    """Every rephrasing is a query; every thread (question and answers) is a candidate."""
    source, data = read_json_set(path, FILE_NAME, "StackFAQ", PATH_HINT)
    try:
        pairs = data["root"]["qapair"]
        threads = [(p["question"], p["answer"], p.get("rephr") or []) for p in pairs]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"Cannot read {source} as StackFAQ ({exc}); {PATH_HINT}") from None
    candidates = []
    for number, (question, answers, _) in enumerate(threads):
        answers = [answers] if isinstance(answers, str) else [a for a in answers if a]
        # A FAQ thread has a title-like question and no body: the product indexes it that way.
        item = product_item(str(number), question, "", answers)
        candidates.append(Candidate(str(number), [question, *answers], item))
    queries = []
    for number, (_, _, rephrasings) in enumerate(threads):
        for k, text in enumerate(rephrasings):
            if text and text.strip() and text.strip() != "*":
                query = Query(f"{number}:{k}", product_query(text.strip(), ""), candidates)
                query.relevant.add(str(number))
                queries.append(query)
    if not queries:
        raise InputError(f"No rephrasings in {source}; {PATH_HINT}")
    return Benchmark("stackfaq", None, str(source), queries, "retrieval")
