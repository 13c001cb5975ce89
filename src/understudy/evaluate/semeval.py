"""SemEval-2016 Task 3 (Qatar Living forum) in its official XML layout, subtasks B and C."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import InputError, UsageError
from .data import Benchmark, Candidate, Query, product_item, product_passage, product_query

SUBTASKS = ("B", "C")
RELEVANT_B = {"PerfectMatch", "Relevant"}
RELEVANT_C = {"Good"}
PATH_HINT = "give the folder holding dev/ and train/, or a SemEval-2016 Task 3 XML file"


def find_xml(path: Path | str, split: str = "dev") -> Path:
    """The XML file of `split` under `path` (the data folder, the split folder, or the file)."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError(f"No such file or folder: {path}; {PATH_HINT}")
    for folder in (path / split, path):
        found = sorted(folder.glob("*.xml")) if folder.is_dir() else []
        named = [f for f in found if split in f.name.lower()]
        if named or (found and folder == path / split):
            return (named or found)[0]
    raise InputError(f"No SemEval-2016 {split} XML under {path}; {PATH_HINT}")


def read_xml(path: Path | str, split: str = "dev") -> tuple[Path, ET.Element]:
    """The XML file of `split` under `path` and its parsed root; unreadable XML is an
    InputError that says where to get the data."""
    xml = find_xml(path, split)
    try:
        return xml, ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"Cannot read {xml} as SemEval XML ({exc}); {PATH_HINT}") from None


def read_gold(path: Path) -> list[tuple[str, str, bool]]:
    """(query id, candidate id, relevant) rows of an official .relevancy file, in file order."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 5 or parts[4] not in ("true", "false"):
            raise InputError(f"{path}:{number}: expected 'qid cid rank score true|false'")
        rows.append((parts[0], parts[1], parts[4] == "true"))
    return rows


def load_semeval(
    path: Path | str, subtask: str = "B", split: str = "dev", comments_as: str = "passage"
) -> Benchmark:
    """Queries of subtask B (rerank 10 related questions) or C (rerank 100 comments).

    `comments_as` is how the default system indexes a comment in C: "passage" (its own text
    under its thread's subject) or "answer" (the reply of a thread matched by its question).
    """
    subtask = subtask.upper()
    if subtask not in SUBTASKS:
        raise UsageError(f"Unknown subtask {subtask!r}: use --subtask B or --subtask C")
    xml, root = read_xml(path, split)
    queries: dict[str, Query] = {}
    labels: dict[tuple[str, str], bool] = {}
    for org in root.iter("OrgQuestion"):
        qid = org.get("ORGQ_ID", "")
        query = queries.get(qid)
        if query is None:
            text = product_query(_text(org, "OrgQSubject"), _text(org, "OrgQBody"))
            query = queries[qid] = Query(qid, text, [])
        for thread in org.iter("Thread"):
            _add_thread(query, thread, subtask, labels, comments_as == "passage")
    if not queries:
        raise InputError(f"No OrgQuestion in {xml}; {PATH_HINT}")
    gold = xml.with_name(f"{xml.name}.subtask{subtask}.relevancy")
    if gold.is_file():
        _apply_gold(queries, read_gold(gold))
    else:
        for (qid, cid), relevant in labels.items():
            if relevant:
                queries[qid].relevant.add(cid)
    return Benchmark("semeval2016", subtask, str(xml), list(queries.values()), "semeval")


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _add_thread(
    query: Query,
    thread: ET.Element,
    subtask: str,
    labels: dict[tuple[str, str], bool],
    passages: bool = True,
) -> None:
    relq = thread.find("RelQuestion")
    if relq is None:
        return
    rid = relq.get("RELQ_ID", "")
    order = int(relq.get("RELQ_RANKING_ORDER") or 0)
    subject, body = _text(relq, "RelQSubject"), _text(relq, "RelQBody")
    comments = [(c.get("RELC_ID", ""), _text(c, "RelCText"), c) for c in thread.iter("RelComment")]
    if subtask == "B":
        item = product_item(rid, subject, body, [text for _, text, _ in comments])
        query.candidates.append(Candidate(rid, [f"{subject}\n{body}".strip()], item, order))
        labels[(query.id, rid)] = relq.get("RELQ_RELEVANCE2ORGQ") in RELEVANT_B
        return
    for position, (cid, text, comment) in enumerate(comments, start=1):
        # A comment is judged as an answer on its own, so the product's matching has to see its
        # text: it is indexed as a passage under its thread's subject. As an answer to its
        # thread's question (product_item) it would be matched by that question alone.
        item = product_passage(cid, subject, text) if passages else product_item(
            cid, subject, body, [text])
        query.candidates.append(Candidate(cid, [text], item, order * 100 + position))
        labels[(query.id, cid)] = comment.get("RELC_RELEVANCE2ORGQ") in RELEVANT_C


def _apply_gold(queries: dict[str, Query], rows: list[tuple[str, str, bool]]) -> None:
    """Take labels from the gold file and put candidates in its order."""
    position = {(qid, cid): n for n, (qid, cid, _) in enumerate(rows)}
    for qid, cid, relevant in rows:
        if relevant and qid in queries:
            queries[qid].relevant.add(cid)
    for query in queries.values():
        query.candidates.sort(key=lambda c: position.get((query.id, c.id), len(rows)))
