"""The csv source: support conversations from a CSV file (Twitter customer support or generic)."""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..dates import utc_stamp
from ..errors import InputError, UsageError
from ..records import Message, Thread
from .base import Source
from .csv_records import records

TWCS_COLUMNS = ("tweet_id", "author_id", "inbound", "created_at", "text",
                "response_tweet_id", "in_response_to_tweet_id")
GENERIC_COLUMNS = ("conversation_id", "author", "role", "created_at", "text", "summary",
                   "specifics")
# Column names tried when no mapping names them.
ALIASES = {
    "conversation_id": ("conversation_id", "conversation", "ticket_id", "thread_id", "chat_id"),
    "author": ("author", "author_id", "user", "sender", "name"),
    "role": ("role", "speaker", "sender_type", "from"),
    "created_at": ("created_at", "time", "timestamp", "date", "sent_at"),
    "text": ("text", "message", "body", "content", "utterance"),
    # Optional: what the conversation is about and the facts an agent needs (plan, product,
    # order), kept on the thread for the conversation export's Summary / Specific information.
    "summary": ("summary", "issue_summary"),
    "specifics": ("specifics", "specific_information"),
}
TEAM_ROLES = {"agent", "assistant", "team", "support", "staff", "company", "operator", "rep"}
CUSTOMER_ROLES = {"customer", "user", "client", "visitor", "requester", "end-user", "enduser"}
SYSTEM_ROLES = {"system", "bot", "automated"}
KNOWN_ROLES = TEAM_ROLES | CUSTOMER_ROLES | SYSTEM_ROLES | {""}
MAX_PROBLEM_LINES = 50  # malformed rows listed one by one; the rest are listed by line number
TITLE_CHARS = 80
MAX_ID_DIGITS = 30  # tweet ids have 19 digits; far longer "numbers" are not ids
_TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"


@dataclass
class _Row:
    line: int
    conversation: str
    author: str
    team: bool
    kind: str
    when: str
    text: str
    tweet_id: str = ""
    parent: str = ""
    replies: list[str] = field(default_factory=list)
    summary: str = ""
    specifics: str = ""


