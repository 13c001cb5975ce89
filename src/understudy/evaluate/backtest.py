"""`eval backtest`: answer the team's past tickets with only what existed then, and score the
drafts against the replies the team really gave."""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bm25s
import numpy as np

from ..answer import TOP_K, Answerer
from ..errors import UsageError
from ..evidence import bot_accounts, is_own_post
from ..index import Hit, KnowledgeItem, answer_messages, fuse, thread_item, tokenize
from ..judge import Judge
from ..records import Message, Thread
from ..retrieve import thread_before
from ..text import markdown_to_text
from .scores import rouge_l

if TYPE_CHECKING:
    from ..workspace import Workspace

PIPELINE = "pipeline/2"  # drafts made by another version of the pipeline are not reused

BACKTESTS_DIR = "backtests"
CACHE_FILE = "cache.jsonl"
Progress = Callable[[str, int, int], None]  # (what, done, total)

_URL = re.compile(r"https?://[^\s)\]>\"'`]+")
_REF = re.compile(r"(?<![\w/#&])((?:[\w.-]+/)+[\w.-]+)?#(\d+)\b")
_DUPLICATE = re.compile(r"duplicate of\s+(\S+)", re.IGNORECASE)


@dataclass
class Case:
    """One backtested thread: the draft made with only its past, and how it compares."""

    thread_id: int
    external_id: str
    title: str
    url: str
    source: str
    project: str
    created_at: str
    reference: str  # the team's first substantive reply, as text
    draft: str
    confidence: float
    abstained: bool  # at the workspace's threshold (or an empty draft)
    sources: list[dict[str, Any]]
    linked: list[int]  # earlier threads the team's reply linked to or that it duplicates
    source_hit: bool | None  # None when the reply links to no earlier thread
    similarity: float  # embedding cosine of draft and reply
    rouge_l: float
    backend: str
    model: str
    key: str
    declined: bool = False  # the backend itself abstained (no hits, "I don't know")
    judge: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge model -> score

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the cache and `--json`."""
        return asdict(self)


@dataclass
class Selection:
    """Which past threads to backtest: the last `limit` answered ones matching the filters."""

    limit: int = 50
    projects: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None


def team_replies(thread: Thread, patterns: list[str] | None = None,
                 bots: frozenset[str] = frozenset()) -> list[Message]:
    """The team's substantive replies, without understudy's own posts: what the team said."""
    return [m for m in answer_messages(thread, patterns) if not is_own_post(m, bots)]


def select_threads(threads: list[Thread], selection: Selection,
                   bots: frozenset[str] = frozenset()) -> list[Thread]:
    """The last `limit` answered threads (by opening time) in the projects and date range;
    a thread answered only by understudy's own posts is not answered by the team."""
    if selection.limit < 1:
        raise UsageError("--limit must be at least 1")
    chosen = [
        t for t in threads
        if t.id is not None and t.created_at and team_replies(t, bots=bots)
        and (not selection.projects or t.project in selection.projects)
        and (not selection.since or t.created_at >= selection.since)
        and (not selection.until or t.created_at < _end_of(selection.until))
    ]
    chosen.sort(key=lambda t: (t.created_at, t.id))
    return chosen[-selection.limit:]


def _end_of(day: str) -> str:
    """A date given as YYYY-MM-DD includes its whole day."""
    return day + "T99" if len(day) == 10 else day


def ticket_as_opened(thread: Thread) -> Thread:
    """The thread as the team first saw it: every message before the first team reply."""
    messages = []
    for message in thread.messages:
        if messages and message.is_team:
            break
        messages.append(message)
    return Thread(thread.source, thread.external_id, thread.url, thread.title, "opened",
                  thread.created_at, thread.created_at, thread.project, list(thread.labels),
                  messages, dict(thread.meta), thread.id)


