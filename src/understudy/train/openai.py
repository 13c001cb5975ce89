"""Fine-tuning jobs at OpenAI (or a compatible server): upload, create, watch, register."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai

from ..datasets.formats import SPLIT_FILES
from ..datasets.formats import export as export_examples
from ..errors import NotFoundError, UnderstudyError
from ..llm import DEFAULT_OPENAI_MODEL, Client
from ..llm.openai_engine import OpenAIEngine, completion_model
from ..records import Model
from ..store.training import models, save_model
from .base import Trainer, TrainOptions
from .heldout import generation_scores
from .registry import new_name

DONE = ("succeeded", "failed", "cancelled")
EXPORTS_DIR = "exports"


def _failed(what: str, exc: openai.APIError) -> UnderstudyError:
    body = getattr(exc, "body", None)
    detail = body.get("error", body).get("message") if isinstance(body, dict) else None
    return UnderstudyError(f"{what} failed: {detail or exc}; check OPENAI_API_KEY and "
                           "OPENAI_BASE_URL, then run 'understudy train status'")


class OpenAITrainer(Trainer):
    """Uploads train.jsonl and valid.jsonl, creates a fine-tuning job, and follows its events;
    the job id is stored first, so `understudy train status` picks up after a restart."""

    name = "openai"
    metric = "answer_f1"

    def __init__(self, workspace: Any, say: Callable[[str], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        super().__init__(workspace, say)
        self.sleep = sleep
        self._engine: OpenAIEngine | None = None

    @property
    def api(self) -> openai.OpenAI:
        if self._engine is None:
            self._engine = OpenAIEngine(self.workspace.settings)
        return self._engine.api

    def base_model(self, options: TrainOptions) -> str:
        settings = self.workspace.settings
        return options.model or settings.get("fine_tune_model") or DEFAULT_OPENAI_MODEL

    def train(self, options: TrainOptions) -> Model:
        base = self.base_model(options)
        store = self.workspace.store
        name = new_name(store, self.name)
        fmt = "completion" if completion_model(base, self.workspace.settings) else "chat"
        folder = self.workspace.home / EXPORTS_DIR / name
        counts = export_examples(self.examples(), fmt, folder)
        files = {}
        for split, filename in SPLIT_FILES.items():
            if counts[split]:
                files[split] = self._upload(folder / filename)
                self.say(f"Uploaded {counts[split]} {split} examples as {files[split]}")
        hyper = {"n_epochs": options.epochs} if options.epochs else {}
        try:
            job = self.api.fine_tuning.jobs.create(
                model=base, training_file=files["train"],
                validation_file=files.get("valid") or openai.NOT_GIVEN,
                hyperparameters=hyper or openai.NOT_GIVEN,
                suffix=options.suffix or openai.NOT_GIVEN,
            )
        except openai.APIError as exc:
            raise _failed(f"Creating a fine-tuning job on {base}", exc) from None
        model = Model(name, self.name, base_model=base, job_id=job.id, status="running",
                      metrics={"format": fmt, "files": files, "examples": counts})
        save_model(store, model)
        self.say(f"Created fine-tuning job {job.id} ({name})")
        if not options.wait:
            return model
        return self.watch(model, options)

    def _upload(self, path) -> str:  # noqa: ANN001  (a Path)
        try:
            with path.open("rb") as handle:
                return self.api.files.create(file=(path.name, handle.read()),
                                             purpose="fine-tune").id
        except openai.APIError as exc:
            raise _failed(f"Uploading {path.name}", exc) from None

    def watch(self, model: Model, options: TrainOptions) -> Model:
        """Follow a job's events until it ends; register the fine-tuned model it made."""
        store = self.workspace.store
        while True:
            try:
                job = self.api.fine_tuning.jobs.retrieve(model.job_id)
                events = self.api.fine_tuning.jobs.list_events(model.job_id, limit=100).data
            except openai.APIError as exc:
                raise _failed(f"Reading fine-tuning job {model.job_id}", exc) from None
            seen = model.metrics.get("last_event")
            fresh = list(reversed(events))  # the API lists newest first
            if seen in [e.id for e in fresh]:
                fresh = fresh[[e.id for e in fresh].index(seen) + 1:]
            for event in fresh:
                self.say(f"[{job.status}] {event.message}")
                model.metrics["last_event"] = event.id
                save_model(store, model)
            if job.status in DONE:
                break
            self.sleep(options.poll)
        if job.status != "succeeded":
            model.status = job.status
            error = getattr(job, "error", None)
            model.metrics["error"] = getattr(error, "message", None) or job.status
            save_model(store, model)
            raise UnderstudyError(f"Fine-tuning job {job.id} {job.status}: "
                                  f"{model.metrics['error']}; fix the data and train again")
        model.status, model.remote_id = "ready", job.fine_tuned_model
        model.metrics["trained_tokens"] = job.trained_tokens
        save_model(store, model)
        self.say(f"Fine-tuned model {model.remote_id} is registered as {model.name}")
        return self.finish(model, options)

    def resume(self, options: TrainOptions) -> list[Model]:
        """Watch every job still running, as after a restart."""
        running = models(self.workspace.store, backend=self.name, status="running")
        if not running:
            raise NotFoundError("No fine-tuning job is running: start one with "
                                "'understudy train --backend openai'")
        return [self.watch(model, options) for model in running]

    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        name = (model.remote_id if model else None) or self.base_model(options)
        engine = self._engine or OpenAIEngine(self.workspace.settings)
        client = Client(self.workspace.store, engine, name, self.workspace.settings.get("prices"))
        heldout = self.examples("valid")[: options.eval_limit]
        return {**generation_scores(client, heldout, completion_model(name)), "model": name}
