"""Features of candidate replies and their threads for a new ticket: similarity, author, form."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from ..index import EMBED_CHARS, tokenize
from ..records import Message, Thread
from ..text import is_procedural

Encode = Callable[[list[str]], np.ndarray]

# Every reply feature with its group; the ablation table removes one group at a time.
FEATURES: tuple[tuple[str, str], ...] = (
    ("cos_ticket_reply", "similarity"),
    ("bm25_ticket_reply", "similarity"),
    ("overlap_ticket_reply", "similarity"),
    ("cos_reply_question", "similarity"),
    ("bm25_reply_question", "similarity"),
    ("overlap_reply_question", "similarity"),
    ("cos_reply_question_gap", "similarity"),
    ("cos_ticket_question", "thread"),
    ("bm25_ticket_question", "thread"),
    ("thread_rank", "thread"),
    ("thread_score", "thread"),
    ("thread_times_reply", "thread"),
    ("thread_best_reply", "thread"),
    ("is_team", "author"),
    ("is_bot", "author"),
    ("is_asker", "author"),
    ("author_replies", "author"),
    ("author_first", "author"),
    ("position", "position"),
    ("relative_position", "position"),
    ("replies_in_thread", "position"),
    ("is_last", "position"),
    ("asker_after", "later"),
    ("asker_thanks_after", "later"),
    ("asker_next", "later"),
    ("asker_before", "later"),
    ("dialogue", "later"),
    ("reactions", "later"),
    ("log_chars", "form"),
    ("is_short", "form"),
    ("has_url", "form"),
    ("has_email", "form"),
    ("has_number", "form"),
    ("has_question_mark", "form"),
    ("has_command", "form"),
    ("has_thanks", "form"),
    ("mentions_user", "form"),
    ("is_passage", "form"),
)
NAMES = tuple(name for name, _ in FEATURES)

# How well a retrieved thread as a whole fits the ticket (the thread model's inputs).
THREAD_NAMES = (
    "cos_ticket_question", "cos_ticket_title", "cos_ticket_body", "bm25_ticket_question",
    "bm25_ticket_title", "bm25_ticket_body", "bm25_ticket_thread", "overlap_ticket_question",
    "thread_rank", "log_thread_rank", "best_cos_ticket_reply", "mean_cos_ticket_reply",
    "top3_cos_ticket_reply", "log_replies",
)
# The similarities another encoder adds to the reply rows and the thread rows (the other
# features do not depend on the encoder).
EXTRA_REPLY_NAMES = ("cos_ticket_reply", "cos_ticket_question", "cos_reply_question")
EXTRA_THREAD_NAMES = ("cos_ticket_question", "cos_ticket_title", "cos_ticket_body",
                      "best_cos_ticket_reply")
# The reply model also reads the answer model's chance, alone and times the reply's closeness
# to the ticket, and where that closeness stands among all the ticket's candidates; "combined"
# is their group in the ablation table.
COMBINED_NAMES = ("answer_chance", "answer_times_cos", "rank_of_cos")
GROUPS = (*dict.fromkeys(group for _, group in FEATURES), "combined")

_URL = ("http://", "https://", "www.")  # searched in the lowered text
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_NUMBER = re.compile(r"\d")
_PROMPT = re.compile(r"^\s*\$ ", re.M)
_TOOL = re.compile(r"\b(?:sudo|pip|npm|git|docker|kubectl|curl)\b")
_TOOLS = ("sudo", "pip", "npm", "git", "docker", "kubectl", "curl")
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|thnx|appreciated|great help|worked)\b")
_THANKS_HINTS = ("thank", "thx", "thnx", "appreciated", "great help", "worked")
_TY = re.compile(r"\bty\b")
SHORT_WORDS = 3  # a reply of at most this many words is rarely an answer


# Texts of at most this many tokens (most replies) count a term by scanning their tuple, which
# is cheaper than building a Counter for the few terms BM25 asks about.
COUNTED = 64


class Bag(NamedTuple):
    """A text's BM25 terms (a tuple: the cheapest object to build, a hundred per answer)."""

    terms: tuple[str, ...]  # the stemmed tokens in order
    counts: dict[str, int] | None  # each distinct token's count, for long texts only
    tokens: AbstractSet[str]  # the distinct tokens
    length: int  # the BM25 document length: tokens, at least 1

    @classmethod
    def of(cls, tokens: Iterable[str]) -> Bag:
        terms = tuple(tokens)
        if len(terms) <= COUNTED:
            return cls(terms, None, frozenset(terms), len(terms) or 1)
        counts = Counter(terms)
        return cls(terms, counts, counts.keys(), len(terms))


