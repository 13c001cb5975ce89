"""Fitting the judge's confidence map and threshold on the workspace's own threads and docs.

Each answered thread is asked twice through the Answerer. Held out (the ticket as opened, its
own thread excluded, the threads it links kept) it shows what a ticket whose answer is missing
from the knowledge base looks like: the chosen evidence counts as right only when the team would
have given it, i.e. it comes from a thread the team linked in its answer, is a page the team
linked, or says what the team said (embedding cosine with the team's first reply of at least
NEAR_DUPLICATE). Held in (its thread kept) it shows an answerable ticket: right when the
evidence is its own thread's reply. Passages are asked the same way, by their heading and first
sentence, and the synthetic questions of `jobs synth-qa` by their question.

Two features of the best evidence decide: its fused retrieval score and its margin over the
best evidence of another thread or passage (a ticket whose answer is missing finds several near
misses at about one score). A logistic of the two is fitted to the labels, right and wrong
cases weighted equally (the margin is kept only when it judges one half of the cases better
than the score alone, fitted on the other half); the threshold is the lowest value of it whose
answered cases reach the target precision, and the confidence map is that logistic centred on
the threshold.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from ..answer import Answerer
from ..errors import UsageError
from ..evidence import Evidence, bot_accounts, ticket_query
from ..index import Hit
from ..judge import Calibration, margin, save_calibration
from ..records import Message, Passage, Thread
from .backtest import linked_threads, team_replies, ticket_as_opened

if TYPE_CHECKING:
    from ..workspace import Workspace

# Cosine of two answers' embeddings (MiniLM) at or above which they say the same thing: on the
# bundled sample, replies and doc passages giving the same fix score 0.76 to 0.90 and different
# answers about the same product 0.52 to 0.72; the bar sits above the overlap, so a right label
# is rarely a wrong one (a lower bar of 0.75 made one mislabel set the threshold).
NEAR_DUPLICATE = 0.85
DEFAULT_PRECISION = 0.9  # of answered drafts right, at an even mix of answerable and not
MIN_THREADS = 30  # answered threads before `index` calibrates by itself
MAX_CASES = 300  # threads and passages asked at most, the latest first: bounds the time
# Share of a title's words its rephrasing keeps (the tickets that judge the split): enough to
# name the problem, few enough that it no longer finds its own words verbatim.
REPHRASE_KEEP = 0.7
REPHRASED = "thread-rephrased"  # cases that only judge the split, never fit
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_URL = re.compile(r"https?://[^\s)\]>\"'`]+")
Progress = Callable[[str, int, int], None]
DOCS_ONLY = ("A docs-only workspace calibrates from the questions of 'understudy jobs synth-qa' "
             "(none yet): run it first, or sync answered threads; the SemEval default stays in "
             "force")


@dataclass
class Case:
    """One question asked during calibration: how sure retrieval was, and whether it was right."""

    kind: str  # "thread-out", "thread-in", "passage-out", "passage-in", "synthetic-in", ...
    key: str
    score: float  # the best evidence's fused retrieval score
    right: bool
    margin: float = 0.0  # its lead over the best evidence of another item (judge.margin)


@dataclass
class WorkspaceFit:
    """The calibration fitted on a workspace, the cases it came from and how it holds on them."""

    calibration: Calibration
    cases: list[Case]
    target: float
    reached: bool
    score_threshold: float
    report: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"calibration": self.calibration.to_json(), "target": self.target,
                "reached": self.reached, "score_threshold": self.score_threshold,
                "cases": len(self.cases), **self.report}


class _Without:
    """The workspace's index without the knowledge items of `keys` (a held-out passage), as if
    they had never been indexed."""

    def __init__(self, answerer: Answerer, keys: set[str]):
        self.base = answerer.retriever
        self.index = answerer.index
        self.keys = keys

    def search(self, query: str, k: int, exclude_threads: set[int] | None = None) -> list[Hit]:
        return self.index.search(query, k=k, exclude_threads=exclude_threads,
                                 exclude_keys=self.keys)

    def threads(self, thread_ids: list[int]) -> dict[int, Thread]:
        return self.base.threads(thread_ids)

    def query_vector(self, query: str) -> np.ndarray | None:
        return self.base.query_vector(query)


def _ticket(title: str, body: str, thread_id: int | None = None) -> Thread:
    return Thread("calibration", title[:60], "", title, messages=[
        Message("q", "customer", body, "", kind="question", text=body)], id=thread_id)


def _first_sentence(text: str) -> str:
    return _SENTENCE.split(text.strip(), maxsplit=1)[0][:300]


def rephrasing(text: str, seed: str) -> str:
    """`text` with each word kept with chance REPHRASE_KEEP (at least one), the same words
    for the same seed."""
    chance = random.Random(seed)  # a str seed is hashed alike in every process
    words = text.split()
    return " ".join([w for w in words if chance.random() < REPHRASE_KEEP] or words[:1])


def _case(kind: str, key: str, ranked: list[Evidence], right: bool) -> Case:
    return Case(kind, key, ranked[0].retrieval_score, right, margin(ranked))


def thread_cases(workspace: Workspace, answerer: Answerer, limit: int = MAX_CASES,
                 projects: Iterable[str] = (), progress: Progress | None = None
                 ) -> tuple[list[Case], list[tuple[str, str]]]:
    """Held-out and held-in cases of the latest answered threads, and the (chosen evidence,
    team answer) pairs whose closeness decides the held-out labels not decided by links."""
    bots = bot_accounts(workspace.settings.get("bot_account"))
    wanted = set(projects)
    threads = [t for t in workspace.store.threads() if t.id is not None
               and (not wanted or t.project in wanted)]
    answered = [t for t in threads if team_replies(t, bots=bots)]
    answered.sort(key=lambda t: (t.created_at, t.id))
    answered = answered[-limit:]
    cases: list[Case] = []
    pending: list[tuple[str, str]] = []
    for done, thread in enumerate(answered, start=1):
        ticket = ticket_as_opened(thread)
        held_out = answerer.evidence(ticket)  # the Answerer leaves the ticket's own thread out
        key = f"thread:{thread.id}"
        if held_out:
            best = held_out[0]
            links = linked_threads(thread, threads, bots)
            urls = {u.rstrip("/.,;:") for m in team_replies(thread, bots=bots)
                    for u in _URL.findall(m.body)}
            linked = best.thread_id in links or (best.url and best.url.rstrip("/") in urls)
            cases.append(_case("thread-out", key, held_out, bool(linked)))
            if not linked:
                pending.append((best.text, team_replies(thread, bots=bots)[0].body))
        ticket.id = None  # held in: the ticket may find its own thread
        held_in = answerer.evidence(ticket)
        if held_in:
            cases.append(_case("thread-in", key, held_in, held_in[0].thread_id == thread.id))
        # Held in, a ticket in its own words finds itself at about 1.0; another customer's
        # words for the same problem score lower. Which features to weigh is judged on those.
        words = rephrasing(thread.title or ticket_query(ticket), key)
        rephrased = answerer.evidence(_ticket(words, ""))
        if rephrased:
            cases.append(_case(REPHRASED, key, rephrased, rephrased[0].thread_id == thread.id))
        if progress:
            progress("Asking past threads", done, len(answered))
    return cases, pending


def passage_cases(workspace: Workspace, answerer: Answerer, limit: int = MAX_CASES,
                  progress: Progress | None = None
                  ) -> tuple[list[Case], list[tuple[str, str]]]:
    """Held-out and held-in cases of doc passages.

    When `jobs synth-qa` stored questions, they are what is asked (held in: right when the best
    evidence is from the passage's page; held out: the whole page left out), and the passages'
    own sentences are not: a passage asked by its own heading finds itself at a score no user's
    question reaches (docs/benchmarks.md), which set the threshold above every real question.
    Without them, passages are asked by heading and first sentence (a workspace with answered
    threads gets these beside its thread cases)."""
    from ..jobs.synth_qa import passage_result

    every = [p for p in workspace.store.passages() if p.id is not None and p.text.strip()]
    asked = [(p, [pair["question"] for pair in (passage_result(workspace, p) or {}).get(
        "pairs", [])]) for p in every]
    synthetic = [(p, qs) for p, qs in asked if qs][-limit:]
    cases: list[Case] = []
    pending: list[tuple[str, str]] = []
    if synthetic:
        pages: dict[str, set[str]] = {}
        for p in every:
            pages.setdefault(_page(p.url) or p.path, set()).add(f"passage:{p.id}")
        for done, (passage, questions) in enumerate(synthetic, start=1):
            page = _page(passage.url) or passage.path
            for question in questions:
                _ask_synthetic(answerer, passage, pages.get(page, set()), _ticket(question, ""),
                               cases, pending)
            if progress:
                progress("Asking synthetic questions", done, len(synthetic))
        return cases, pending
    passages = every[-limit:]
    for done, passage in enumerate(passages, start=1):
        ticket = _ticket(passage.heading or passage.path, _first_sentence(passage.text))
        _ask_passage(answerer, passage, "passage", ticket, cases, pending)
        if progress:
            progress("Asking doc passages", done, len(passages))
    return cases, pending


def _page(url: str) -> str:
    """A passage's page: its URL without the section anchor."""
    return url.split("#", 1)[0] if url else ""


def _has_synthetic(workspace: Workspace, passages: list[Passage]) -> bool:
    """True when `jobs synth-qa` stored questions for one of `passages` (of its current text)."""
    from ..jobs.synth_qa import passage_result

    return any((passage_result(workspace, p) or {}).get("pairs") for p in passages)


def _ask_passage(answerer: Answerer, passage: Passage, kind: str, ticket: Thread,
                 cases: list[Case], pending: list[tuple[str, str]]) -> None:
    key = f"passage:{passage.id}"
    held_out = answerer.evidence(ticket, retriever=_Without(answerer, {key}))
    if held_out:
        cases.append(_case(f"{kind}-out", key, held_out, False))
        pending.append((held_out[0].text, passage.text))
    held_in: list[Evidence] = answerer.evidence(ticket)
    if held_in:
        cases.append(_case(f"{kind}-in", key, held_in, held_in[0].key == key))


def _ask_synthetic(answerer: Answerer, passage: Passage, page: set[str], ticket: Thread,
                   cases: list[Case], pending: list[tuple[str, str]]) -> None:
    """A synthetic question asked with its passage's page (right when the best evidence comes
    from that page) and without it (right only when the evidence says the same)."""
    key = f"passage:{passage.id}"
    own = _page(passage.url)
    held_out = answerer.evidence(ticket, retriever=_Without(answerer, page | {key}))
    if held_out:
        cases.append(_case("synthetic-out", key, held_out, False))
        pending.append((held_out[0].text, passage.text))
    held_in: list[Evidence] = answerer.evidence(ticket)
    if held_in:
        best = held_in[0]
        cases.append(_case("synthetic-in", key, held_in,
                           best.key == key or bool(own and _page(best.url) == own)))


def _near_duplicates(answerer: Answerer, pending: list[tuple[str, str]]) -> list[bool]:
    """Whether each (evidence, real answer) pair says the same thing by embedding cosine."""
    if not pending:
        return []
    embedder = answerer.index.embedder
    chosen = np.asarray(embedder.encode([a[:1500] for a, _ in pending]))
    real = np.asarray(embedder.encode([b[:1500] for _, b in pending]))
    return [bool(c) for c in np.sum(chosen * real, axis=1) >= NEAR_DUPLICATE]


def _relabel(cases: list[Case], near: list[bool]) -> None:
    """Held-out cases not right by a link are right when the evidence is a near-duplicate."""
    waiting = [c for c in cases if c.kind.endswith("-out") and not c.right]
    for case, same in zip(waiting, near, strict=True):
        case.right = same


def choose_threshold(cases: list[Case], target: float, by: tuple[float, float] = (1.0, 0.0)
                     ) -> tuple[float, bool, dict[str, float]]:
    """The lowest value of `by` (weights of score and margin; the score alone unless given)
    whose answered cases are right at least `target` of the time, with right and wrong cases
    weighted equally (so the workspace's mix does not decide)."""
    scores = np.asarray([by[0] * c.score + by[1] * c.margin for c in cases])
    right = np.asarray([c.right for c in cases])
    pos, neg = max(int(right.sum()), 1), max(int((~right).sum()), 1)
    weights = np.where(right, 1.0 / pos, 1.0 / neg)
    for threshold in np.unique(scores):
        answered = scores >= threshold
        precision = float(weights[answered & right].sum() / weights[answered].sum())
        if precision >= target:
            return float(threshold), True, _summary(scores, right, threshold, precision)
    top = float(scores.max()) + 1e-6
    return top, False, _summary(scores, right, top, 0.0)


def _summary(scores: np.ndarray, right: np.ndarray, threshold: float,
             precision: float) -> dict[str, float]:
    answered = scores >= threshold
    return {"right_cases": int(right.sum()), "wrong_cases": int((~right).sum()),
            "precision": round(precision, 4),
            "right_answered": round(float(answered[right].mean()) if right.any() else 0.0, 4),
            "wrong_abstained": round(float((~answered[~right]).mean())
                                     if (~right).any() else 0.0, 4)}


def fit_map(cases: list[Case], with_margin: bool = True) -> tuple[float, float, float]:
    """The logistic a, c, b of score and margin to right (a * score + c * margin + b), with
    right and wrong cases weighted equally; the margin is left out (c = 0) when not wanted or
    where a wider one was not more often right."""
    y = np.asarray([int(c.right) for c in cases])
    if with_margin:
        (a, c), b = _logistic([[case.score, case.margin] for case in cases], y)
        if c > 0:
            return a, c, b
    (a,), b = _logistic([[case.score] for case in cases], y)
    return a, 0.0, b


def split_quality(cases: list[Case], target: float, columns: int) -> float:
    """How well the score alone (columns 1) or score and margin (2) judge the workspace's
    cases: fitted on half of its threads and passages, the balanced accuracy (share of right
    cases answered and of wrong ones abstained, averaged) on the other half, and back; a
    thread of the judged half is asked by its rephrased title, not in its own words."""
    keys = sorted({c.key for c in cases})
    half = {key: n % 2 for n, key in enumerate(keys)}
    quality = 0.0
    for fold in (0, 1):
        fit = [c for c in cases if half[c.key] != fold and c.kind != REPHRASED]
        judged = [c for c in cases if half[c.key] == fold and c.kind != "thread-in"]
        y = np.asarray([int(c.right) for c in fit])
        if len(set(y.tolist())) < 2 or not judged:
            return 0.0
        weights, _ = _logistic([[c.score, c.margin][:columns] for c in fit], y)
        by = (weights[0], weights[1] if columns == 2 else 0.0)
        value, _, _ = choose_threshold(fit, target, by)
        answered = np.asarray([by[0] * c.score + by[1] * c.margin >= value for c in judged])
        right = np.asarray([c.right for c in judged])
        quality += (float(answered[right].mean()) if right.any() else 0.0) / 4
        quality += (float((~answered[~right]).mean()) if (~right).any() else 0.0) / 4
    return quality


def _logistic(rows: list[list[float]], y: np.ndarray) -> tuple[list[float], float]:
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(rows, dtype=np.float64)
    # A moderate C keeps the map smooth when the two kinds barely overlap in score.
    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000).fit(x, y)
    return [float(v) for v in model.coef_[0]], float(model.intercept_[0])


