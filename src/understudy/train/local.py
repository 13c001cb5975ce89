"""LoRA supervised fine-tuning of a local Hugging Face causal model with peft and trl.

The base model is --model FOLDER, else the "local_model" setting, else the bundled
SmolLM2-135M-Instruct. A run saves checkpoints inside the workspace as it goes: the same
command after Ctrl-C (or after its time budget ran out) continues from the last one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..llm import Client
from ..llm.local import LocalEngine, default_model_folder
from ..records import Model
from ..store.training import save_model
from .base import Trainer, TrainOptions
from .heldout import generation_scores
from .registry import MODELS_DIR, model_folder, new_name

EPOCHS = 1
BATCH_SIZE = 2
LEARNING_RATE = 2e-4
LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05}
# Tokens per example: a longer reply is cut at its end; an example whose prompt alone is
# longer teaches nothing and is left out (lower "prompt_budget" to train faster on a CPU).
MAX_LENGTH = 4096
SAVE_EVERY = 25  # optimizer steps between checkpoints
EVAL_MAX_TOKENS = 64
CHECKPOINTS = "checkpoints"
KINDS = ("reply", "edit", "synthetic", "conversation", "code")


def _require_training() -> tuple[Any, Any, Any]:
    try:
        import datasets
        import peft
        import trl
    except ImportError:
        raise ConfigError("Local training needs peft, trl and datasets: "
                          "pip install 'understudy[local,train]'") from None
    return datasets, peft, trl


def sft_rows(examples: list, conversational: bool) -> list[dict[str, Any]]:
    """TRL prompt-completion rows: chat messages for models with a chat template, else the
    completion-model strings (prompt ending with the separator, answer ending with STOP)."""
    from ..datasets.formats import hf_record

    return [hf_record(e, conversational) for e in examples]


def data_hash(rows: list[dict[str, Any]], base: Path) -> str:
    """What a run trains on, as one hash: its rows and its base model's name."""
    digest = hashlib.sha256(base.name.encode())
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def checkpoint_folder(home: Path, digest: str) -> Path:
    """Where a run on these rows keeps its checkpoints until it ends."""
    return home / MODELS_DIR / CHECKPOINTS / f"local-{digest[:16]}"