class TimeIndex:
    """The knowledge of a workspace as it stood at any moment: threads opened before it with
    only the replies written before it; BM25 statistics from that past alone."""

    def __init__(self, workspace: Workspace, docs: bool = False):
        self.workspace = workspace
        index = workspace.index
        self.embedder = index.embedder
        self.weight = index.weight
        self.patterns = workspace.settings.get("procedural_patterns") or []
        self.bots = bot_accounts(workspace.settings.get("bot_account"))
        self.threads = [t for t in workspace.store.threads() if t.id is not None]
        self.by_id = {t.id: t for t in self.threads}
        self.passages: list[KnowledgeItem] = []
        if docs:
            self.passages = [i for i in _passage_items(workspace) if i.kind == "passage"]
        self._tokens: dict[tuple[str, str], list[str]] = {}
        self._vectors = self._load_vectors()

    def _load_vectors(self) -> dict[str, np.ndarray]:
        """Vectors of every item's matched text: from the workspace's cache where its hash
        still matches, else encoded here (and not written back)."""
        texts: dict[str, str] = {}
        for thread in self.threads:
            first = thread.messages[0].text if thread.messages else ""
            texts[f"thread:{thread.id}"] = KnowledgeItem("", "", thread.title, first, "",
                                                         "").embed_text
        for item in self.passages:
            texts[item.key] = item.embed_text
        store, model = self.workspace.store, self.embedder.name
        known = store.embedding_hashes(model)
        wanted = {k for k, t in texts.items() if known.get(k) == _digest(t)}
        vectors = {k: np.frombuffer(blob, dtype=np.float32)
                   for k, blob in store.embedding_vectors(model) if k in wanted}
        missing = [k for k in texts if k not in vectors]
        for start in range(0, len(missing), 256):
            chunk = missing[start:start + 256]
            encoded = self.embedder.encode([texts[k] for k in chunk])
            vectors.update(zip(chunk, encoded, strict=True))
        return vectors

    def items_at(self, cutoff: str, exclude: set[int]) -> list[KnowledgeItem]:
        """The knowledge items that existed at `cutoff`, leaving out the threads in `exclude`."""
        items = []
        for thread in self.threads:
            if thread.id in exclude or not thread.created_at or thread.created_at >= cutoff:
                continue
            item = thread_item(thread_before(thread, cutoff, self.bots), self.patterns)
            if item is not None:
                items.append(item)
        return items + self.passages

    def state(self, items: list[KnowledgeItem]) -> str:
        """A hash of what a search at this moment can see: the items, the model, the weight."""
        # "query": tickets are encoded as queries (e5's "query: " prefix), as the index does;
        # backtests cached before that are not read.
        digest = hashlib.sha256(f"{self.embedder.name}|{self.weight}|query".encode())
        for item in items:
            digest.update(f"{item.key}|{_digest(item.search_text)}\n".encode())
        return digest.hexdigest()

    def search(self, query: str, items: list[KnowledgeItem], k: int = TOP_K) -> list[Hit]:
        """The k best of `items` for `query`, fused as the workspace's index fuses."""
        if not items:
            return []
        matrix = np.stack([self._vectors[i.key] for i in items])
        cosine = matrix @ self.embedder.encode([query], kind="query")[0]  # as the index asks
        bm25 = self._bm25(items, query)
        fused = fuse(bm25, cosine, self.weight)
        top = np.argsort(-fused, kind="stable")[:k]
        return [Hit(items[i], float(fused[i]), float(cosine[i]), float(bm25[i])) for i in top]

    def at(self, cutoff: str, items: list[KnowledgeItem]) -> TimeRetriever:
        """A retriever that sees `items` and the threads as they stood at `cutoff`."""
        return TimeRetriever(self, cutoff, items)

    def _bm25(self, items: list[KnowledgeItem], query: str) -> np.ndarray:
        vocab: dict[str, int] = {}
        corpus = [array("i", [vocab.setdefault(w, len(vocab))
                              for w in self._tokenize(i) or ["\x00"]]) for i in items]
        model = bm25s.BM25()
        model.index((corpus, vocab), show_progress=False)
        tokens = [t for t in tokenize(query) if t in model.vocab_dict]
        if not tokens:
            return np.zeros(len(items), dtype=np.float32)
        return np.asarray(model.get_scores(tokens), dtype=np.float32)

    def _tokenize(self, item: KnowledgeItem) -> list[str]:
        key = (item.key, _digest(item.search_text))
        if key not in self._tokens:
            self._tokens[key] = tokenize(item.search_text)
        return self._tokens[key]


