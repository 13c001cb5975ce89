"""Trainers: fine-tuning jobs at OpenAI, local LoRA adapters, and a tuned retriever."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..plugins import load
from .base import Say, Trainer, TrainOptions

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["TrainOptions", "Trainer", "trainer_for"]


def trainer_for(workspace: Workspace, backend: str, say: Say | None = None) -> Trainer:
    """The registered trainer for `backend` (openai, local, retrieval, or a plugin's)."""
    return load("trainers", backend)(workspace, say)
