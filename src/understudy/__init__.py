"""understudy learns how a team answers its support tickets and drafts the next answers.

The public API, for use from Python as the command line uses it::

    from understudy import Workspace, Thread, Message

    workspace = Workspace("~/support")
    draft = workspace.answerer().draft(thread)

Names are imported on first use, so `import understudy` (and `understudy --help`) stays fast:
the embedding model, PyTorch and the web server load only when something needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_WHERE = {
    "Workspace": "workspace",
    "Answerer": "answer",
    "Settings": "config",
    "SETTINGS": "settings",
    "Setting": "settings",
    # records
    "Thread": "records", "Message": "records", "Passage": "records", "Snippet": "records",
    "Example": "records", "Draft": "records", "SourceRef": "records", "Model": "records",
    # errors
    "UnderstudyError": "errors", "UsageError": "errors", "ConfigError": "errors",
    "InputError": "errors", "SourceError": "errors", "SendError": "errors",
    "NotFoundError": "errors",
    # what a plugin subclasses: one class per kind, registered by entry point
    "Source": "sources.base", "Backend": "backends.base", "Reply": "backends.base",
    "Destination": "destinations.base", "Posted": "destinations.base",
    "Trainer": "train.base", "TrainOptions": "train.base",
}

__all__ = [
    "__version__", "Workspace", "Answerer", "Settings", "SETTINGS", "Setting",
    "Thread", "Message", "Passage", "Snippet", "Example", "Draft", "SourceRef", "Model",
    "UnderstudyError", "UsageError", "ConfigError", "InputError", "SourceError", "SendError",
    "NotFoundError",
    "Source", "Backend", "Reply", "Destination", "Posted", "Trainer", "TrainOptions",
]

if TYPE_CHECKING:
    from .answer import Answerer
    from .backends.base import Backend, Reply
    from .config import Settings
    from .destinations.base import Destination, Posted
    from .errors import (
        ConfigError,
        InputError,
        NotFoundError,
        SendError,
        SourceError,
        UnderstudyError,
        UsageError,
    )
    from .records import Draft, Example, Message, Model, Passage, Snippet, SourceRef, Thread
    from .settings import SETTINGS, Setting
    from .sources.base import Source
    from .train.base import Trainer, TrainOptions
    from .workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'understudy' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
