"""Markdown to plain text, noise filters, and secret scrubbing."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark")


def markdown_to_text(body: str) -> str:
    """Plain text of a markdown body, for matching and training."""
    tokens = _md.parse(body or "")
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts.append("".join(c.content for c in token.children or [] if c.content))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content.rstrip())
    return "\n".join(p for p in parts if p.strip()).strip()


_PROCEDURAL = [
    r"^(dup(licate)?( of)?|same as) #?\d+",
    r"^clos(ing|ed)\b",
    r"^fixed in (v(ersion)?)?\s*\d",
    r"^(can(no|')?t|could not|couldn't|unable to) reproduce",
    r"^\+1\b",
    r"^(thanks|thank you|thx)\b",
]


def is_procedural(text: str, extra: list[str] | None = None) -> bool:
    """True for short replies that are not answers ("closing", "+1", "duplicate of #12")."""
    clean = text.strip().lower()
    if len(clean.split()) > 12:
        return False
    return any(re.search(p, clean) for p in _PROCEDURAL + list(extra or []))


def mask_secrets(text: str) -> str:
    """Replace tokens, keys and passwords with a marker."""
    return re.sub(r"glpat-[A-Za-z0-9_\-]{20,}", "[REDACTED:token]", text)
