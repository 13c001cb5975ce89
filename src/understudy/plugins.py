"""Registries of sources, backends, destinations and trainers, read once from entry points."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from .errors import UsageError

KINDS = ("sources", "backends", "destinations", "trainers")

# Built-ins are declared as entry points in pyproject.toml; this mirror keeps a source checkout
# that was never installed working.
BUILTIN: dict[str, dict[str, str]] = {
    "sources": {
        "gitlab": "understudy.sources.gitlab:GitLabSource",
        "docs": "understudy.sources.docs:DocsSource",
        "code": "understudy.sources.code:CodeSource",
        "csv": "understudy.sources.conversations:ConversationsSource",
        "github": "understudy.sources.github:GitHubSource",
    },
    "backends": {
        "retrieval": "understudy.backends.retrieval:RetrievalBackend",
        "openai": "understudy.backends.openai:OpenAIBackend",
        "local": "understudy.backends.local:LocalBackend",
    },
    "destinations": {
        "gitlab": "understudy.destinations.gitlab:GitLabDestination",
        "github": "understudy.destinations.github:GitHubDestination",
    },
    "trainers": {
        "openai": "understudy.train.openai:OpenAITrainer",
        "local": "understudy.train.local:LocalTrainer",
        "retrieval": "understudy.train.retrieval:RetrievalTrainer",
        "ranker": "understudy.train.ranker:RankerTrainer",
    },
}


@cache
def registry(kind: str) -> dict[str, str]:
    """Name -> 'module:Class' for one kind, built-ins first, then installed plugins."""
    found = dict(BUILTIN[kind])
    for ep in entry_points(group=f"understudy.{kind}"):
        found[ep.name] = ep.value
    return found


def load(kind: str, name: str) -> Any:
    target = registry(kind).get(name)
    if target is None:
        names = ", ".join(sorted(registry(kind))) or "none"
        raise UsageError(f"Unknown {kind[:-1]} '{name}': choose one of {names}")
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)
