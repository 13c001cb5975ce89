"""LoRA fine-tuning with peft and trl on CPU: a tiny randomly initialised model, and the real
SmolLM2 interrupted with Ctrl-C and resumed from its checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_datasets import fill

pytest.importorskip("trl")
peft = pytest.importorskip("peft")
from test_local_backend import default_cache_with_smollm2, smollm2, tiny_model  # noqa: E402,F401

from understudy.datasets import BuildOptions, build  # noqa: E402
from understudy.errors import ConfigError, InputError  # noqa: E402
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


def test_local_training_names_a_missing_model_folder(workspace, tmp_path):
    with pytest.raises(ConfigError, match="pass --model FOLDER"):
        trainer_for(workspace, "local").train(TrainOptions(model=str(tmp_path / "nowhere")))


def test_local_training_needs_examples(workspace, tmp_path):
    tiny_model(tmp_path / "base", chat=True)
    with pytest.raises(InputError, match="dataset build"):
        trainer_for(workspace, "local").train(TrainOptions(model=str(tmp_path / "base")))


def _wait_for(path: Path, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"no {path.name} after {seconds} s"
        time.sleep(0.5)


@pytest.mark.slow
def test_smollm2_lora_interrupted_by_ctrl_c_resumes_from_its_checkpoint(
        default_cache_with_smollm2, workspace, home):  # noqa: F811
    fill(workspace.store, 6)
    build(workspace, BuildOptions(sources=False, budget=200))
    workspace.settings.set("llm_options", {"max_tokens": 4})
    # Steps of one example each: the first is checkpointed, then Ctrl-C, then the rest.
    command = [sys.executable, "-m", "understudy", "train", "--backend", "local",
               "--max-steps", "3", "--batch-size", "1", "--save-every", "1",
               "--eval-limit", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL)
    checkpoints = home / "models" / "checkpoints"
    try:
        _wait_for(checkpoints, process, 240)
        [run] = list(checkpoints.iterdir())
        _wait_for(run / "checkpoint-1" / "trainer_state.json", process, 240)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "run the same command again to continue from checkpoint-" in err
    kept = sorted(run.glob("checkpoint-*"))
    assert kept and "Traceback" not in err
    said: list[str] = []
    model = trainer_for(workspace, "local", said.append).train(
        TrainOptions(max_steps=3, save_every=1, eval_limit=1, batch_size=1))
    assert any(f"Resuming from {kept[-1].name}" in line for line in said), said
    stored = get_model(workspace.store, model.name)
    assert stored.metrics["resumed_from"] == kept[-1].name and stored.metrics["steps"] == 3
    assert stored.base_model == str(default_cache_with_smollm2 / "models" / "smollm2-135m-instruct")
    assert len(stored.metrics["data_hash"]) == 64 and stored.metrics["heldout"] == 1
    assert "answer_f1" in stored.metrics["baseline_metrics"]
    assert stored.metrics["baseline"] == "built-in default"
    assert (Path(stored.path) / "adapter_model.safetensors").stat().st_size > 100_000
    assert not run.exists()  # the finished run's checkpoints are cleared


def test_train_command_refuses_an_unknown_backend(workspace):
    from typer.testing import CliRunner

    from understudy.cli import app

    result = CliRunner().invoke(app, ["train", "--backend", "nope"])
    assert result.exit_code == 2 and "Unknown trainer 'nope'" in result.output
    assert all(name in result.output for name in ("local", "openai", "retrieval"))


def test_time_budget_registers_the_adapter_so_far_and_the_next_run_continues(workspace,
                                                                           tmp_path, home):
    tiny_model(tmp_path / "base", chat=True)
    fill(workspace.store, 8)
    build(workspace, BuildOptions(sources=False, budget=300))
    workspace.settings.set("llm_options", {"max_tokens": 2})
    options = TrainOptions(model=str(tmp_path / "base"), max_steps=5, batch_size=1,
                           eval_limit=1, budget_minutes=1e-6)  # out of time after a step
    trainer = trainer_for(workspace, "local")
    first = trainer.train(options)
    assert first.metrics["stopped_by_budget"] and first.metrics["steps"] == 1
    [run] = list((home / "models" / "checkpoints").iterdir())
    assert (run / "checkpoint-1").is_dir()  # kept for the next run
    second = trainer.train(options)
    assert second.metrics["resumed_from"] == "checkpoint-1" and second.metrics["steps"] == 2
    assert second.metrics["data_hash"] == first.metrics["data_hash"]
    assert first.name != second.name
