"""Evidence: the one past reply or doc passage a draft is composed from, and how it is read."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .marker import PREFIX as MARKER_PREFIX
from .records import Message, Thread
from .text.language import detect_language

# The hidden line a posted draft carries (send.marker); a reply holding it is understudy's own.


@dataclass
class Evidence:
    """One reply of a past thread, or one passage, ranked for a ticket."""

    key: str  # "reply:ID" for a reply, the knowledge item's key for a passage or snippet
    kind: str  # "reply", "passage" or "snippet"
    text: str  # what it says (markdown), masked before a backend reads it
    title: str  # its thread's title or the passage's heading
    url: str
    score: float  # the ranking stage's score: what orders the evidence
    retrieval_score: float  # the fused retrieval score of its thread or passage
    probability: float | None = None  # the trained ranker's chance it answers, when one ranked
    thread_id: int | None = None
    author: str = ""
    created_at: str = ""
    askers: tuple[str, ...] = ()  # the names of the customers of its thread: never repeated

    @property
    def calibrated(self) -> bool:
        """True when `probability` already is a calibrated chance (a trained ranker's)."""
        return self.probability is not None


def link(evidence: Evidence) -> str:
    return f"[{evidence.title}]({evidence.url})"


def related(evidence: list[Evidence], limit: int, skip: set[str] | None = None
            ) -> list[Evidence]:
    """The team's own threads and docs to link to, one per URL: evidence with no URL (a
    support chat) is left out, since its title is another customer's words."""
    seen = set(skip or ())
    found = []
    for item in evidence:
        url = item.url.split("#")[0]
        if not item.url or url in seen:
            continue
        seen.add(url)
        found.append(item)
        if len(found) == limit:
            break
    return found


def ticket_query(thread: Thread) -> str:
    """The text a ticket is matched by: its title and first message."""
    first = thread.messages[0].text if thread.messages else ""
    return f"{thread.title}\n{first}".strip()


def ticket_language(thread: Thread) -> str | None:
    """The language a ticket is written in (ISO 639-1), from its title and first message; None
    when they are too short or too mixed to tell."""
    first = thread.messages[0] if thread.messages else None
    text = (first.text or first.body) if first else ""
    return detect_language(f"{thread.title}\n{text}")


def is_own_post(message: Message, bots: frozenset[str] | set[str] = frozenset()) -> bool:
    """True for a message understudy posted: it carries the send marker, or its author is the
    configured bot account."""
    if MARKER_PREFIX in (message.body or ""):
        return True
    return bool(bots) and (message.author or "").lower() in bots


def bot_accounts(settings_value: object) -> frozenset[str]:
    """The configured bot account names (setting "bot_account": a name or a list), lowered."""
    if not settings_value:
        return frozenset()
    names = [settings_value] if isinstance(settings_value, str) else list(settings_value)
    return frozenset(str(n).lower().lstrip("@") for n in names if n)


# A run of @handles at the start of a reply: who it was addressed to, not what it says.
_ADDRESSEES = re.compile(r"^(?:\s*@[A-Za-z0-9_]{1,40}\b[,:;]?)+\s*")
# A handle anywhere else; an email address is not one (a word character before the @).
_HANDLE = re.compile(r"(?<![\w.@/])@([A-Za-z0-9_]{1,40})\b")
# Agent initials: "^AY" anywhere (a Twitter support convention), "/CP" or "-JD" at the very
# end, or just before the links that end a tweet.
_CARET_SIGN = re.compile(r"(?:^|\s+)\^[A-Z]{1,4}\b")
_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]+`)", re.S)
_END_SIGN = re.compile(r"\s+[/\-–—~]\s?[A-Z]{2,3}(?=(?:\s+https?://\S+)*\s*$)")
# A greeting addressed by name at the start of a line ("Hi Sam,", "Thanks Maria Lopez!"): the
# greeting stays, the previous customer's name goes.
_GREETING = re.compile(
    r"^([ \t]*(?i:hi|hello|hey|dear|thanks|thank you|good (?:morning|afternoon|evening))),?"
    r"[ \t]+(?!(?i:there|all|everyone|everybody|team|folks|again|both|so|for|you)\b)"
    r"[A-Z][\w'’-]{1,30}(?:[ \t]+[A-Z][\w'’-]{1,30})?(?=[ \t]*(?:[,!.:;]|$))",
    re.M)
_SPACE_PUNCT = re.compile(r"[ \t]+([,.;:!?])")
_SPACES = re.compile(r"[ \t]{2,}")


def _name_pattern(names: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """The customers' names as whole words ("Sam", "Sam's"), longest first; digits-only ids
    and names under three letters are no names (ids are handled as handles)."""
    words = sorted({n.strip().lstrip("@") for n in names
                    if len(n.strip().lstrip("@")) >= 3 and not n.strip().lstrip("@").isdigit()},
                   key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<![\w@.])(" + "|".join(map(re.escape, words)) + r")(['’]s)?(?![\w@])")


def _ungreet(match: re.Match[str]) -> str:
    greeting = match.group(1)
    return greeting.replace(greeting.strip(), "Hello") if greeting.strip().lower() == "dear" \
        else greeting


def _unname(match: re.Match[str]) -> str:
    return "your" if match.group(2) else "you"


def clean_for_reader(text: str, own: str = "", names: tuple[str, ...] | list[str] = ()) -> str:
    """A past reply as a new reader should get it: without the handles it was addressed to or
    that name other people, HTML entities decoded, the agent's initials dropped, links kept.
    Code (fenced blocks, `inline`) is left as written: a decorator is not a handle.

    `own` is the reply's author: a mention of their own handle ("DM @AcmeHelp") is kept.
    `names` are the customers of the reply's thread: a greeting by name loses the name ("Hi
    Sam," becomes "Hi,") and any other mention becomes "you" ("we can help Sam" reads "we can
    help you"), so one customer's name never reaches another.
    """
    keep = own.lower().lstrip("@")
    named = _name_pattern(names)
    parts = _CODE.split((text or "").strip())
    # Odd parts are code; the prose between them is cleaned.
    for n in range(0, len(parts), 2):
        prose = html.unescape(parts[n])
        if n == 0:
            prose = _ADDRESSEES.sub("", prose)
        prose = _HANDLE.sub(
            lambda m: m.group(0) if keep and m.group(1).lower() == keep else "", prose)
        prose = _GREETING.sub(_ungreet, prose)
        if named is not None:
            prose = named.sub(_unname, prose)
        prose = _CARET_SIGN.sub("", prose)
        if n == len(parts) - 1:
            prose = _END_SIGN.sub("", prose)
        lines = [_SPACES.sub(" ", _SPACE_PUNCT.sub(r"\1", line)) for line in prose.split("\n")]
        # Trailing spaces go, except before the code that continues the last line.
        parts[n] = "\n".join([line.rstrip() for line in lines[:-1]] + lines[-1:])
    return "".join(parts).strip()
