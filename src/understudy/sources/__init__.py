"""Sources: each yields records into the store; no source knows another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import InputError, SourceError
from ..plugins import load, registry
from ..records import Passage, Snippet, Thread
from ..store.locks import LockBusy, named_lock
from ..workspace import Workspace
from .base import Source

__all__ = ["Source", "SyncReport", "resolve_ticket", "sync"]


@dataclass
class SyncReport:
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    removed: int = 0  # passages or snippets whose page, file or definition is gone
    problems: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)  # why, for sources that say

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def sync(
    workspace: Workspace,
    name: str,
    progress: Callable[[Thread | Passage | Snippet], None] | None = None,
    **options: Any,
) -> SyncReport:
    """Run source `name` and upsert what it yields; syncing twice changes nothing.

    One sync of a source runs at a time on a workspace, across processes and hosts: a second
    one is refused at once (SourceError) rather than interleaving its writes and cursors.
    """
    source: Source = load("sources", name)(workspace.settings, workspace.store)
    try:
        with named_lock(workspace.store, f"sync:{name}", wait=0):
            return _sync(source, workspace, name, progress, options)
    except LockBusy:
        raise SourceError(
            f"Another 'understudy sync {name}' is running on this workspace: wait for it to "
            f"finish, then run this one again"
        ) from None


def _sync(source: Source, workspace: Workspace, name: str,
          progress: Callable[[Thread | Passage | Snippet], None] | None,
          options: dict[str, Any]) -> SyncReport:
    report = SyncReport(name)
    for record in source.fetch(**options):
        if isinstance(record, Thread):
            outcome = workspace.store.upsert_thread(record)
        elif isinstance(record, Snippet):
            outcome = workspace.store.upsert_snippet(record)
        else:
            outcome = workspace.store.upsert_passage(record)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if progress:
            progress(record)
    report.skipped = source.skipped
    report.removed = getattr(source, "removed", 0)
    report.problems = source.problems
    report.skipped_reasons = dict(getattr(source, "skipped_reasons", {}))
    return report


def check_url(url: str) -> str:
    """`url` if it can be parsed (host, port); else InputError in one line."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (parsing the port is what checks it)
    except ValueError as exc:
        raise InputError(
            f"'{url[:200]}' is not a valid URL ({exc}): give an issue URL like "
            "https://HOST/group/project/-/issues/42"
        ) from None
    if not parts.hostname:
        raise InputError(f"'{url[:200]}' has no host: give an issue URL like "
                         "https://HOST/group/project/-/issues/42")
    if any(c.isspace() or ord(c) < 32 for c in url.strip()):
        raise InputError(f"{url.strip()[:200]!r} has spaces or control characters: give the "
                         "issue URL as the browser shows it")
    return url


def resolve_ticket(workspace: Workspace, ref: str) -> Thread:
    """A ticket from an issue URL (any source that handles it), a file, or '-' for stdin."""
    from .files import ticket_from_file

    if ref.startswith(("http://", "https://")):
        check_url(ref)
        for name in registry("sources"):
            cls = load("sources", name)
            if cls.handles_url(ref):
                return cls(workspace.settings, workspace.store).fetch_url(ref)
        raise InputError(
            f"No source recognises {ref}: give a GitLab issue URL like "
            "https://HOST/group/project/-/issues/42, or a file"
        )
    return ticket_from_file(ref)
