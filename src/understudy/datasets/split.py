"""The deterministic train/validation split, by thread, so no thread is on both sides."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..records import Example

VALID_SHARE = 0.2


def group_key(example: Example) -> str:
    """What keeps examples together: their thread, their group, or the draft of an edit."""
    if example.thread_id is not None:
        return f"thread:{example.source.get('thread') or example.thread_id}"
    if example.source.get("group"):  # a page of docs, a file of code
        return str(example.source["group"])
    return f"draft:{example.draft_id}"


def fraction(key: str) -> float:
    """A stable number in [0, 1) for a key: the same on every machine and every run."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def assign_splits(examples: Sequence[Example], valid_share: float = VALID_SHARE) -> None:
    """Set each example's split by its group's hash; at least one group is held out when
    there are two or more, so there is always something to evaluate on."""
    groups = sorted({group_key(e) for e in examples}, key=fraction)
    valid = {g for g in groups if fraction(g) < valid_share}
    if not valid and len(groups) >= 2 and valid_share > 0:
        valid = {groups[0]}
    if len(valid) == len(groups) and len(groups) >= 2:
        valid.discard(groups[-1])  # keep something to train on
    for example in examples:
        example.split = "valid" if group_key(example) in valid else "train"