class TimeRetriever:
    """The Answerer's retriever for one backtested ticket: only what existed at `cutoff`, down
    to the replies the ranking stage reads (none written after it, none of understudy's)."""

    def __init__(self, index: TimeIndex, cutoff: str, items: list[KnowledgeItem]):
        self.index = index
        self.cutoff = cutoff
        self.items = items
        self._vectors: dict[str, np.ndarray] = {}

    def search(self, query: str, k: int, exclude_threads: set[int] | None = None) -> list[Hit]:
        items = [i for i in self.items if not exclude_threads or i.thread_id not in
                 exclude_threads]
        return self.index.search(query, items, k)

    def threads(self, thread_ids: list[int]) -> dict[int, Thread]:
        by_id = self.index.by_id
        return {i: thread_before(by_id[i], self.cutoff, self.index.bots)
                for i in thread_ids if i in by_id and by_id[i].created_at < self.cutoff}

    def query_vector(self, query: str) -> np.ndarray | None:
        return None  # the ranker encodes the ticket itself


def _passage_items(workspace: Workspace) -> list[KnowledgeItem]:
    return [KnowledgeItem(f"passage:{p.id}", "passage", p.heading or p.path, p.text, p.text,
                          p.url or p.path) for p in workspace.store.passages()]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def linked_threads(thread: Thread, threads: list[Thread],
                   bots: frozenset[str] = frozenset()) -> set[int]:
    """Threads the team's replies link to (URL, #N, group/project#N) or that this one was
    marked a duplicate of; understudy's own posts (its "Related:" links) are not the team's."""
    by_url = {t.url.rstrip("/"): t.id for t in threads if t.url}
    by_ref = {t.external_id: t.id for t in threads}
    texts = [m.body for m in thread.messages[1:]
             if (m.is_team or m.kind == "system") and not is_own_post(m, bots)]
    texts += [str(v) for k, v in thread.meta.items() if k.startswith("duplicat")]
    found: set[int] = set()
    for text in texts:
        for url in _URL.findall(text):
            target = by_url.get(url.rstrip("/.,;:").split("#note")[0])
            if target is not None:
                found.add(target)
        for project, number in _REF.findall(text):
            target = by_ref.get(f"{project or thread.project}#{number}")
            if target is not None:
                found.add(target)
        for match in _DUPLICATE.findall(text):
            target = by_url.get(match.rstrip("/.,;:")) or by_ref.get(
                match if "#" in match[1:] else f"{thread.project}{match}")
            if target is not None:
                found.add(target)
    found.discard(thread.id)
    return found


