"""Tuning the real embedding model on a small team set, and the retrieval backend using it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_datasets import fill

from understudy.datasets import build
from understudy.store.training import get_model
from understudy.train import TrainOptions, trainer_for
from understudy.train.heldout import retrieval_scores
from understudy.train.registry import promote
from understudy.workspace import Workspace


@pytest.fixture
def built(workspace):
    fill(workspace.store, 15)
    build(workspace)
    return workspace


def test_tuning_saves_registers_and_evaluates_a_copy(built, embedder, home):
    before = embedder.encode(["SSO login fails"])
    said: list[str] = []
    model = trainer_for(built, "retrieval", said.append).train(
        TrainOptions(epochs=1, max_steps=2, batch_size=4, promote=True))
    assert np.allclose(embedder.encode(["SSO login fails"]), before)  # the base is untouched
    folder = Path(model.path)
    assert folder.parent == home / "models" and (folder / "config.json").exists()
    stored = get_model(built.store, model.name)
    assert stored.backend == "retrieval" and stored.base_model == embedder.name
    metrics = stored.metrics
    assert metrics["heldout"] > 0 and 0 < metrics["mrr"] <= 100
    assert metrics["baseline"] == "built-in default" and "mrr" in metrics["baseline_metrics"]
    # Promoted exactly when it beat the model in use on the held-out threads.
    assert stored.is_default == metrics["beats_default"] == (
        metrics["mrr"] > metrics["baseline_metrics"]["mrr"])
    assert any("mrr" in line for line in said)
    # Once it is the default, a fresh workspace's index embeds with it (its own cache name).
    promote(built, stored)
    again = Workspace(home)
    assert again.index.embedder.path == folder and again.index.embedder.name == model.name
    again.index.build()
    assert again.store.embedding_hashes(model.name)
    hits = again.index.search("Okta SSO redirect says invalid state", k=1)
    assert hits and "SSO" in hits[0].item.title
    again.close()


def test_retrieval_scores_rank_each_question_against_all_answers():
    def encode(texts: list[str]) -> np.ndarray:
        vectors = np.array([[t.count("a"), t.count("b"), 1.0] for t in texts], dtype=float)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    answers = [("1", "", "aaaa"), ("2", "", "bbbb")]
    queries = [("1", "aaa", ""), ("2", "aab", "")]
    scores = retrieval_scores(encode, queries, answers)
    assert scores["heldout"] == 2 and scores["recall_at_1"] == 50.0 and scores["mrr"] == 75.0
