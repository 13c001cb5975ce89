"""The registry of trained models: names, defaults, and what each backend then uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..errors import NotFoundError
from ..records import Model
from ..store import Store
from ..store.training import default_model, get_model, models, save_model, set_default_model

__all__ = ["default_embedder_path", "default_model", "get_model", "models", "new_name",
           "promote", "require_model", "save_model"]

MODELS_DIR = "models"


def new_name(store: Store, backend: str) -> str:
    """A fresh model name: the backend and the time, made unique."""
    stem = f"{backend}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    name, number = stem, 1
    while get_model(store, name) is not None:
        number += 1
        name = f"{stem}-{number}"
    return name


def model_folder(home: Path, name: str) -> Path:
    """Where a model trained here is saved inside the workspace."""
    return home / MODELS_DIR / name


def require_model(store: Store, name: str) -> Model:
    found = get_model(store, name)
    if found is None:
        raise NotFoundError(f"No model named '{name}': list them with 'understudy models'")
    return found


def promote(workspace, model: Model) -> None:  # noqa: ANN001  (Workspace: imported late)
    """Make `model` its backend's default and point the backend's settings at it."""
    set_default_model(workspace.store, model.backend, model.name)
    model.is_default = True
    settings = workspace.settings
    if model.backend == "openai" and model.remote_id:
        settings.set("model", model.remote_id)
    elif model.backend == "local" and model.path:
        settings.set("local_model", model.base_model)
        settings.set("local_adapter", model.path)


def default_embedder_path(store: Store) -> str | None:
    """The folder of the promoted tuned embedding model, if there is one and it still exists."""
    model = default_model(store, "retrieval")
    if model is None or not model.path or not Path(model.path).is_dir():
        return None
    return model.path
