"""Generated answers from a Hugging Face model folder plus an optional LoRA adapter."""

from __future__ import annotations

from collections.abc import Callable

from .openai import GenerativeBackend


class LocalBackend(GenerativeBackend):
    """Answers with a local causal language model (settings "local_model" or --model FOLDER)."""

    name = "local"
    engine = "local"

    @property
    def budget(self) -> int:
        """The prompt budget, kept within the model's context after room for the answer."""
        budget = super().budget
        config = self.client.engine.model.config
        context = getattr(config, "max_position_embeddings", None) or getattr(
            config, "n_positions", None
        )
        if context:
            budget = min(budget, int(context) - int(self.options()["max_tokens"]))
        return max(budget, 64)

    def counter(self) -> Callable[[str], int] | None:
        return lambda text: self.client.count_tokens(text)
