"""The answer ranker as a benchmark system: SemEval threads as the product's threads, fit, score."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..embeddings.cached import CachedEncoder
from ..errors import InputError, UsageError
from ..index import EMBED_CHARS
from ..ranker.features import Encode, Features, ReplyCandidate, Ticket, features, with_extras
from ..ranker.model import AnswerRanker
from ..records import Message, Thread
from .data import Benchmark
from .semeval import PATH_HINT, RELEVANT_B, RELEVANT_C, read_xml

if TYPE_CHECKING:
    from ..embeddings.sentence import Embedder
    from ..workspace import Workspace
    from .bench import SystemResult

NAME = "ranker"
TUNED_FORMAT = 1  # bump when tuning changes, so cached tuned models are made again


@dataclass
class RankerQuery:
    """One SemEval original question with its related threads as the product would see them."""

    id: str
    ticket: Ticket
    threads: list[ReplyCandidate]  # one per related thread (index 0: its question)
    replies: list[ReplyCandidate]  # every comment of every related thread
    thread_labels: list[bool] = field(default_factory=list)
    reply_labels: list[bool] = field(default_factory=list)
    answer_labels: list[bool] = field(default_factory=list)  # good for its own question


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _author(element: ET.Element, prefix: str) -> str:
    # The user name, as a forum reply would mention it; the id when there is none.
    return element.get(f"{prefix}_USERNAME") or element.get(f"{prefix}_USERID", "")


def read_queries(path: Path | str, split: str = "train") -> list[RankerQuery]:
    """The original questions of a SemEval-2016 Task 3 XML file with labels from the file."""
    xml, root = read_xml(path, split)
    queries: dict[str, RankerQuery] = {}
    for org in root.iter("OrgQuestion"):
        qid = org.get("ORGQ_ID", "")
        if qid not in queries:
            ticket = Ticket(_text(org, "OrgQSubject"), _text(org, "OrgQBody"))
            queries[qid] = RankerQuery(qid, ticket, [], [])
        query = queries[qid]
        for element in org.iter("Thread"):
            relq = element.find("RelQuestion")
            if relq is None:
                continue
            rid = relq.get("RELQ_ID", "")
            body = _text(relq, "RelQBody")
            messages = [Message(rid, _author(relq, "RELQ"), body, relq.get("RELQ_DATE", ""),
                                kind="question", text=body)]
            labels = []
            for comment in element.iter("RelComment"):
                text = _text(comment, "RelCText")
                messages.append(Message(comment.get("RELC_ID", ""), _author(comment, "RELC"), text,
                                        comment.get("RELC_DATE", ""), kind="reply", text=text))
                labels.append(comment.get("RELC_RELEVANCE2ORGQ") in RELEVANT_C)
                query.answer_labels.append(comment.get("RELC_RELEVANCE2RELQ") in RELEVANT_C)
            thread = Thread("semeval", rid, "", _text(relq, "RelQSubject"), messages=messages)
            rank = int(relq.get("RELQ_RANKING_ORDER") or 0)
            query.threads.append(ReplyCandidate(thread, 0, rank, key=rid))
            query.thread_labels.append(relq.get("RELQ_RELEVANCE2ORGQ") in RELEVANT_B)
            for n in range(1, len(messages)):
                query.replies.append(ReplyCandidate(thread, n, rank, key=messages[n].external_id))
            query.reply_labels += labels
    if not queries:
        raise InputError(f"No OrgQuestion in {xml}; {PATH_HINT}")
    return list(queries.values())


def featurize(queries: list[RankerQuery], encode: Encode,
              extras: Sequence[CachedEncoder] = ()) -> list[Features]:
    """Feature rows of every query (encoding all texts in one go first), with the
    similarities of each of `extras` appended."""
    texts = []
    for q in queries:
        texts.append(q.ticket.text)
        for c in q.threads:
            texts += [c.question, c.thread.title, *(m.text for m in c.thread.messages)]
    texts = list(dict.fromkeys(t[:EMBED_CHARS] for t in texts))
    encode(texts)
    for extra in extras:
        extra(texts)
    return [with_extras(features(q.ticket, q.replies, encode, q.threads), q.ticket, q.replies,
                        extras, q.threads) for q in queries]


def fit_ranker(queries: list[RankerQuery], encode: Encode,
               groups: tuple[str, ...] | None = None,
               extras: dict[str, CachedEncoder] | None = None) -> AnswerRanker:
    """Fit the three models on labelled SemEval queries (train-part2); `extras` names the
    other encoders (embedding_model names) whose similarities it reads too."""
    extras = extras or {}
    rows = featurize(queries, encode, list(extras.values()))
    ranker = AnswerRanker(extras=tuple(extras)) if groups is None else AnswerRanker(
        groups, extras=tuple(extras))
    ranker.fit(rows, [np.asarray(q.reply_labels) for q in queries],
               [np.asarray(q.answer_labels) for q in queries],
               [np.asarray(q.thread_labels) for q in queries])
    ranker.info["trained_on"] = "semeval2016 train"
    if isinstance(encode, CachedEncoder):
        ranker.info["embedder"] = encode.name
    return ranker


def benchmark_scores(benchmark: Benchmark, ranker: AnswerRanker, encode: Encode,
                     rows_of: Callable[[list[RankerQuery]], list[Features]] | None = None
                     ) -> dict[str, np.ndarray]:
    """One score per candidate of each benchmark query, in the benchmark's candidate order;
    `rows_of` makes the queries' feature rows (featurize() with `encode` when not given)."""
    queries = {q.id: q for q in read_queries(benchmark.path)}
    found: dict[str, dict[str, float]] = {}
    made = (rows_of or (lambda qs: featurize(qs, encode)))(list(queries.values()))
    for (qid, q), rows in zip(queries.items(), made, strict=True):
        if benchmark.subtask == "B":
            found[qid] = dict(zip([c.key for c in q.threads],
                                  ranker.thread_probabilities(rows), strict=True))
        else:
            found[qid] = dict(zip([c.key for c in q.replies], ranker.probabilities(rows),
                                  strict=True))
    return {
        q.id: np.asarray([found.get(q.id, {}).get(c.id, -np.inf) for c in q.candidates])
        for q in benchmark.queries
    }


