"""SemEval-2016 Task 3 subtask A: rerank the 10 comments of a forum question for itself."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..index import KnowledgeItem
from .data import Benchmark, Candidate, Query, product_query
from .semeval import PATH_HINT, read_gold, read_xml

RELEVANT_A = {"Good"}


def load_semeval_a(path: Path | str, split: str = "dev") -> Benchmark:
    """One query per related question (each once); candidates are its comments, in their
    posting order, which is also the chronological baseline; relevant = Good for it."""
    xml, root = read_xml(path, split)
    queries: dict[str, Query] = {}
    for thread in root.iter("Thread"):
        relq = thread.find("RelQuestion")
        qid = relq.get("RELQ_ID", "") if relq is not None else ""
        if not qid or qid in queries:
            continue
        subject = (relq.findtext("RelQSubject") or "").strip()
        body = (relq.findtext("RelQBody") or "").strip()
        query = Query(qid, product_query(subject, body), [])
        for position, comment in enumerate(thread.iter("RelComment"), start=1):
            cid, text = comment.get("RELC_ID", ""), (comment.findtext("RelCText") or "").strip()
            # A comment is judged as an answer on its own: indexed like a doc passage.
            item = KnowledgeItem(cid, "passage", subject, text, text, "")
            query.candidates.append(Candidate(cid, [text], item, position))
            if comment.get("RELC_RELEVANCE2RELQ") in RELEVANT_A:
                query.relevant.add(cid)
        if query.candidates:
            queries[qid] = query
    if not queries:
        raise InputError(f"No RelQuestion with comments in {xml}; {PATH_HINT}")
    gold = xml.with_name(f"{xml.name}.subtaskA.relevancy")
    if gold.is_file():  # the official file, where present, decides labels and order
        rows = read_gold(gold)
        for query in queries.values():
            query.relevant.clear()
        position = {(q, c): n for n, (q, c, _) in enumerate(rows)}
        for qid, cid, relevant in rows:
            if relevant and qid in queries:
                queries[qid].relevant.add(cid)
        for query in queries.values():
            query.candidates.sort(key=lambda c: position.get((query.id, c.id), len(rows)))
    return Benchmark("semeval2016", "A", str(xml), list(queries.values()), "semeval")

