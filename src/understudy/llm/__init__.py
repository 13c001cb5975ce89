"""Language models: the one client every call goes through, its engines, options and prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError
from .client import Client, Completion, Engine, Generated, Transient
from .options import Options, parse_options
from .pricing import Price, cost, price_for, training_cost

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = [
    "Client", "Completion", "Engine", "Generated", "Options", "Price", "Transient", "client_for",
    "cost", "parse_options", "price_for", "training_cost",
]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def client_for(workspace: Workspace, engine: str = "openai", model: str | None = None) -> Client:
    """The client for an engine ("openai" or "local") set up from the workspace's settings."""
    settings = workspace.settings
    if engine == "openai":
        from .openai_engine import OpenAIEngine

        chosen = model or settings.get("model") or DEFAULT_OPENAI_MODEL
        return Client(workspace.store, OpenAIEngine(settings), chosen, settings.get("prices"))
    if engine == "local":
        from .local import LocalEngine

        # No folder named: the bundled SmolLM2, converted into the user cache the first time.
        path = model or settings.get("local_model")
        local = LocalEngine(path, adapter=settings.get("local_adapter"))
        local.mask_requests = settings.get("mask_for_local_models") is not False
        return Client(workspace.store, local, local.model_name, settings.get("prices"))
    raise UsageError(f"Unknown model engine '{engine}': use openai or local")
