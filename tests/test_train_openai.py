"""Fine-tuning jobs against the local OpenAI-compatible server: upload, job, events, resume."""

from __future__ import annotations

import json

import pytest
from test_datasets import fill
from typer.testing import CliRunner

from understudy.cli import app
from understudy.datasets import build, check_workspace
from understudy.errors import NotFoundError, UnderstudyError
from understudy.store.training import examples, get_model, models
from understudy.train import TrainOptions, trainer_for
from understudy.workspace import Workspace


@pytest.fixture
def built(workspace, openai_server):
    fill(workspace.store, 10)
    build(workspace)
    return workspace


def answers_for(store, good: bool) -> list[str]:
    """One answer per held-out example: the team's own reply, or a useless one."""
    return [e.completion if good else "No idea." for e in examples(store, split="valid")]


def test_train_uploads_creates_a_job_follows_it_and_registers_the_model(built, openai_server):
    said: list[str] = []
    valid = len(examples(built.store, split="valid"))
    openai_server.enqueue(*answers_for(built.store, True), *answers_for(built.store, False))
    trainer = trainer_for(built, "openai", said.append)
    trainer.sleep = lambda seconds: None
    model = trainer.train(TrainOptions(epochs=2, suffix="support", promote=True, poll=0))
    [upload_train, upload_valid] = openai_server.calls("/v1/files")
    lines = upload_train["json"]["file"]["content"].decode().splitlines()
    assert len(lines) == len(examples(built.store, split="train"))
    assert json.loads(lines[0])["messages"][-1]["role"] == "assistant"
    assert upload_valid["json"]["file"]["filename"] == "valid.jsonl"
    [create] = openai_server.calls("/v1/fine_tuning/jobs")
    body = create["json"]
    assert body["model"] == "gpt-4o-mini" and body["hyperparameters"] == {"n_epochs": 2}
    assert body["suffix"] == "support"
    assert body["validation_file"] == model.metrics["files"]["valid"]
    job = openai_server.jobs[model.job_id]
    assert model.remote_id == job["fine_tuned_model"] and model.status == "ready"
    assert any("Fine-tuning job started" in line for line in said)
    assert sum("successfully completed" in line for line in said) == 1
    # Evaluated on the held-out threads: the tuned model against the base model, promoted.
    assert model.metrics["heldout"] == valid and model.metrics["answer_f1"] == 100.0
    assert model.metrics["baseline_metrics"]["answer_f1"] < 100.0
    assert model.is_default and built.settings.get("model") == model.remote_id
    # The estimate of `dataset check` against what the server counted as trained.
    estimate = check_workspace(built, "gpt-4o-mini", epochs=1).estimate
    assert 0 < estimate.tokens <= model.metrics["trained_tokens"]


def test_status_resumes_watching_after_a_restart(built, openai_server, home):
    trainer = trainer_for(built, "openai")
    started = trainer.train(TrainOptions(wait=False))
    assert started.status == "running" and started.job_id in openai_server.jobs
    built.close()
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(home), "train", "status", "--poll", "0",
                                 "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    [done] = json.loads(result.stdout)
    assert done["name"] == started.name and done["status"] == "ready"
    assert done["remote_id"] == openai_server.jobs[started.job_id]["fine_tuned_model"]
    again = Workspace(home)
    assert get_model(again.store, started.name).status == "ready"
    assert not get_model(again.store, started.name).is_default  # not asked to promote
    with pytest.raises(NotFoundError, match="No fine-tuning job is running"):
        trainer_for(again, "openai").resume(TrainOptions(poll=0))
    listed = runner.invoke(app, ["--home", str(home), "models", "--json"])
    assert [m["name"] for m in json.loads(listed.stdout)] == [started.name]
    again.close()


def test_an_interrupted_watch_is_picked_up_where_it_stopped(built, openai_server):
    said: list[str] = []

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    trainer = trainer_for(built, "openai", said.append)
    trainer.sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        trainer.train(TrainOptions(poll=0))
    [running] = models(built.store, status="running")
    printed = len(said)
    trainer.sleep = lambda seconds: None
    [done] = trainer.resume(TrainOptions(poll=0))
    assert done.status == "ready" and done.name == running.name
    fresh = said[printed:]
    assert not any("Created fine-tuning job: " in line for line in fresh)  # not shown twice
    assert any("successfully completed" in line for line in fresh)


def test_a_failed_job_is_one_clear_error(built, openai_server):
    trainer = trainer_for(built, "openai")
    model = trainer.train(TrainOptions(wait=False))
    openai_server.jobs[model.job_id]["status"] = "failed"
    openai_server.jobs[model.job_id]["error"] = {"message": "bad data", "code": "x",
                                                 "param": None}
    with pytest.raises(UnderstudyError, match="failed: bad data"):
        trainer.resume(TrainOptions(poll=0))
    assert get_model(built.store, model.name).status == "failed"
