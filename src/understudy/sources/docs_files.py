"""The pages under a docs folder, read only from inside it, with what was skipped and why.

A link that leads out of the folder (`leak.md -> /etc/passwd`) is never read: the text would
otherwise become a passage and could be quoted in a draft. Links inside the folder are read.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_PROBLEMS_PER_REASON = 10  # past this, one line says how many more

# Reasons a file is not read, as the sync report shows them.
OUTSIDE = "link outside the folder"
BROKEN = "broken link"
HIDDEN = "hidden"
NOT_A_PAGE = "not a page"
SPECIAL = "not a regular file"
UNREADABLE = "unreadable"
NOT_UTF8 = "not UTF-8"
TOO_LARGE = "too large"
BAD_GZIP = "not a valid gzip file"


class PageSkipped(Exception):
    """A page that cannot be read, with the reason the report gives."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Walk:
    """Pages found under a folder (real file, path inside the folder) and what was left out."""

    pages: list[tuple[Path, str]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def skip(self, reason: str, inside: str = "", detail: str = "") -> None:
        """Count a skipped file; the reasons that need the user's eye also get a line."""
        self.reasons[reason] += 1
        if reason in (HIDDEN, NOT_A_PAGE):
            return
        if self.reasons[reason] <= MAX_PROBLEMS_PER_REASON:
            self.problems.append(f"{inside}: skipped, {detail or reason}")
        elif self.reasons[reason] == MAX_PROBLEMS_PER_REASON + 1:
            self.problems.append(f"... and more skipped: {reason} (see the counts)")


def walk_pages(root: Path, is_page: Callable[[str], bool]) -> Walk:
    """Every page under `root` in a stable order; links that leave `root` are skipped.

    Hidden files and folders are left out; a folder reached twice (a link to a parent)
    is read once.
    """
    walk = Walk()
    boundary = root.resolve()
    visited = {boundary}
    folders: list[tuple[Path, str]] = [(boundary, "")]
    while folders:
        folder, inside = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            walk.skip(UNREADABLE, inside.rstrip("/") or ".", f"unreadable ({exc.strerror})")
            continue
        for entry in entries:
            name = f"{inside}{entry.name}"
            if entry.name.startswith("."):
                walk.skip(HIDDEN)
                continue
            real = Path(entry.path)
            try:
                if entry.is_symlink():
                    real = real.resolve(strict=True)
                    if not real.is_relative_to(boundary):
                        walk.skip(OUTSIDE, name, "a link to outside the folder, not read")
                        continue
                mode = real.stat().st_mode
            except (OSError, RuntimeError):  # a dangling link or a loop of links
                walk.skip(BROKEN, name)
                continue
            if stat.S_ISDIR(mode):
                if real not in visited:
                    visited.add(real)
                    folders.append((real, f"{name}/"))
                continue
            if not is_page(entry.name):
                walk.skip(NOT_A_PAGE)
            elif not stat.S_ISREG(mode):  # a FIFO would block the sync forever
                walk.skip(SPECIAL, name)
            else:
                walk.pages.append((real, name))
    walk.pages.sort(key=lambda page: page[1])
    return walk


def read_page(file: Path, limit: int) -> str:
    """The text of a page (unpacked when it ends in .gz), at most `limit` bytes.

    Raises:
        PageSkipped: the page is too large, not UTF-8, not valid gzip or unreadable.
    """
    try:
        # O_NOFOLLOW: a page swapped for a link after the walk is refused, not followed.
        handle = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(handle, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        detail = f"unreadable ({exc.strerror or type(exc).__name__})"
        raise PageSkipped(UNREADABLE, detail) from None
    if file.name.lower().endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
                data = unpacked.read(limit + 1)
        except (OSError, EOFError, zlib.error):
            raise PageSkipped(BAD_GZIP) from None
    if len(data) > limit:
        raise PageSkipped(TOO_LARGE, f"over {limit // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise PageSkipped(NOT_UTF8, "not UTF-8 text") from None