@lru_cache(maxsize=65536)
def bag(text: str) -> Bag:
    """The BM25 terms of `text` (kept for texts seen again, as titles and questions are)."""
    return Bag.of(tokenize(text))


class TextProfile(NamedTuple):
    """What the features need of one reply, computed once per distinct text."""

    bag: Bag
    words: int
    chars: int
    flags: tuple[float, ...]  # FORM_FLAGS
    lowered: str
    procedural: bool = False  # not an answer ("+1", "closing"): never a candidate


FORM_FLAGS = ("url", "email", "number", "question mark", "command", "thanks")


@lru_cache(maxsize=65536)
def profile(text: str) -> TextProfile:
    """Terms and form flags of a reply (kept for texts seen again, as replies are). Each
    pattern runs only where a substring it needs is present: most replies have none."""
    lowered = text.lower()
    command = "`" in text or ("$ " in text and _PROMPT.search(text) is not None) or (
        _hint(text, _TOOLS) and _TOOL.search(text) is not None)
    thanks = (_hint(lowered, _THANKS_HINTS) and _THANKS.search(lowered) is not None) or (
        "ty" in lowered and _TY.search(lowered) is not None)
    flags = (
        1.0 if _hint(lowered, _URL) else 0.0,
        1.0 if "@" in text and _EMAIL.search(text) is not None else 0.0,
        1.0 if _NUMBER.search(text) is not None else 0.0,
        1.0 if "?" in text else 0.0,
        1.0 if command else 0.0,
        1.0 if thanks else 0.0,
    )
    return TextProfile(bag(text), len(text.split()), len(text), flags, lowered,
                       is_procedural(text))


def pack(text: TextProfile) -> bytes:
    """A profile as a few bytes to store: flags (and whether it is procedural, the bit after
    them), words, characters, then the terms."""
    bits = sum(1 << n for n, flag in enumerate(text.flags) if flag)
    bits |= text.procedural << len(FORM_FLAGS)
    return f"{bits}\t{text.words}\t{text.chars}\t{' '.join(text.bag.terms)}".encode()


def unpack(blob: bytes, text: str) -> TextProfile:
    """The profile of `text` from pack()'s bytes: splitting stored terms is a few times
    cheaper than tokenising and matching the patterns again."""
    bits, words, chars, terms = blob.decode().split("\t", 3)
    number = int(bits)
    return TextProfile(Bag.of(terms.split(" ") if terms else ()), int(words), int(chars),
                       _FLAGS[number & _FORM_BITS], text.lower(),
                       bool(number >> len(FORM_FLAGS) & 1))


# Every combination of form flags as the tuple a profile holds, by pack()'s bits.
_FLAGS = [tuple(1.0 if bits >> n & 1 else 0.0 for n in range(len(FORM_FLAGS)))
          for bits in range(1 << len(FORM_FLAGS))]
_FORM_BITS = (1 << len(FORM_FLAGS)) - 1


def profiles(encode: Encode, texts: list[str]) -> list[TextProfile]:
    """Profiles of `texts`, from the encoder's stored ones when it keeps them (CachedEncoder)."""
    from ..embeddings.cached import CachedEncoder  # here: it stores this module's profiles

    if isinstance(encode, CachedEncoder):
        return encode.profiles(texts)
    return [profile(t) for t in texts]


def _hint(text: str, needles: tuple[str, ...]) -> bool:
    """Whether any needle occurs in `text` (a loop: cheaper than any() over a generator)."""
    for needle in needles:
        if needle in text:
            return True
    return False


_JOINED: dict[tuple[str, ...], Bag] = {}
JOINED_MAX = 16384


