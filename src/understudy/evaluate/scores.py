"""Scores of a draft against the real reply, and the answer/abstain trade-off over thresholds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lowercased word tokens, as ROUGE compares them."""
    return _WORD.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (beta 1) of a candidate against a reference, on lowercased words."""
    ours, theirs = words(candidate), words(reference)
    common = lcs_length(ours, theirs)
    if not common:
        return 0.0
    precision, recall = common / len(ours), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


@dataclass
class CurvePoint:
    """At one confidence threshold: the share of tickets answered and their mean quality."""

    threshold: float
    coverage: float
    quality: float
    answered: int


def coverage_curve(confidences: Sequence[float], qualities: Sequence[float]) -> list[CurvePoint]:
    """Coverage and mean quality of the answered drafts at every distinct confidence, lowest
    threshold (answer everything) first."""
    if len(confidences) != len(qualities):
        raise ValueError("one quality per confidence")
    pairs = sorted(zip(confidences, qualities, strict=True), key=lambda p: -p[0])
    total = len(pairs)
    points: list[CurvePoint] = []
    running = 0.0
    for n, (confidence, quality) in enumerate(pairs, start=1):
        running += quality
        last = n == total or pairs[n][0] != confidence
        if last:  # a threshold answers every draft at or above it, so ties go together
            points.append(CurvePoint(confidence, n / total, running / n, n))
    return points[::-1]


def threshold_for(curve: Sequence[CurvePoint], target: float) -> CurvePoint | None:
    """The lowest threshold whose answered drafts reach `target` mean quality (most coverage),
    or None when no threshold does."""
    for point in curve:  # lowest threshold first
        if point.quality >= target:
            return point
    return None
