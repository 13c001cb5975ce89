"""CSV records read so that one broken row costs only itself: a quote left open is cut off."""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator

# A row check: the fields of one physical line, parsed alone, look like a row of the file.
RowCheck = Callable[[list[str]], bool]
Report = Callable[[int, str], None]
UNTERMINATED = "unterminated quote"


class _Cut(Exception):
    """A line that starts a row of its own turned up inside a quoted field."""


class _Lines:
    """Physical lines, numbered, for csv.reader; lines can be pushed back to be read again.

    While a record is open (its first line consumed), each further line is checked: one that
    is a whole row by itself means the quote before it was never closed, so the record is cut
    there instead of swallowing every row up to the next stray quote or the end of the file.
    """

    def __init__(self, lines: Iterable[str], starts_row: Callable[[str], bool], offset: int):
        self._lines = iter(lines)
        self._pending: deque[tuple[int, str]] = deque()
        self._number = offset
        self.starts_row = starts_row
        self.consumed: list[tuple[int, str]] = []  # the lines of the record being read
        self.hit_end = False  # the file ended inside a record (an open quote)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pending:
            number, line = self._pending.popleft()
        else:
            line = next(self._lines, None)  # type: ignore[arg-type]
            if line is None:
                if self.consumed:
                    self.hit_end = True
                raise StopIteration
            self._number += 1
            number = self._number
        if self.consumed and self.starts_row(line):
            self._pending.appendleft((number, line))
            raise _Cut
        self.consumed.append((number, line))
        return line

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pending.extendleft(reversed(lines))

    def start_record(self) -> None:
        self.consumed, self.hit_end = [], False


def records(
    lines: Iterable[str], width: int, looks_like_row: RowCheck, bad: Report, offset: int = 1,
) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each row of `width` fields in `lines`.

    `offset` is how many lines came before (the header). Rows that cannot be read are passed
    to `bad` with their line number and left out; reading goes on at the line after them.
    """

    def starts_row(line: str) -> bool:
        # A row may open a quoted field that goes on over the next lines: then the line
        # alone holds its first fields only, the rest counted as empty.
        try:
            fields = next(csv.reader([line], strict=True), None)
        except csv.Error:
            fields = next(csv.reader([line]), None)
            if fields is not None and len(fields) < width:
                fields += [""] * (width - len(fields))
        return fields is not None and len(fields) == width and looks_like_row(fields)

    feed = _Lines(lines, starts_row, offset)
    reader = csv.reader(feed)
    while True:
        feed.start_record()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _Cut:
            bad(feed.consumed[0][0], UNTERMINATED)
            continue
        except csv.Error as exc:
            start = feed.consumed[0][0] if feed.consumed else 0
            bad(start, f"unreadable row ({exc})")
            feed.push_back(feed.consumed[1:])
            continue
        if feed.hit_end:  # the file ended inside a quote: read on from the next line
            bad(feed.consumed[0][0], UNTERMINATED)
            feed.push_back(feed.consumed[1:])
            continue
        if not any(f.strip() for f in fields):
            continue
        start = feed.consumed[0][0]
        if len(fields) != width:
            bad(start, f"{len(fields)} fields where the header has {width}")
            continue
        yield start, fields