def joined(texts: tuple[str, ...], bag_of: Callable[[str], Bag] = bag) -> Bag:
    """The bag of texts joined by line breaks (a question, a whole thread), from the texts'
    own bags (`bag_of`: where they are known already): tokens never cross a line break, so no
    text is tokenised twice. Kept for texts seen together again."""
    found = _JOINED.get(texts)
    if found is None:
        if len(_JOINED) >= JOINED_MAX:
            _JOINED.clear()
        found = _JOINED[texts] = Bag.of(chain.from_iterable(bag_of(t).terms for t in texts))
    return found


def forget() -> None:
    """Drop every remembered bag and profile, as a process that has seen no text yet."""
    profile.cache_clear()
    bag.cache_clear()
    _JOINED.clear()


def bm25(query: Bag, documents: list[Bag], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """BM25 (Lucene's form, as bm25s scores) of each document for the query, scaled so the best
    is 1: for a hundred candidates, set intersections of cached tokens beat building an index."""
    n = len(documents)
    shared = [query.tokens & d.tokens for d in documents] if query.tokens else []
    df = Counter(t for common in shared for t in common)
    if not df:
        return np.zeros(n)
    idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    lengths = [d.length for d in documents]
    average = sum(lengths) / n
    scores = np.zeros(n)
    for i, common in enumerate(shared):
        if common:
            document, norm = documents[i], k1 * (1.0 - b + b * lengths[i] / average)
            counts, terms = document.counts, document.terms
            total = 0.0
            for t in common:
                count = counts[t] if counts is not None else terms.count(t)
                total += idf[t] * count * (k1 + 1.0) / (count + norm)
            scores[i] = total
    top = scores.max()
    return scores / top if top > 0 else scores


@dataclass
class Ticket:
    """The new ticket as the ranker reads it: title, body, and its vector when already known."""

    title: str
    body: str
    vector: np.ndarray | None = None  # the index's vector of `text`, so it is not encoded twice

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip()

    @classmethod
    def of(cls, thread: Thread, vector: np.ndarray | None = None) -> Ticket:
        first = thread.messages[0].text if thread.messages else ""
        return cls(thread.title, first, vector)


@dataclass
class ReplyCandidate:
    """One reply that could answer a ticket: a message of a retrieved thread, or a passage."""

    thread: Thread  # a passage is a one-message thread with no replies
    index: int  # the reply's position in thread.messages (0 for a passage)
    thread_rank: int = 0  # 1 for the retriever's best thread; 0 when unknown
    thread_score: float = 0.0  # the retriever's fused score of the thread
    passage: bool = False
    key: str = ""  # how the caller names it: a benchmark's comment id, "reply:ID"

    @property
    def message(self) -> Message:
        return self.thread.messages[self.index]

    @property
    def question(self) -> str:
        first = self.thread.messages[0].text if self.thread.messages else ""
        return f"{self.thread.title}\n{first}".strip()


@dataclass
class Features:
    """The rows of one ticket's candidates: one per reply, one per thread they come from."""

    replies: np.ndarray  # NAMES columns
    threads: np.ndarray  # THREAD_NAMES columns
    thread_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.replies)


def message_text(message: Message) -> str:
    """The plain text of a message (its body when no clean text was kept)."""
    return (message.text or message.body or "").strip()


