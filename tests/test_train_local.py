"""LoRA fine-tuning with peft and trl of a tiny randomly initialised model, on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_datasets import fill

pytest.importorskip("trl")
peft = pytest.importorskip("peft")
from test_local_backend import tiny_model  # noqa: E402

from understudy.datasets import BuildOptions, build  # noqa: E402
from understudy.errors import UsageError  # noqa: E402
from understudy.llm.local import LocalEngine  # noqa: E402
from understudy.store.training import get_model  # noqa: E402
from understudy.train import TrainOptions, trainer_for  # noqa: E402


@pytest.mark.parametrize("chat", [True, False], ids=["chat-template", "plain"])
def test_lora_adapter_is_trained_saved_registered_and_loaded(workspace, tmp_path, home, chat):
    tiny_model(tmp_path / "base", chat=chat)
    fill(workspace.store, 8)
    build(workspace, BuildOptions(sources=False, budget=400))
    said: list[str] = []
    workspace.settings.set("llm_options", {"max_tokens": 4})
    model = trainer_for(workspace, "local", said.append).train(
        TrainOptions(model=str(tmp_path / "base"), max_steps=2, batch_size=2, eval_limit=2,
                     promote=True))
    folder = Path(model.path)
    assert folder.parent == home / "models" and (folder / "adapter_config.json").exists()
    stored = get_model(workspace.store, model.name)
    assert stored.backend == "local" and stored.base_model == str(tmp_path / "base")
    assert stored.metrics["steps"] == 2 and stored.metrics["heldout"] == 2
    assert stored.is_default == stored.metrics["beats_default"]
    if stored.is_default:
        assert workspace.settings.get("local_adapter") == str(folder)
    engine = LocalEngine(stored.base_model, adapter=stored.path)
    assert isinstance(engine.model, peft.PeftModel)
    assert any("LoRA fine-tuning" in line for line in said)


def test_local_training_needs_a_model_folder(workspace):
    with pytest.raises(UsageError, match="pass --model FOLDER"):
        trainer_for(workspace, "local").train(TrainOptions())


def test_train_command_refuses_an_unknown_backend(workspace):
    from typer.testing import CliRunner

    from understudy.cli import app

    result = CliRunner().invoke(app, ["train", "--backend", "nope"])
    assert result.exit_code == 2 and "Unknown trainer 'nope'" in result.output
    assert all(name in result.output for name in ("local", "openai", "retrieval"))
