"""Tune MiniLM on SemEval-2016 train-part2 pairs; report dev MAP before and after (B and C).

    python benchmarks/tune_retrieval.py /path/to/semeval2016-task3 [--epochs 3] [--out DIR]
                                        [--home WORKSPACE]

Pairs are (original question, relevant related question) of subtask B and (original question,
Good comment) of subtask C, from the train file only; the figures are on the dev file, whose
questions are never seen in tuning. With --home, the tuned model is saved in that workspace and
made its embedding model, so that `understudy --home WORKSPACE eval bench semeval2016 PATH
--train PATH --system ranker` fits and scores the answer ranker on it.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from understudy.embeddings import Embedder, get_embedder
from understudy.evaluate.answer_ranker import training_pairs
from understudy.evaluate.bench import load_benchmark, run_bench
from understudy.train.retrieval import tune

SYSTEMS = ["embeddings", "default"]


def dev_map(path: Path, embedder: Embedder) -> dict[str, float]:
    """Dev MAP (official scorer) of each system, subtasks B and C."""
    out = {}
    for subtask in ("B", "C"):
        benchmark = load_benchmark("semeval2016", path, subtask, split="dev")
        for name, result in run_bench(benchmark, SYSTEMS, embedder=embedder).items():
            out[f"{subtask} {name}"] = round(result.metrics["MAP"], 2)
    return out


def register(home: Path, model, pairs: int, epochs: int) -> Path:  # noqa: ANN001
    """Register `model` in the workspace at `home` as its default embedding model; returns
    the folder to save it in."""
    from understudy.records import Model
    from understudy.train.registry import model_folder, new_name, promote, save_model
    from understudy.workspace import Workspace

    workspace = Workspace(home)
    name = new_name(workspace.store, "retrieval")
    folder = model_folder(workspace.home, name)
    record = Model(name, "retrieval", base_model="all-MiniLM-L6-v2", path=str(folder),
                   metrics={"trained_on": "semeval2016 train-part2", "pairs": pairs,
                            "epochs": epochs})
    save_model(workspace.store, record)
    promote(workspace, record)
    workspace.close()
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--home", type=Path, default=None,
                        help="a workspace to register the tuned model in as its embedding model")
    args = parser.parse_args()
    base = get_embedder()
    train = training_pairs(args.path)
    before = dev_map(args.path, base)
    started = time.perf_counter()
    model = tune(copy.deepcopy(base.model), train, epochs=args.epochs)
    seconds = time.perf_counter() - started
    folder = args.out or Path(tempfile.mkdtemp()) / "minilm-semeval"
    if args.home:
        folder = register(args.home, model, len(train), args.epochs)
    model.save(str(folder))
    after = dev_map(args.path, Embedder(folder))
    print(json.dumps({"pairs": len(train), "epochs": args.epochs,
                      "tuning_seconds": round(seconds, 1), "before": before, "after": after},
                     indent=2))


if __name__ == "__main__":
    main()
