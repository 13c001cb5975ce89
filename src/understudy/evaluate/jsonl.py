"""A benchmark a user brings: queries, documents and relevance judgements as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from .data import Benchmark, Candidate, Query, product_item, product_query

FILES = ("queries.jsonl", "documents.jsonl", "relevance.jsonl")
FORMAT = ('give a folder with queries.jsonl ({"id", "text"}), documents.jsonl ({"id", "text", '
          '"title"?, "answer"?}) and relevance.jsonl ({"query", "document", "relevance"?})')


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file; a bad line is an error naming its line."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read {path} ({exc.strerror}); {FORMAT}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{number}: not JSON; {FORMAT}") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected an object; {FORMAT}")
        rows.append(row)
    return rows


def _field(row: dict[str, Any], name: str, path: Path, number: int) -> str:
    value = row.get(name)
    if value is None or str(value).strip() == "":
        raise InputError(f"{path}:{number}: missing \"{name}\"; {FORMAT}")
    return str(value)


def load_jsonl(path: Path | str) -> Benchmark:
    """Every query ranks every document; a document is relevant when its relevance is > 0."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputError(f"No such folder: {folder}; {FORMAT}")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} has no {', '.join(missing)}; {FORMAT}")
    qpath, dpath, rpath = (folder / name for name in FILES)
    candidates, known = [], set()
    for number, row in enumerate(read_jsonl(dpath), start=1):
        key, text = _field(row, "id", dpath, number), _field(row, "text", dpath, number)
        title, answer = str(row.get("title") or ""), str(row.get("answer") or "")
        # A document with an answer is a FAQ entry (matched by its question, answered by the
        # answer); without one it is a stand-alone text, indexed like a doc passage.
        item = product_item(key, title, text, [answer] if answer else [text])
        candidates.append(Candidate(key, [t for t in (title, text, answer) if t], item))
        known.add(key)
    queries: dict[str, Query] = {}
    for number, row in enumerate(read_jsonl(qpath), start=1):
        key = _field(row, "id", qpath, number)
        queries[key] = Query(key, product_query(_field(row, "text", qpath, number), ""),
                             candidates)
    for number, row in enumerate(read_jsonl(rpath), start=1):
        qid, did = _field(row, "query", rpath, number), _field(row, "document", rpath, number)
        if qid not in queries or did not in known:
            raise InputError(f"{rpath}:{number}: unknown query {qid!r} or document {did!r}")
        try:
            relevant = float(row.get("relevance", 1)) > 0
        except (TypeError, ValueError):
            raise InputError(f"{rpath}:{number}: relevance must be a number") from None
        if relevant:
            queries[qid].relevant.add(did)
    judged = [q for q in queries.values() if q.relevant]
    if not judged or not candidates:
        raise InputError(f"No query in {folder} has a relevant document; {FORMAT}")
    return Benchmark("jsonl", None, str(folder), judged, "retrieval")
