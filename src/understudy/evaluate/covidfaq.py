"""CovidFAQ: public-health FAQ answers and user queries labelled against them."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .data import Benchmark, Candidate, Query, product_item, product_query, read_json_set

FILE_NAME = "query_answer_pairs.json"
PATH_HINT = "give query_answer_pairs.json or the folder holding it"


def load_covidfaq(path: Path | str) -> Benchmark:
    """Each distinct FAQ answer (with the FAQ questions it answers) is a candidate; each
    distinct user query is a query whose right results are the answers it was labelled with."""
    source, rows = read_json_set(path, FILE_NAME, "CovidFAQ", PATH_HINT)
    try:
        pairs = [(r["query_type"], r["question"].strip(), r["answer"].strip(), int(r["label"]))
                 for r in rows]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"Cannot read {source} as CovidFAQ ({exc}); {PATH_HINT}") from None
    answers: dict[str, list[str]] = {}  # answer -> its FAQ questions, in file order
    for kind, question, answer, _ in pairs:
        if kind == "faq":
            answers.setdefault(answer, []).append(question)
    for kind, _, answer, _ in pairs:
        if kind != "faq":
            answers.setdefault(answer, [])
    candidates, ids = [], {}
    for number, (answer, questions) in enumerate(answers.items()):
        key = ids[answer] = str(number)
        title = questions[0] if questions else ""
        item = product_item(key, title, "\n".join(questions[1:]), [answer])
        candidates.append(Candidate(key, [*questions, answer], item))
    queries: dict[str, Query] = {}
    for kind, question, answer, label in pairs:
        if kind == "faq" or not question:
            continue
        query = queries.get(question)
        if query is None:
            query = queries[question] = Query(str(len(queries)), product_query(question, ""),
                                              candidates)
        if label:
            query.relevant.add(ids[answer])
    found = [q for q in queries.values() if q.relevant]
    if not found:
        raise InputError(f"No labelled user queries in {source}; {PATH_HINT}")
    return Benchmark("covidfaq", None, str(source), found, "retrieval")