class ConversationsSource(Source):
    """Conversations in a CSV file as threads; the company's (or agents') turns are the team's."""

    name = "csv"

    def __init__(self, settings: Any, store: Any):
        super().__init__(settings, store)
        self.malformed: list[tuple[int, str]] = []
        self.orphans = 0  # company replies whose customer tweet is not in the file

    def fetch(
        self,
        path: str | Path = "",
        format: str = "auto",
        columns: dict[str, str] | None = None,
        project: str = "",
        **_: Any,
    ) -> Iterator[Thread]:
        """Yield one thread per conversation; malformed rows are counted with their line numbers.

        `format` is twcs, generic or auto (twcs when the header has tweet_id and inbound);
        `columns` maps generic field names (conversation_id, author, role, created_at, text)
        to the file's own column names.
        """
        file = Path(path).expanduser()
        if not file.is_file():
            raise InputError(f"No CSV file at '{path}': give the path of a .csv file")
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with _open(file) as handle:
            reader = csv.reader(handle)  # the header row only; the rows are read below
            header = _header(reader, file)
            kind = _format(header, format)
            if kind == "twcs":
                rows = self._twcs_rows(handle, header, reader.line_num)
                threads = _twcs_threads(rows, self)
            else:
                mapping = _mapping(header, columns or {})
                rows = self._generic_rows(handle, header, mapping, reader.line_num)
                threads = _generic_threads(rows, project or file.stem)
            yield from threads
        self._report()

    # -- rows ----------------------------------------------------------------------------

    def _twcs_rows(self, lines: Any, header: list[str], offset: int) -> Iterator[_Row]:
        at = {name: header.index(name) for name in TWCS_COLUMNS}

        def looks_like_row(fields: list[str]) -> bool:
            return (_is_tweet_id(fields[at["tweet_id"]].strip())
                    and fields[at["inbound"]].strip().lower() in ("true", "false"))

        for line, fields in records(lines, len(header), looks_like_row, self._bad, offset):
            value = {name: fields[i].strip() for name, i in at.items()}
            inbound = value["inbound"].lower()
            if not _is_tweet_id(value["tweet_id"]):
                self._bad(line, f"tweet_id '{value['tweet_id'][:20]}' is not a number")
            elif inbound not in ("true", "false"):
                self._bad(line, f"inbound '{value['inbound'][:20]}' is neither True nor False")
            elif not value["author_id"] or not fields[at["text"]].strip():
                self._bad(line, "author_id or text is empty")
            else:
                when = _twitter_time(value["created_at"])
                if when is None:
                    self._bad(line, f"created_at '{value['created_at'][:40]}' is not a time")
                    continue
                yield _Row(line, "", value["author_id"], inbound == "false",
                           "question" if inbound == "true" else "reply", when,
                           fields[at["text"]], value["tweet_id"],
                           value["in_response_to_tweet_id"].split(".")[0],
                           [r.strip() for r in value["response_tweet_id"].split(",") if r.strip()])

    def _generic_rows(
        self, lines: Any, header: list[str], mapping: dict[str, int | None], offset: int
    ) -> Iterator[_Row]:
        def get(name: str, fields: list[str]) -> str:
            index = mapping.get(name)
            return fields[index].strip() if index is not None else ""

        timed = mapping.get("created_at") is not None

        def looks_like_row(fields: list[str]) -> bool:
            # Asked of lines inside a quoted field: text rarely holds an id, a role and a
            # time in the right columns, so a row is known by them after a quote left open.
            when = get("created_at", fields)
            return (bool(get("conversation_id", fields))
                    and get("role", fields).lower() in KNOWN_ROLES
                    and (not timed or _iso_time(when) is not None))

        for line, row in records(lines, len(header), looks_like_row, self._bad, offset):
            conversation, text = get("conversation_id", row), get("text", row)
            role = get("role", row).lower()
            if not conversation:
                self._bad(line, "the conversation id is empty")
                continue
            if not text:
                self._bad(line, "the text is empty")
                continue
            if role in TEAM_ROLES:
                team, kind = True, "reply"
            elif role in CUSTOMER_ROLES or not role:
                team, kind = False, "reply"
            elif role in SYSTEM_ROLES:
                team, kind = False, "system"
            else:
                self._bad(line, f"role '{role[:20]}' is not customer, agent or system")
                continue
            raw_time = get("created_at", row)
            when = _iso_time(raw_time) if raw_time else ""
            if when is None:
                self._bad(line, f"time '{raw_time[:40]}' is not an ISO date or time")
                continue
            yield _Row(line, conversation, get("author", row) or role or "unknown", team, kind,
                       when, text, summary=get("summary", row),
                       specifics=get("specifics", row))

    def _bad(self, line: int, why: str) -> None:
        self.skipped += 1
        self.malformed.append((line, why))

    def _report(self) -> None:
        for line, why in self.malformed[:MAX_PROBLEM_LINES]:
            self.problems.append(f"line {line}: {why}; the row was skipped")
        rest = self.malformed[MAX_PROBLEM_LINES:]
        if rest:
            self.problems.append(f"{len(rest)} more malformed rows skipped, at lines "
                                 + _ranges([line for line, _ in rest]))
        if self.orphans:
            self.problems.append(f"{self.orphans} company replies answer tweets not in the "
                                 "file; left out (nothing to answer)")


# -- conversations -----------------------------------------------------------------------


