"""The deterministic train/validation split, by thread, so no thread is on both sides."""

from __future__ import annotations

import hashlib
from collections import Counter
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


def _family(example: Example) -> str:
    """Examples split together toward the share: those of threads, else those of one kind."""
    return "thread" if example.thread_id is not None else example.kind


def _held_out(sizes: dict[str, int], valid_share: float) -> set[str]:
    """Groups held out so that their examples come near `valid_share` of all, taken in hash
    order (stable from run to run); a group that would overshoot more than it helps is passed
    over for a smaller one. One file of code can hold a hundred snippets, so counting groups
    alone can put 40% of the examples on the validation side."""
    groups = sorted(sizes, key=fraction)
    target = valid_share * sum(sizes.values())
    valid: set[str] = set()
    held = 0
    for group in groups:
        if abs(held + sizes[group] - target) < abs(held - target):
            valid.add(group)
            held += sizes[group]
    if not valid and len(groups) >= 2 and valid_share > 0:
        valid = {groups[0]}
    if len(valid) == len(groups) and len(groups) >= 2:
        valid.discard(groups[-1])  # keep something to train on
    return valid


def assign_splits(examples: Sequence[Example], valid_share: float = VALID_SHARE) -> None:
    """Set each example's split by its group (a thread, a page, a file), so no group is on
    both sides, with about `valid_share` of each family's examples held out; at least one
    group is held out when there are two or more, so there is always something to evaluate."""
    sizes: dict[str, Counter[str]] = {}
    for example in examples:
        sizes.setdefault(_family(example), Counter())[group_key(example)] += 1
    valid = set().union(*(_held_out(dict(c), valid_share) for c in sizes.values()))
    for example in examples:
        example.split = "valid" if group_key(example) in valid else "train"
