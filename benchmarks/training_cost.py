"""The cost estimate of `dataset check` against the tokens a fine-tuning server reports, and the
prompt tokens one generated answer spends with the default budget, on the bundled sample.

    python benchmarks/training_cost.py

Runs offline: the OpenAI-compatible server is the local test server (tests/openai_server.py),
which counts trained tokens over the uploaded training file with the model's tokenizer.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from openai_server import FakeOpenAI  # noqa: E402

from understudy.datasets import build, check_workspace  # noqa: E402
from understudy.demo import load_sample, open_tickets  # noqa: E402
from understudy.store.training import examples  # noqa: E402
from understudy.train import TrainOptions, trainer_for  # noqa: E402
from understudy.workspace import Workspace  # noqa: E402

MODEL = "gpt-4o-mini"


def main() -> None:
    with FakeOpenAI() as server:
        os.environ.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="test-key")
        workspace = Workspace(tempfile.mkdtemp())
        sample = load_sample(workspace)
        report = build(workspace)
        estimate = check_workspace(workspace, MODEL, epochs=1).estimate
        trainer = trainer_for(workspace, "openai")
        trainer.sleep = lambda seconds: None
        model = trainer.train(TrainOptions(model=MODEL, epochs=1, poll=0, eval_limit=5))
        workspace.settings.set("low_confidence", "mark")
        spent = []
        for ticket in open_tickets(sample.threads):
            workspace.answerer("openai").draft(ticket, save=False)
            spent.append(workspace.store.calls(limit=1)[0]["prompt_tokens"])
        print(json.dumps({
            "examples": report.total,
            "train_examples": len(examples(workspace.store, split="train")),
            "estimate_tokens_per_epoch": estimate.tokens,
            "estimate_cost_1_epoch": estimate.cost,
            "server_trained_tokens": model.metrics["trained_tokens"],
            "answer_prompt_tokens": spent,
        }, indent=2))
        workspace.close()


if __name__ == "__main__":
    main()