def _twcs_threads(rows: Iterator[_Row], source: ConversationsSource) -> Iterator[Thread]:
    """Conversations rebuilt by following reply links from each customer's first tweet."""
    by_id: dict[str, _Row] = {}
    for row in rows:
        if row.tweet_id in by_id:
            source._bad(row.line, f"tweet_id {row.tweet_id} appears again (first at line "
                        f"{by_id[row.tweet_id].line})")
            continue
        by_id[row.tweet_id] = row
    children: dict[str, list[str]] = {}
    for row in by_id.values():
        if row.parent in by_id:
            children.setdefault(row.parent, []).append(row.tweet_id)
        for reply in row.replies:
            if reply in by_id and by_id[reply].parent in ("", row.tweet_id):
                children.setdefault(row.tweet_id, []).append(reply)
    orphans = 0
    for row in sorted(by_id.values(), key=lambda r: r.line):
        if row.parent in by_id:
            continue  # part of a conversation started earlier
        if row.team:
            orphans += 1  # a company tweet whose customer tweet is not in the file
            continue
        tree = _tree(row.tweet_id, by_id, children)
        yield _twcs_thread(row, tree)
    source.orphans = orphans


def _tree(root: str, by_id: dict[str, _Row], children: dict[str, list[str]]) -> list[_Row]:
    """Every tweet reachable from `root` by reply links, in time order (ties: tweet id)."""
    seen, stack, found = {root}, [root], []
    while stack:
        current = stack.pop()
        found.append(by_id[current])
        for child in children.get(current, []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(found, key=lambda r: (r.when, int(r.tweet_id)))


def _twcs_thread(root: _Row, tweets: list[_Row]) -> Thread:
    company = next((t.author for t in tweets if t.team), "")
    messages = [
        Message(t.tweet_id, t.author, t.text, t.when,
                kind="question" if t is root else "reply", is_team=t.team)
        for t in tweets
    ]
    parents = {t.tweet_id: t.parent for t in tweets if t is not root and t.parent}
    return Thread(
        source="twcs", external_id=root.tweet_id, url="", title=_title(root.text),
        state="closed" if any(t.team for t in tweets) else "opened",
        created_at=tweets[0].when, updated_at=tweets[-1].when, project=company,
        messages=messages, meta={"reply_to": parents, "customer": root.author},
    )


def _generic_threads(rows: Iterator[_Row], project: str) -> Iterator[Thread]:
    """One thread per conversation id, turns in time order (file order for equal times)."""
    conversations: dict[str, list[_Row]] = {}
    for row in rows:
        conversations.setdefault(row.conversation, []).append(row)
    for conversation, turns in conversations.items():
        turns.sort(key=lambda r: (r.when, r.line))
        first = next((i for i, t in enumerate(turns) if not t.team and t.kind != "system"), 0)
        messages = [
            Message(f"line-{t.line}", t.author, t.text, t.when,
                    kind="question" if i == first else t.kind, is_team=t.team)
            for i, t in enumerate(turns)
        ]
        if first:
            messages.insert(0, messages.pop(first))  # messages[0] is the question
        yield Thread(
            source="csv", external_id=f"{project}#{conversation}", url="",
            title=_title(turns[first].text),
            state="closed" if any(t.team for t in turns) else "opened",
            created_at=turns[0].when, updated_at=turns[-1].when, project=project,
            messages=messages, meta={"conversation_id": conversation, **_header_meta(turns)},
        )


def _header_meta(turns: list[_Row]) -> dict[str, str]:
    """The conversation's summary and specific information: the first non-empty value of each
    column over its rows (a value repeated on every row, or given once), when the file has them."""
    meta = {}
    for name in ("summary", "specifics"):
        value = next((getattr(t, name) for t in turns if getattr(t, name)), "")
        if value:
            meta[name] = " ".join(value.split())[:500]
    return meta


# -- helpers -----------------------------------------------------------------------------


def _open(file: Path) -> Any:
    """The file opened as UTF-8 text for the csv module, after a look at its first bytes."""
    try:
        with file.open("rb") as probe:
            head = probe.read(65536)
    except OSError as exc:
        raise InputError(f"Cannot read {file} ({exc.strerror}): check the path and its "
                         "permissions") from None
    start = head[:4096]
    # Many NULs mean a binary or UTF-16 file; a stray one costs only its row (csv reports it).
    if start.count(b"\0") > max(8, len(start) // 100):
        raise InputError(f"{file} is not a CSV file (binary content): export it as CSV text")
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text: save the CSV as UTF-8") from None
    # A stray bad byte further down becomes U+FFFD in that row rather than stopping the sync.
    return file.open(encoding="utf-8-sig", newline="", errors="replace")


def _header(reader: Any, file: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{file} is empty: give a CSV file with a header row") from None
    except csv.Error as exc:
        raise InputError(f"{file} has no readable header row ({exc})") from None
    return [h.strip().lower() for h in header]


def _format(header: list[str], wanted: str) -> str:
    if wanted not in ("auto", "twcs", "generic"):
        raise UsageError(f"Unknown CSV format '{wanted}': use twcs, generic or auto")
    is_twcs = all(c in header for c in TWCS_COLUMNS)
    if wanted == "twcs" and not is_twcs:
        missing = ", ".join(c for c in TWCS_COLUMNS if c not in header)
        raise InputError(f"The CSV header lacks the Twitter support columns {missing}: "
                         "use --format generic with --columns")
    if wanted == "auto":
        return "twcs" if is_twcs else "generic"
    return wanted


def _mapping(header: list[str], columns: dict[str, str]) -> dict[str, int | None]:
    """Where each generic field is in the header; conversation id and text are required."""
    unknown = set(columns) - set(GENERIC_COLUMNS)
    if unknown:
        raise UsageError(f"Unknown field {sorted(unknown)[0]} in --columns: map "
                         + ", ".join(GENERIC_COLUMNS))
    found: dict[str, int | None] = {}
    for name in GENERIC_COLUMNS:
        if name in columns:
            column = columns[name].strip().lower()
            if column not in header:
                raise InputError(f"--columns maps {name} to '{columns[name]}', which is not in "
                                 f"the header ({', '.join(header)})")
            found[name] = header.index(column)
        else:
            found[name] = next((header.index(a) for a in ALIASES[name] if a in header), None)
    for required in ("conversation_id", "text"):
        if found[required] is None:
            raise InputError(f"No {required} column in the CSV header ({', '.join(header)}): "
                             f"name it with --columns {required}=COLUMN")
    return found


def parse_columns(values: list[str]) -> dict[str, str]:
    """`field=column` pairs (from --columns, comma- or option-separated) as a dict."""
    mapping: dict[str, str] = {}
    for value in values:
        for pair in value.split(","):
            if not pair.strip():
                continue
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise UsageError(f"--columns takes FIELD=COLUMN pairs, got '{pair}': e.g. "
                                 "--columns conversation_id=ticket,text=message")
            mapping[name.strip().lower()] = column.strip()
    return mapping


def _is_tweet_id(value: str) -> bool:
    # str.isdigit alone takes "²" and other digits int() refuses.
    return value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS


def _twitter_time(value: str) -> str | None:
    try:
        parsed = datetime.strptime(value, _TWITTER_TIME)
    except ValueError:
        return _iso_time(value)
    return _utc(parsed)


def _iso_time(value: str) -> str | None:
    return utc_stamp(value)


def _utc(parsed: datetime) -> str | None:
    """The time in UTC, or None when UTC cannot hold it (year 1 east of Greenwich)."""
    try:
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError):
        return None


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _ranges(lines: list[int]) -> str:
    """1, 2, 3, 7 -> '1-3, 7'."""
    parts: list[str] = []
    start = prev = lines[0]
    for line in lines[1:] + [None]:  # type: ignore[list-item]
        if line is not None and line == prev + 1:
            prev = line
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if line is not None:
            start = prev = line
    return ", ".join(parts)
