"""Markdown to plain text, procedural-reply filters, secret scrubbing and token counts."""

from .markdown import MAX_BLOCK_LINES, markdown_to_text
from .masking import SECRET_RULES, SecretRule, find_secrets, mask_secrets
from .procedural import (
    MAX_PROCEDURAL_WORDS,
    PROCEDURAL_RULES,
    is_procedural,
    procedural_rule,
)
from .tokens import count_tokens, encoding_name

__all__ = [
    "MAX_BLOCK_LINES",
    "MAX_PROCEDURAL_WORDS",
    "PROCEDURAL_RULES",
    "SECRET_RULES",
    "SecretRule",
    "count_tokens",
    "encoding_name",
    "find_secrets",
    "is_procedural",
    "markdown_to_text",
    "mask_secrets",
    "procedural_rule",
]