def training_pairs(path: Path | str) -> list[tuple[str, str]]:
    """(question, relevant text) pairs of a SemEval-2016 train file: each original question
    with its relevant related questions (subtask B) and its Good comments (subtask C)."""
    from .bench import load_benchmark

    found = []
    for subtask in ("B", "C"):
        benchmark = load_benchmark("semeval2016", path, subtask, split="train")
        for query in benchmark.queries:
            for candidate in query.candidates:
                if candidate.id in query.relevant:
                    found.append((query.text, candidate.texts[0]))
    return found


def tuned_encoder(workspace: Workspace, train: Path | str, epochs: int,
                  say: Callable[[str], None] | None = None) -> Embedder:
    """The workspace's embedding model tuned on the pairs of `train` (a temporary model, never
    registered or promoted), kept in the user cache under the hash of the training file, the
    model and the epochs, so a second run does not tune again."""
    from ..config import default_cache
    from ..embeddings.sentence import Embedder
    from ..train.retrieval import tune

    base = workspace.index.embedder
    if not isinstance(base, Embedder):
        raise UsageError(f"The embedding model {base.name} cannot be tuned here: add "
                         "--tune-epochs 0 to fit the ranker over it as shipped")
    xml, _ = read_xml(train, "train")
    digest = hashlib.sha256(xml.read_bytes())
    digest.update(f"{base.name}|{base.path}|{epochs}|{TUNED_FORMAT}".encode())
    key = digest.hexdigest()[:16]
    folder = default_cache() / "tuned" / f"{base.name}-{key}"
    if not (folder / "modules.json").is_file():
        pairs = training_pairs(train)
        if not pairs:
            raise InputError(f"{xml} has no relevant question or Good comment to tune on")
        if say:
            say(f"Tuning {base.name} on {len(pairs)} pairs of {xml.name} for {epochs} epochs "
                f"(once: kept in {folder.parent})")
        model = tune(copy.deepcopy(base.model), pairs, epochs=epochs)
        partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
        model.save(str(partial))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)  # whole or absent: a killed run tunes again
    return Embedder(folder, name=f"{base.name}+tuned-{key}")


def run_ranker(benchmark: Benchmark, train: Path | str | None, workspace: Workspace,
               groups: tuple[str, ...] | None = None, tune_epochs: int = 0,
               say: Callable[[str], None] | None = None) -> SystemResult:
    """The `ranker` system on a SemEval benchmark (B or C): fitted on `train` (the same
    format) when given, else the workspace's trained ranker, else the default weighting.
    With `tune_epochs`, the recipe a team follows: the embedding model is first tuned on
    `train`, and the ranker is fitted and scored over the tuned model."""
    from ..ranker.answer import encoder, extra_encoders, load_ranker
    from .bench import SystemResult
    from .metrics import rank_candidates, semeval_scores

    if benchmark.dataset != "semeval2016" or benchmark.subtask not in ("B", "C"):
        raise UsageError("The ranker system ranks SemEval-2016 subtasks B and C: add "
                         "--subtask B or --subtask C, or leave out --system ranker")
    if train is not None and tune_epochs > 0:
        encode = CachedEncoder(tuned_encoder(workspace, train, tune_epochs, say),
                               workspace.store)
    else:
        encode = encoder(workspace)
    if train is not None:
        # Beside the model it was tuned from, when the setting names it.
        extras = extra_encoders(workspace, own=encode.name)
        ranker = fit_ranker(read_queries(train, "train"), encode, groups, extras)
    else:
        ranker = load_ranker(workspace) or AnswerRanker()
        extras = extra_encoders(workspace, ranker.extras)
    scores = benchmark_scores(benchmark, ranker, encode,
                              lambda queries: featurize(queries, encode, list(extras.values())))
    rankings = {q.id: rank_candidates([c.id for c in q.candidates], scores[q.id])
                for q in benchmark.queries}
    relevant = {q.id: q.relevant for q in benchmark.queries}
    tops = {qid: float(s.max()) if len(s) else 0.0 for qid, s in scores.items()}
    return SystemResult(NAME, semeval_scores(rankings, relevant), rankings, tops)