class Backtest:
    """Runs the backtest of a workspace with one backend through the Answerer, each ticket
    with a retriever bounded at its opening; finished threads come from a cache."""

    def __init__(self, workspace: Workspace, backend: str = "retrieval",
                 model: str | None = None, docs: bool = False,
                 progress: Progress | None = None):
        self.workspace = workspace
        in_force = Judge.for_workspace(workspace.home, workspace.settings,
                                       workspace.index.embedder.name)
        self.threshold = in_force.threshold
        # Threshold 0: every ticket is composed, so the trade-off can be read at any threshold;
        # the confidence is the same calibrated one the workspace answers with.
        judge = Judge(in_force.calibration, 0.0, threshold_source=in_force.threshold_source)
        try:
            self.answerer = Answerer(workspace, backend, model, judge=judge)
        except UsageError as exc:
            if model and "takes no model" in str(exc):
                raise UsageError(f"The {backend} backend takes no model: leave out --model"
                                 ) from None
            raise
        self.backend = self.answerer.backend
        self.model = model or ""
        self.docs = docs
        self.progress = progress
        self.cache = ResultCache(Path(workspace.home) / BACKTESTS_DIR / CACHE_FILE)
        self._index: TimeIndex | None = None

    @property
    def index(self) -> TimeIndex:
        if self._index is None:
            self._index = TimeIndex(self.workspace, self.docs)
        return self._index

    def run(self, selection: Selection, judge: str | None = None) -> list[Case]:
        """Backtest the selected threads (cached ones are not redone) and judge them if asked."""
        threads = select_threads(self.index.threads, selection, self.index.bots)
        if not threads:
            raise UsageError("No answered threads match: sync some, or widen --project/--since")
        cases = []
        if self.progress:
            self.progress("backtest", 0, len(threads))
        for done, thread in enumerate(threads, start=1):
            cases.append(self.case(thread))
            if self.progress:
                self.progress("backtest", done, len(threads))
        if judge:
            from .judge import Judge as ModelJudge

            grader = ModelJudge(self.workspace, judge)
            for done, case in enumerate(cases, start=1):
                if judge not in case.judge:
                    case.judge[judge] = grader.rate(self.index.by_id[case.thread_id], case)
                    self.cache.put(case)
                if self.progress:
                    self.progress("judge", done, len(cases))
        return cases

    def case(self, thread: Thread) -> Case:
        """The backtest of one thread, from the cache when nothing it depends on changed."""
        cutoff = thread.created_at
        items = self.index.items_at(cutoff, {thread.id})
        key = _digest(json.dumps([PIPELINE, thread.content_hash(), self.backend.name,
                                  self.model, self.index.state(items),
                                  self.answerer.ranking.trained]))
        cached = self.cache.get(key)
        if cached is not None:  # the threshold may have changed since
            cached.abstained = cached.declined or cached.confidence < self.threshold
            return cached
        ticket = ticket_as_opened(thread)
        draft = self.answerer.draft(ticket, save=False,
                                    retriever=self.index.at(cutoff, items))
        reference = team_replies(thread, self.index.patterns, self.index.bots)[0].text
        text = markdown_to_text(draft.text) if draft.text else ""
        visible = {i.thread_id for i in items if i.thread_id is not None}
        linked = sorted(linked_threads(thread, self.index.threads, self.index.bots) & visible)
        used = {s.thread_id for s in draft.sources}
        case = Case(
            thread_id=thread.id, external_id=thread.external_id, title=thread.title,
            url=thread.url, source=thread.source, project=thread.project,
            created_at=thread.created_at, reference=reference, draft=draft.text,
            confidence=round(float(draft.confidence), 4),
            abstained=draft.abstained or not text or draft.confidence < self.threshold,
            sources=[{"key": s.key, "thread_id": s.thread_id, "title": s.title,
                      "url": s.url, "score": s.score} for s in draft.sources],
            linked=linked, source_hit=bool(used & set(linked)) if linked else None,
            similarity=round(self._similarity(text, reference), 4),
            rouge_l=round(rouge_l(text, reference), 4), backend=self.backend.name,
            model=draft.model or self.model, key=key,
            declined=draft.abstained or not text,
        )
        self.cache.put(case)
        return case

    def _similarity(self, draft: str, reference: str) -> float:
        if not draft.strip() or not reference.strip():
            return 0.0
        vectors = self.index.embedder.encode([draft[:1500], reference[:1500]])
        return float(vectors[0] @ vectors[1])


class ResultCache:
    """Finished cases, one JSON line each, appended as they finish; the last line of a key wins."""

    def __init__(self, path: Path):
        self.path = path
        self._cases: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._cases is None:
            self._cases = {}
            if self.path.is_file():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                        self._cases[row["key"]] = row
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by an interrupted run
        return self._cases

    def get(self, key: str) -> Case | None:
        row = self._load().get(key)
        try:
            return Case(**row) if row else None
        except TypeError:  # written by another version
            return None

    def put(self, case: Case) -> None:
        row = case.to_json()
        self._load()[case.key] = row
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def quality(case: Case, metric: str, judge: str | None = None) -> float:
    """One number in [0, 1] for a case: similarity, rouge, source (hit) or judge."""
    if metric == "similarity":
        return max(case.similarity, 0.0)
    if metric == "rouge":
        return case.rouge_l
    if metric == "source":
        return float(bool(case.source_hit))
    if metric == "judge":
        if not judge or judge not in case.judge:
            raise UsageError("--metric judge needs --judge MODEL")
        return float(case.judge[judge]["score"])
    raise UsageError(f"Unknown metric {metric!r}: use similarity, rouge, source or judge")


METRICS = ("similarity", "rouge", "source", "judge")


def now() -> str:
    """The time a report is made, in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
