"""Tuning the embedding model on the team's own (question, answer) pairs, on CPU."""

from __future__ import annotations

import contextlib
import copy
import sys
import tempfile
from typing import Any

import numpy as np

from ..embeddings import Embedder, get_embedder
from ..errors import InputError
from ..records import Model
from ..store.training import save_model
from .base import Trainer, TrainOptions
from .heldout import Encode, qa_pairs, retrieval_scores
from .registry import model_folder, new_name

EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 2e-5


def encoder(model: Any) -> Encode:
    """A function encoding texts into normalised vectors with a SentenceTransformer."""
    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=64, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False))
    return encode


def tune(model: Any, pairs: list[tuple[str, str]], epochs: int = EPOCHS,
         batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE,
         max_steps: int | None = None, seed: int = 0) -> Any:
    """Fine-tune a SentenceTransformer in place on (anchor, positive) pairs with in-batch
    negatives (MultipleNegativesRankingLoss); returns it."""
    from datasets import Dataset

    try:  # sentence-transformers 6 moved these; older releases keep them at the top
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )
        from sentence_transformers.sentence_transformer.trainer import (
            SentenceTransformerTrainer,
        )
        from sentence_transformers.sentence_transformer.training_args import (
            BatchSamplers,
            SentenceTransformerTrainingArguments,
        )
    except ImportError:
        from sentence_transformers import (
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.losses import MultipleNegativesRankingLoss
        from sentence_transformers.training_args import BatchSamplers

    batch = min(batch_size, len(pairs))
    steps = max_steps or -(-len(pairs) // batch) * epochs
    warmup = int(0.1 * steps)  # a tenth of the steps, as a count every version accepts
    data = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    with tempfile.TemporaryDirectory() as scratch:
        arguments = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps or -1,
            per_device_train_batch_size=batch,
            learning_rate=learning_rate, warmup_steps=warmup, seed=seed, save_strategy="no",
            report_to=[], logging_strategy="no", use_cpu=True, disable_tqdm=True,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=arguments, train_dataset=data,
            loss=MultipleNegativesRankingLoss(model),
        )
        # With tqdm off, transformers prints each log dict to stdout: keep stdout for --json.
        with contextlib.redirect_stdout(sys.stderr):
            trainer.train()
    return model


class RetrievalTrainer(Trainer):
    """Tunes the current embedding model (the promoted one, else MiniLM) on the training
    split's pairs; the retrieval backend uses it once it is promoted."""

    name = "retrieval"
    metric = "mrr"

    def base(self) -> Embedder:
        return self.workspace.index.embedder

    def train(self, options: TrainOptions) -> Model:
        store = self.workspace.store
        pairs = [(q, a) for _, q, a in qa_pairs(store, self.examples("train"))]
        if len(pairs) < 2:
            raise InputError(
                f"Only {len(pairs)} training pairs: sync more answered threads, then run "
                "'understudy dataset build'"
            )
        base = self.base()
        name = new_name(store, self.name)
        self.say(f"Tuning {base.name} on {len(pairs)} (question, answer) pairs")
        tuned = tune(copy.deepcopy(base.model), pairs, options.epochs or EPOCHS,
                     options.batch_size or BATCH_SIZE, max_steps=options.max_steps)
        folder = model_folder(self.workspace.home, name)
        tuned.save(str(folder))
        self._tuned, self._folder = tuned, str(folder)
        model = Model(name, self.name, base_model=base.name, path=str(folder),
                      metrics={"pairs": len(pairs), "epochs": options.epochs or EPOCHS})
        save_model(store, model)
        self.say(f"Saved {name} to {folder}")
        done = self.finish(model, options)
        from ..ranker.answer import ranker_path

        if done.is_default and ranker_path(self.workspace.home).is_file():
            self.say("The answer ranker was fitted on the previous model's similarities: run "
                     "'understudy train --backend ranker' again (until then replies are ranked "
                     "by the default weighting)")
        return done

    def evaluate(self, model: Model | None, options: TrainOptions) -> dict[str, Any]:
        store = self.workspace.store
        queries = qa_pairs(store, self.examples("valid"))
        answers = qa_pairs(store, self.examples())
        if model is None:
            encode = get_embedder().encode  # the built-in model, when none is promoted
        elif getattr(self, "_tuned", None) is not None and model.path == self._folder:
            encode = encoder(self._tuned)  # just trained: no need to load it again
        else:
            encode = get_embedder(model.path).encode
        return retrieval_scores(encode, queries, answers)