def _overlap(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def _conversation(thread: Thread, authors: list[str], thanks: list[bool]) -> list[list[float]]:
    """Per message of the thread (index 0 unused): author_replies, author_first, asker_after,
    asker_thanks_after, asker_next, asker_before, dialogue: how the reply's author and the
    thread's asker talk around it; `thanks`: whether each message thanks. One pass per
    thread, not per reply."""
    asker, n = authors[0], len(authors)
    replies_by = Counter(authors[1:])
    first_of: dict[str, int] = {}
    for i in range(n - 1, 0, -1):
        first_of[authors[i]] = i
    # Whether the asker writes after message i, and thanks after it (suffixes from the end).
    after, thanks_after = [False] * (n + 1), [False] * (n + 1)
    for i in range(n - 1, 0, -1):
        own = bool(asker) and authors[i] == asker
        after[i] = after[i + 1] or own
        thanks_after[i] = thanks_after[i + 1] or (own and thanks[i])
    # Turns where an author and the asker answer each other: a conversation, not an answer.
    pairs = Counter(frozenset(pair) for pair in zip(authors[1:], authors[2:], strict=False)
                    if asker in pair)
    rows: list[list[float]] = [[]]
    for index in range(1, n):
        author = authors[index]
        is_asker = bool(asker) and author == asker
        turns = 0 if is_asker or not author else pairs[frozenset((asker, author))]
        rows.append([
            float(replies_by[author]), float(first_of[author] == index),
            float(after[index + 1]), float(thanks_after[index + 1]),
            float(index + 1 < n and authors[index + 1] == asker and not is_asker),
            float(index > 1 and authors[index - 1] == asker and not is_asker),
            math.log1p(turns),
        ])
    return rows


def _mentions(text: TextProfile, names: frozenset[str], author: str) -> float:
    """Whether the reply names another person of the thread (or anyone, with an @)."""
    lowered = text.lowered
    if "@" in lowered:
        return 1.0
    own = author.lower()
    for name in names:
        if name != own and name in lowered:
            return 1.0
    return 0.0


def _vectors(ticket: Ticket, texts: list[str], encode: Encode) -> tuple[np.ndarray, np.ndarray]:
    """The ticket's vector and one per text (the ticket encoded only when not given)."""
    # Each distinct text once (a thread's replies are often candidates too), then spread out.
    where: dict[str, int] = {}
    rows = [where.setdefault(t[:EMBED_CHARS], len(where)) for t in texts]
    if ticket.vector is not None:
        return np.asarray(ticket.vector, dtype=np.float32), encode(list(where))[rows]
    vectors = encode([ticket.text[:EMBED_CHARS], *where])
    return vectors[0], vectors[1:][rows]


def _owners(candidates: list[ReplyCandidate], threads: list[ReplyCandidate] | None
            ) -> tuple[list[ReplyCandidate], np.ndarray]:
    """One candidate per thread (`threads` first, then each new thread of `candidates`) and
    the index of each candidate's thread among them."""
    owners = list(threads or [])
    for c in candidates:
        if all(o.thread is not c.thread for o in owners):
            owners.append(c)
    by_thread = {id(o.thread): n for n, o in enumerate(owners)}
    return owners, np.asarray([by_thread[id(c.thread)] for c in candidates], dtype=np.int64)


def similarities(ticket: Ticket, candidates: list[ReplyCandidate], encode: Encode,
                 threads: list[ReplyCandidate] | None = None) -> Features:
    """Another encoder's similarities for the rows features() makes of the same arguments:
    EXTRA_REPLY_NAMES per reply, EXTRA_THREAD_NAMES per thread. `ticket.vector` is the ticket
    read by that encoder (as a query, where it tells queries from passages)."""
    owners, thread_of = _owners(candidates, threads)
    k, n = len(owners), len(candidates)
    questions = [c.question for c in owners]
    titles = [c.thread.title for c in owners]
    firsts = [message_text(c.thread.messages[0]) if c.thread.messages else "" for c in owners]
    sizes = [max(len(c.thread.messages) - 1, 0) for c in owners]
    flat = [message_text(m) for c in owners for m in c.thread.messages[1:]]
    replies = [message_text(c.message) for c in candidates]
    t_vec, vectors = _vectors(ticket, [*questions, *titles, *firsts, *replies, *flat], encode)
    q_vec, r_vec = vectors[:k], vectors[3 * k : 3 * k + n]
    cos_tq = q_vec @ t_vec
    cos_tr = r_vec @ t_vec if n else np.zeros(0)
    cos_rq = np.einsum("ij,ij->i", r_vec, q_vec[thread_of]) if n else np.zeros(0)
    cos_flat = vectors[3 * k + n :] @ t_vec if flat else np.zeros(0)
    ends = np.cumsum(sizes)
    best = [float(cos_flat[end - size : end].max()) if size else 0.0
            for size, end in zip(sizes, ends.tolist(), strict=True)]
    thread_rows = np.column_stack([cos_tq, vectors[k : 2 * k] @ t_vec,
                                   vectors[2 * k : 3 * k] @ t_vec, best]) if k else \
        np.zeros((0, len(EXTRA_THREAD_NAMES)))
    reply_rows = np.column_stack([cos_tr, cos_tq[thread_of], cos_rq]) if n else \
        np.zeros((0, len(EXTRA_REPLY_NAMES)))
    return Features(reply_rows, thread_rows, thread_of)


def with_extras(rows: Features, ticket: Ticket, candidates: list[ReplyCandidate],
                extras: Sequence[Any], threads: list[ReplyCandidate] | None = None) -> Features:
    """`rows` (features() of the same arguments) with each extra encoder's similarities()
    appended; `extras` encode texts when called and read the ticket with encode(texts,
    kind="query"), as the store-cached encoder does."""
    if not extras:
        return rows
    text = ticket.text[:EMBED_CHARS]
    more = [similarities(Ticket(ticket.title, ticket.body,
                                extra.encode([text], kind="query")[0]), candidates, extra, threads)
            for extra in extras]
    return Features(np.hstack([rows.replies, *(m.replies for m in more)]),
                    np.hstack([rows.threads, *(m.threads for m in more)]), rows.thread_of)


def features(ticket: Ticket, candidates: list[ReplyCandidate], encode: Encode,
             threads: list[ReplyCandidate] | None = None) -> Features:
    """Reply and thread rows of a ticket's candidates; the same inputs always give the same rows.

    `threads` gives a row to threads with no candidate too (one candidate each, in retrieval
    order); replies find their thread's row by its Thread object.
    """
    owners, thread_of = _owners(candidates, threads)
    questions = [c.question for c in owners]
    firsts = [message_text(c.thread.messages[0]) if c.thread.messages else "" for c in owners]
    titles = [c.thread.title for c in owners]
    thread_replies = [[message_text(m) for m in c.thread.messages[1:]] for c in owners]
    replies = [message_text(c.message) for c in candidates]
    flat = [r for rs in thread_replies for r in rs]
    t_vec, vectors = _vectors(ticket, [*questions, *titles, *firsts, *replies, *flat], encode)
    k, n = len(owners), len(candidates)
    q_vec, title_vec, first_vec = vectors[:k], vectors[k : 2 * k], vectors[2 * k : 3 * k]
    r_vec, flat_vec = vectors[3 * k : 3 * k + n], vectors[3 * k + n :]
    t_prof = bag(ticket.text)
    r_prof = profiles(encode, replies)
    q_prof = [joined((c.thread.title, c.thread.messages[0].text if c.thread.messages else ""))
              for c in owners]
    known = dict(zip(replies, r_prof, strict=True))  # the candidates' profiles, by text
    return Features(
        _reply_rows(t_vec, t_prof, candidates, thread_of, q_vec, q_prof, r_vec, r_prof, known),
        _thread_rows(t_vec, t_prof, owners, q_vec, q_prof, title_vec, first_vec, titles,
                     firsts, thread_replies, flat_vec, known),
        thread_of,
    )


def _reply_rows(t_vec: np.ndarray, t_prof: Bag, candidates: list[ReplyCandidate],
                thread_of: np.ndarray, q_vec: np.ndarray, q_prof: list[Bag],
                r_vec: np.ndarray, r_prof: list[TextProfile],
                known: dict[str, TextProfile]) -> np.ndarray:
    def thanks(message: Message) -> bool:
        text = message_text(message)
        return bool((known.get(text) or profile(text)).flags[5])

    if not candidates:
        return np.zeros((0, len(NAMES)))
    cos_tr = r_vec @ t_vec
    cos_tq = (q_vec @ t_vec)[thread_of]
    cos_rq = np.einsum("ij,ij->i", r_vec, q_vec[thread_of])
    best_rq = np.full(len(q_prof), -1.0)
    best_tr = np.full(len(q_prof), -1.0)
    np.maximum.at(best_rq, thread_of, cos_rq)
    np.maximum.at(best_tr, thread_of, cos_tr)
    bm25_tr = bm25(t_prof, [r.bag for r in r_prof])
    bm25_tq = bm25(t_prof, q_prof)[thread_of]
    # A reply's BM25 for its own question, scaled among the replies of that thread.
    bm25_rq = np.zeros(len(candidates))
    for k, question in enumerate(q_prof):
        rows = np.flatnonzero(thread_of == k)
        bm25_rq[rows] = bm25(question, [r_prof[i].bag for i in rows])
    matrix = np.empty((len(candidates), len(NAMES)))
    # Columns computed for all candidates at once; the loop below fills the rest, per message.
    matrix[:, :2] = np.column_stack([cos_tr, bm25_tr])
    matrix[:, 3:5] = np.column_stack([cos_rq, bm25_rq])
    matrix[:, 6:9] = np.column_stack([cos_rq - best_rq[thread_of], cos_tq, bm25_tq])
    matrix[:, 11:13] = np.column_stack([np.clip(cos_tq, 0.0, None) * np.clip(cos_rq, 0.0, None),
                                        best_tr[thread_of]])
    rows, per_thread = [], {}
    t_tokens = t_prof.tokens
    for k, t in enumerate(thread_of.tolist()):
        c, text = candidates[k], r_prof[k]
        message, thread = c.message, c.thread
        about = per_thread.get(t)
        if about is None:
            authors = [m.author for m in thread.messages]
            asker = authors[0] if authors else ""
            talks = None if c.passage else _conversation(thread, authors, [
                i > 0 and bool(asker) and a == asker and thanks(m)
                for i, (a, m) in enumerate(zip(authors, thread.messages, strict=True))])
            about = per_thread[t] = (
                asker, frozenset(a.lower() for a in authors if len(a) > 2), talks,
                max(len(thread.messages) - 1, 1), thread.meta.get("reactions") or {},
                q_prof[t].tokens)
        asker, names, talks, replies_in_thread, reactions, q_tokens = about
        position = 1 if c.passage else c.index
        talk = [0.0] * 7 if talks is None else talks[c.index]
        tokens = text.bag.tokens
        rows.append([
            _overlap(t_tokens, tokens), _overlap(tokens, q_tokens),
            float(c.thread_rank), c.thread_score,
            float(message.is_team), float(message.is_bot),
            float(bool(asker) and message.author == asker and not c.passage),
            talk[0], talk[1],
            float(position), position / replies_in_thread, float(replies_in_thread),
            float(position == replies_in_thread),
            *talk[2:], math.log1p(float(reactions.get(message.external_id, 0) or 0)),
            math.log1p(text.chars), float(text.words <= SHORT_WORDS), *text.flags,
            _mentions(text, names, message.author), float(c.passage),
        ])
    matrix[:, [2, 5, 9, 10, *range(13, len(NAMES))]] = np.asarray(rows, dtype=np.float64)
    return matrix


def _thread_rows(t_vec: np.ndarray, t_prof: Bag, owners: list[ReplyCandidate],
                 q_vec: np.ndarray, q_prof: list[Bag], title_vec: np.ndarray,
                 first_vec: np.ndarray, titles: list[str], firsts: list[str],
                 thread_replies: list[list[str]], flat_vec: np.ndarray,
                 known: dict[str, TextProfile]) -> np.ndarray:
    if not owners:
        return np.zeros((0, len(THREAD_NAMES)))
    def bag_of(text: str) -> Bag:
        found = known.get(text)
        return found.bag if found is not None else bag(text)

    whole = [joined((c.thread.title, c.thread.messages[0].text, *rs), bag_of)
             for c, rs in zip(owners, thread_replies, strict=True)]
    bm25_q, bm25_whole = bm25(t_prof, q_prof), bm25(t_prof, whole)
    bm25_title = bm25(t_prof, [bag(t) for t in titles])
    bm25_body = bm25(t_prof, [bag(f) for f in firsts])
    cos_flat = flat_vec @ t_vec if len(flat_vec) else np.zeros(0)
    rows, start = [], 0
    for k, c in enumerate(owners):
        end = start + len(thread_replies[k])
        cos = np.sort(cos_flat[start:end])
        start = end
        rank = max(c.thread_rank, 1)
        rows.append([
            q_vec[k] @ t_vec, title_vec[k] @ t_vec, first_vec[k] @ t_vec, bm25_q[k],
            bm25_title[k], bm25_body[k], bm25_whole[k],
            _overlap(t_prof.tokens, q_prof[k].tokens), float(c.thread_rank), math.log(rank),
            float(cos[-1]) if len(cos) else 0.0, float(cos.mean()) if len(cos) else 0.0,
            float(cos[-3:].mean()) if len(cos) else 0.0, math.log1p(len(cos)),
        ])
    return np.asarray(rows, dtype=np.float64)


def columns(groups: tuple[str, ...] | list[str]) -> list[int]:
    """Indexes of the reply features in `groups`."""
    return [n for n, (_, group) in enumerate(FEATURES) if group in groups]