def _progress_callback(transformers: Any, deadline: float | None) -> Any:
    """A callback drawing a progress bar with the loss, and ending the run at `deadline`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class Bar(transformers.TrainerCallback):
        out_of_time = False

        def __init__(self) -> None:
            self.bar = Progress(TextColumn("LoRA"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True))
            self.task = self.bar.add_task("train", total=None, loss="-")

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.bar.update(self.task, total=state.max_steps, completed=state.global_step)
            self.bar.start()

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.bar.update(self.task, completed=state.global_step)
            if deadline is not None and time.monotonic() >= deadline:
                self.out_of_time = True
                control.should_training_stop = True
                control.should_save = True

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            if logs and "loss" in logs:
                self.bar.update(self.task, loss=f"{logs['loss']:.3f}")

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.bar.stop()

    return Bar()


class LocalTrainer(Trainer):
    """Trains a LoRA adapter for the local backend's model, saves it into the workspace, and
    registers it with its base model, data hash and held-out figures."""

    name = "local"
    metric = "answer_f1"

    def base_model(self, options: TrainOptions) -> Path:
        folder = options.model or self.workspace.settings.get("local_model")
        if not folder:
            return default_model_folder(self.say)
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ConfigError(f"No model folder at {path}: pass --model FOLDER (a model saved "
                              "by transformers), or leave it out for the bundled SmolLM2")
        return path

    def train(self, options: TrainOptions) -> Model:
        datasets, peft, trl = _require_training()
        import torch
        import transformers

        base = self.base_model(options)
        store = self.workspace.store
        tokenizer = transformers.AutoTokenizer.from_pretrained(base)
        network = transformers.AutoModelForCausalLM.from_pretrained(base)
        conversational = bool(getattr(tokenizer, "chat_template", None))
        chosen = [e for e in self.examples("train") if e.kind in KINDS]
        if not chosen:
            raise InputError("No training examples of the kinds " + ", ".join(KINDS)
                             + ": run 'understudy dataset build' first")
        rows = sft_rows(chosen, conversational)
        digest = data_hash(rows, base)
        scratch = checkpoint_folder(self.workspace.home, digest)
        last = transformers.trainer_utils.get_last_checkpoint(str(scratch)) \
            if scratch.is_dir() else None
        context = getattr(network.config, "max_position_embeddings", None) or MAX_LENGTH
        budget = options.budget_minutes
        deadline = time.monotonic() + 60 * budget if budget else None
        self.say(f"LoRA fine-tuning {base.name} on {len(rows)} examples"
                 + (f" for at most {budget:g} minutes" if budget else ""))
        if last:
            self.say(f"Resuming from {Path(last).name} in {scratch}")
        config = trl.SFTConfig(
            output_dir=str(scratch), num_train_epochs=options.epochs or EPOCHS,
            max_steps=options.max_steps or -1,
            per_device_train_batch_size=options.batch_size or BATCH_SIZE,
            learning_rate=LEARNING_RATE, logging_steps=1, report_to=[],
            save_strategy="steps", save_steps=options.save_every or SAVE_EVERY,
            save_total_limit=2, max_length=min(int(context), MAX_LENGTH),
            seed=0, disable_tqdm=True,
            **({} if torch.cuda.is_available() else
               {"use_cpu": True, "bf16": False, "gradient_checkpointing": False}),
        )
        bar = _progress_callback(transformers, deadline)
        trainer = trl.SFTTrainer(
            model=network, args=config, train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tokenizer, callbacks=[bar],
            peft_config=peft.LoraConfig(task_type="CAUSAL_LM", **LORA),
        )
        # The bar shows the loss; the printer of raw log dicts (used without tqdm) goes.
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
        started = time.perf_counter()
        try:
            result = trainer.train(resume_from_checkpoint=last)
        except KeyboardInterrupt:
            bar.bar.stop()
            kept = transformers.trainer_utils.get_last_checkpoint(str(scratch)) \
                if scratch.is_dir() else None
            self.say(f"Stopped at step {trainer.state.global_step}: run the same command "
                     "again to continue from "
                     + (Path(kept).name if kept else "the start (no checkpoint yet)"))
            raise
        seconds = time.perf_counter() - started
        name = new_name(store, self.name)
        folder = model_folder(self.workspace.home, name)
        trainer.model.save_pretrained(str(folder))
        metrics = {
            "examples": len(rows), "train_loss": round(result.training_loss, 4),
            "steps": result.global_step, "resumed_from": Path(last).name if last else None,
            "data_hash": digest, "train_seconds": round(seconds, 1),
            "stopped_by_budget": bar.out_of_time,
            "adapter_bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()),
        }
        model = Model(name, self.name, base_model=str(base), path=str(folder), metrics=metrics)
        save_model(store, model)
        if not bar.out_of_time:  # done: the checkpoints have served; else the next run goes on
            shutil.rmtree(scratch, ignore_errors=True)
        self.say(f"Saved the adapter {name} to {folder}"
                 + (" (the time budget ran out)" if bar.out_of_time else ""))
        return self.finish(model, options)

    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        if model is None:
            engine = LocalEngine(self.base_model(options))
        else:
            engine = LocalEngine(model.base_model, adapter=model.path)
        client = Client(self.workspace.store, engine, engine.model_name)
        heldout = [e for e in self.examples("valid") if e.kind in KINDS][: options.eval_limit]
        completion = engine.completion_only(engine.model_name)
        # The workspace's own answer budget, when smaller, bounds the held-out answers too.
        wanted = (self.workspace.settings.get("llm_options") or {}).get("max_tokens")
        limit = min(EVAL_MAX_TOKENS, int(wanted)) if wanted else EVAL_MAX_TOKENS
        return {**generation_scores(client, heldout, completion, limit),
                "model": engine.model_name}
