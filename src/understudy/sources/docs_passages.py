"""Sections of a page cut into passages: bounded in words, short ones joined to a neighbour."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..records import Passage
from .docs_formats import Section

TRAIL = " > "


@dataclass
class _Unit:
    """A passage being built: the parts (trail, text) it holds, and where it links to."""

    anchor: str
    parts: list[tuple[list[str], str]] = field(default_factory=list)

    def trail(self) -> list[str]:
        """The trail the parts share, or the first part's (the trail of a lone page intro
        is the next section's)."""
        trails = [t for t, _ in self.parts]
        common = trails[0]
        for other in trails[1:]:
            size = 0
            while size < min(len(common), len(other)) and common[size] == other[size]:
                size += 1
            common = common[:size]
        if common:
            return common
        named = [t for t in trails if t]
        return named[0] if named else []

    def text(self) -> str:
        shared = self.trail()
        pieces = []
        for trail, text in self.parts:
            if trail and trail != shared:
                rest = trail[len(shared):] if trail[: len(shared)] == shared else trail
                pieces.append(f"**{TRAIL.join(rest)}**\n\n{text}")
            else:
                pieces.append(text)
        return "\n\n".join(pieces)


def words(text: str) -> int:
    return len(text.split())


def pack(pieces: list[str], max_words: int, sep: str) -> list[str]:
    """Consecutive pieces joined by `sep` into parts of at most `max_words` words (a piece
    longer than that stays a part of its own)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        count = words(piece)
        if current and size + count > max_words:
            out.append(sep.join(current))
            current, size = [], 0
        current.append(piece)
        size += count
    if current:
        out.append(sep.join(current))
    return out


def split_block(block: str, max_words: int) -> list[str]:
    """A block longer than the bound, cut between lines; a line longer than it, between words."""
    parts: list[str] = []
    lines: list[str] = []
    for line in block.splitlines():
        if words(line) > max_words:  # one long line (an HTML paragraph has no line breaks)
            parts += pack(lines, max_words, "\n")
            lines = []
            tokens = line.split()
            parts.extend(" ".join(tokens[i:i + max_words])
                         for i in range(0, len(tokens), max_words))
        else:
            lines.append(line)
    return parts + pack(lines, max_words, "\n")


def chunks(blocks: list[str], max_words: int) -> list[str]:
    """Blocks packed into chunks of at most `max_words` words, cut at block boundaries."""
    pieces = [p for b in blocks for p in (split_block(b, max_words)
                                          if words(b) > max_words else [b])]
    return pack(pieces, max_words, "\n\n")


def merge_short(units: list[_Unit], min_chars: int, max_words: int) -> list[_Unit]:
    """Units shorter than `min_chars` joined to the next one (the last to the one before),
    as long as the result stays within `max_words`."""
    if min_chars <= 0:
        return units
    out: list[_Unit] = []
    carry: _Unit | None = None
    for unit in units:
        if carry is not None:
            joined = _Unit(carry.anchor, carry.parts + unit.parts)
            if words(joined.text()) <= max_words:
                unit = joined
            else:
                out.append(carry)
        carry = unit if len(unit.text().strip()) < min_chars else None
        if carry is None:
            out.append(unit)
    if carry is not None:
        if out:
            joined = _Unit(out[-1].anchor, out[-1].parts + carry.parts)
            if words(joined.text()) <= max_words:
                out[-1] = joined
                return out
        out.append(carry)
    return out


def passages_of(
    sections: list[Section], path: str, url: str, max_words: int, source: str,
    min_chars: int,
) -> list[Passage]:
    """The passages of one page's sections, each keyed by (path, heading), linked to its anchor."""
    page = url or path
    stem = Path(path.removesuffix(".gz")).stem
    units = [_Unit(anchor, [(trail, chunk)])
             for trail, anchor, blocks in sections for chunk in chunks(blocks, max_words)]
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for unit in merge_short(units, min_chars, max_words):
        trail = TRAIL.join(unit.trail()) or stem
        link = f"{page}#{unit.anchor}" if unit.anchor else page
        # (source, path, heading) is a passage's key, so a repeated trail gets a number.
        count = seen.get(trail, 0) + 1
        seen[trail] = count
        heading = trail if count == 1 else f"{trail} ({count})"
        passages.append(Passage(source, path, heading, unit.text(), link))
    return passages
