"""Sync cursors: how far a source read a project, and with which filters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cursor:
    """How far a project was read, and with which filters: what it may have left out."""

    at: str | None
    filters: dict[str, bool]

    def widened_by(self, filters: dict[str, bool]) -> bool:
        """Whether `filters` let in something the reads up to this cursor left out."""
        return self.at is not None and any(
            on and not self.filters.get(name, False) for name, on in filters.items()
        )

    def dump(self) -> str:
        return json.dumps({"at": self.at, "filters": self.filters}, sort_keys=True)


def read_cursor(
    store: Any, source: str, scope: str, before_filters: dict[str, bool] | None = None
) -> Cursor:
    """The stored cursor of `scope`.

    A bare time is a cursor from before filters were recorded: it was read with
    `before_filters` (the source's defaults of that time).
    """
    value = store.get_cursor(source, scope)
    if value is None:
        return Cursor(None, {})
    try:
        data = json.loads(value)
    except ValueError:
        data = value
    if isinstance(data, dict):
        return Cursor(data.get("at"), {k: bool(v) for k, v in (data.get("filters") or {}).items()})
    return Cursor(value, dict(before_filters or {}))