def fit_workspace(workspace: Workspace, target: float = DEFAULT_PRECISION,
                  limit: int = MAX_CASES, projects: Iterable[str] = (),
                  progress: Progress | None = None) -> WorkspaceFit:
    """Ask the workspace's own threads and passages and fit its calibration (not saved).

    Raises:
        UsageError: there is nothing to ask, or every case came out alike.
    """
    if not 0 < target <= 1:
        raise UsageError("--target is a precision between 0 and 1, e.g. --target 0.9")
    answerer = Answerer(workspace)
    cases, pending = thread_cases(workspace, answerer, limit, projects, progress)
    threads = len({c.key for c in cases})
    passages = [p for p in workspace.store.passages() if p.id is not None and p.text.strip()]
    if not threads and passages and not _has_synthetic(workspace, passages):
        raise UsageError(DOCS_ONLY)  # said before asking hundreds of passages for nothing
    more, more_pending = passage_cases(workspace, answerer, limit, progress)
    cases += more
    _relabel(cases, _near_duplicates(answerer, pending + more_pending))
    if not cases:
        raise UsageError("Nothing to calibrate on: sync answered threads or docs first "
                         "(the SemEval default applies until then)")
    if not threads and not any(c.kind.startswith("synthetic") for c in more):
        # A passage asked by its own heading finds itself (or a copy) almost surely: a fit on
        # those cases alone set the bar above every real question (npm's docs: 0% answered).
        raise UsageError(DOCS_ONLY)
    if len({c.right for c in cases}) < 2:
        raise UsageError("Every calibration case came out alike: add more threads or docs")
    # The margin is weighed only where it judges half of the workspace's own cases better
    # than the score alone, fitted on the other half.
    quality = {columns: split_quality(cases, target, columns) for columns in (1, 2)}
    cases = [case for case in cases if case.kind != REPHRASED]
    a, c, _ = fit_map(cases, with_margin=quality[2] > quality[1])
    if a <= 0:
        raise UsageError("Higher retrieval scores were not more often right in this "
                         "workspace: keep the current calibration")
    value, reached, report = choose_threshold(cases, target, by=(a, c))
    # The fitted weights say how fast confidence grows with score and margin; the map is
    # centred on the chosen threshold, so a draft at the threshold reads 0.50 in every
    # workspace (the fitted centre answers at even odds, not at the target precision).
    b = -value
    passages = len({c.key for c in more})
    name = workspace.index.embedder.name
    calibration = Calibration(
        a, b, 0.5, name="workspace",
        source=f"this workspace: {threads} answered threads and {passages} doc passages "
               f"asked held out and held in ({len(cases)} cases), precision {target}",
        embedding_model=name, fitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), c=c)
    # The score that answers with no margin, and what a point of margin is worth in score.
    report["margin_weight"] = round(c / a, 4)
    report["split_score_only"] = round(quality[1], 4)
    report["split_with_margin"] = round(quality[2], 4)
    return WorkspaceFit(calibration, cases, target, reached, value / a, report)


