"""The interface every trainer implements, and what all share: held-out checks and promotion."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..records import Example, Model
from ..store.training import default_model, examples, save_model
from .registry import promote

if TYPE_CHECKING:
    from ..workspace import Workspace

Say = Callable[[str], None]


@dataclass
class TrainOptions:
    """What `understudy train` was asked for."""

    model: str | None = None  # the base model (a name, or a folder for local)
    epochs: int | None = None
    suffix: str | None = None
    promote: bool = False
    wait: bool = True  # openai: watch the job until it ends
    poll: float = 10.0  # openai: seconds between looks at the job
    batch_size: int | None = None
    max_steps: int | None = None  # local: stop after this many optimizer steps
    budget_minutes: float | None = None  # local: stop (and checkpoint) after this long
    save_every: int | None = None  # local: optimizer steps between checkpoints
    eval_limit: int = 20  # held-out examples answered to evaluate a generating model


class Trainer(ABC):
    """Trains one kind of model from the workspace's examples and registers it."""

    name: str = ""
    metric: str = ""  # the held-out figure that decides promotion (higher is better)

    def __init__(self, workspace: Workspace, say: Say | None = None):
        self.workspace = workspace
        self.say: Say = say or (lambda text: None)

    @abstractmethod
    def train(self, options: TrainOptions) -> Model:
        """Train, register the model, evaluate it on held-out threads, promote if asked."""

    @abstractmethod
    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        """Held-out figures of `model` (None: what the backend uses without a trained model)."""

    def examples(self, split: str | None = None) -> list[Example]:
        found = examples(self.workspace.store, split=split)
        if not found:
            raise InputError("No training examples yet: run 'understudy dataset build' first")
        return found

    def finish(self, model: Model, options: TrainOptions) -> Model:
        """Evaluate the new model and the current default on the same held-out threads; store
        both figures; promote the new one only if asked and it does better."""
        current = default_model(self.workspace.store, self.name)
        self.say(f"Evaluating {model.name} on held-out threads")
        ours = self.evaluate(model, options)
        theirs = self.evaluate(current, options)
        baseline = current.name if current else "built-in default"
        model.metrics.update({**ours, "baseline": baseline,
                              "baseline_metrics": theirs})
        better = ours.get(self.metric, 0.0) > theirs.get(self.metric, 0.0)
        model.metrics["beats_default"] = better
        save_model(self.workspace.store, model)
        self.say(f"{self.metric}: {ours.get(self.metric)} for {model.name}, "
                 f"{theirs.get(self.metric)} for {baseline}")
        if options.promote:
            if better:
                promote(self.workspace, model)
                save_model(self.workspace.store, model)
                self.say(f"{model.name} is now the default {self.name} model")
            else:
                self.say(f"Not promoted: {model.name} does not beat {baseline}")
        return model
