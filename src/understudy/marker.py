"""The hidden line a posted draft carries, so a retry finds the post instead of posting again
and no reader mistakes understudy's own posts for the team's or a customer's words."""

from __future__ import annotations

import re

from .records import Draft

PREFIX = "<!-- understudy-draft:"
MARKER = re.compile(r"<!-- understudy-draft:\d+:\d+ -->")
_WITH_SPACE = re.compile(r"\s*<!-- understudy-draft:\d+:\d+ -->\s*")


def marker(draft: Draft) -> str:
    """The marker line of `draft`'s post."""
    return f"{PREFIX}{draft.thread_id}:{draft.id} -->"


def without_marker(text: str) -> str:
    """`text` as a reader sees it: marker lines taken out."""
    return _WITH_SPACE.sub("\n", text).strip()
