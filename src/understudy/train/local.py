"""LoRA supervised fine-tuning of a local Hugging Face causal model with peft and trl."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UsageError
from ..llm import Client
from ..llm.local import LocalEngine
from ..records import Model
from ..store.training import save_model
from .base import Trainer, TrainOptions
from .heldout import generation_scores
from .registry import model_folder, new_name

EPOCHS = 1
BATCH_SIZE = 2
LEARNING_RATE = 2e-4
LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05}
EVAL_MAX_TOKENS = 64


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


class LocalTrainer(Trainer):
    """Trains a LoRA adapter for the model folder of --model (or the "local_model" setting),
    saves it into the workspace, and registers it for the local backend."""

    name = "local"
    metric = "answer_f1"

    def base_model(self, options: TrainOptions) -> Path:
        folder = options.model or self.workspace.settings.get("local_model")
        if not folder:
            raise UsageError("No local model to train: pass --model FOLDER (a model saved by "
                             "transformers) or set \"local_model\" in settings.json")
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ConfigError(f"No model folder at {path}: pass --model FOLDER")
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
        rows = sft_rows(self.examples("train"), conversational)
        name = new_name(store, self.name)
        self.say(f"LoRA fine-tuning {base.name} on {len(rows)} examples")
        context = getattr(network.config, "max_position_embeddings", None) or 1024
        with tempfile.TemporaryDirectory() as scratch:
            config = trl.SFTConfig(
                output_dir=scratch, num_train_epochs=options.epochs or EPOCHS,
                max_steps=options.max_steps or -1,
                per_device_train_batch_size=options.batch_size or BATCH_SIZE,
                learning_rate=LEARNING_RATE, logging_steps=1, save_strategy="no", report_to=[],
                max_length=int(context), seed=0, disable_tqdm=True,
                **({} if torch.cuda.is_available() else
                   {"use_cpu": True, "bf16": False, "gradient_checkpointing": False}),
            )
            trainer = trl.SFTTrainer(
                model=network, args=config, train_dataset=datasets.Dataset.from_list(rows),
                processing_class=tokenizer,
                peft_config=peft.LoraConfig(task_type="CAUSAL_LM", **LORA),
            )
            result = trainer.train()
        folder = model_folder(self.workspace.home, name)
        trainer.model.save_pretrained(str(folder))
        model = Model(name, self.name, base_model=str(base), path=str(folder),
                      metrics={"examples": len(rows), "train_loss": round(result.training_loss, 4),
                               "steps": result.global_step})
        save_model(store, model)
        self.say(f"Saved the adapter {name} to {folder}")
        return self.finish(model, options)

    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        if model is None:
            engine = LocalEngine(self.base_model(options))
        else:
            engine = LocalEngine(model.base_model, adapter=model.path)
        client = Client(self.workspace.store, engine, engine.model_name)
        heldout = self.examples("valid")[: options.eval_limit]
        completion = engine.completion_only(engine.model_name)
        return {**generation_scores(client, heldout, completion, EVAL_MAX_TOKENS),
                "model": engine.model_name}