def calibrate_workspace(workspace: Workspace, target: float = DEFAULT_PRECISION,
                        limit: int = MAX_CASES, projects: Iterable[str] = (),
                        progress: Progress | None = None) -> WorkspaceFit:
    """Fit and, when the target is reached, store the workspace's calibration; a threshold
    stored in the settings by an earlier backtest gives way to it."""
    fit = fit_workspace(workspace, target, limit, projects, progress)
    if fit.reached:
        save_calibration(workspace.home, fit.calibration)
        if workspace.settings.get("abstain_threshold") is not None:
            workspace.settings.set("abstain_threshold", None)
    return fit


def needs_first_calibration(workspace: Workspace) -> bool:
    """True when the workspace has no calibration of its own yet and enough to fit one."""
    from ..judge import calibration_path

    if calibration_path(workspace.home).is_file():
        return False
    # Threads only: a docs-only fit asks passages by their own first sentence, which sets the
    # threshold above real questions (docs/benchmarks.md), so it is left to `eval calibrate`.
    return sum(1 for _ in workspace.store.answered_threads()) >= MIN_THREADS


__all__ = ["DEFAULT_PRECISION", "MIN_THREADS", "NEAR_DUPLICATE", "Case", "WorkspaceFit",
           "calibrate_workspace", "choose_threshold", "fit_map", "fit_workspace",
           "needs_first_calibration", "rephrasing", "split_quality"]
