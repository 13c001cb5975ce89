"""Training data: build examples from the store, check them, and export them to files."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..llm import DEFAULT_OPENAI_MODEL
from ..llm.openai_engine import completion_model
from ..records import Example
from ..store.training import delete_examples, examples, update_examples
from ..workspace import Workspace
from .build import BUILDERS, BuildOptions, BuildReport, build
from .check import ID, Report, check_records, estimate, record_format
from .conversations import conversation_records
from .formats import (
    CONVERSATION,
    FORMATS,
    example_from_record,
    export,
    output_files,
    read_jsonl,
    record,
    write_jsonl,
)
from .split import VALID_SHARE, assign_splits, fraction

__all__ = [
    "BUILDERS", "FORMATS", "BuildOptions", "BuildReport", "Report", "assign_splits", "build",
    "check_file", "check_workspace", "export", "export_workspace", "format_for",
]


def format_for(workspace: Workspace, model: str) -> str:
    """"completion" for models that take one prompt string, else "chat"."""
    return "completion" if completion_model(model, workspace.settings) else "chat"


def _model(workspace: Workspace, model: str | None) -> str:
    return model or workspace.settings.get("model") or DEFAULT_OPENAI_MODEL


def _stored(workspace: Workspace) -> list[Example]:
    found = examples(workspace.store)
    if not found:
        raise InputError("No training examples yet: run 'understudy dataset build' first")
    return found


def check_workspace(workspace: Workspace, model: str | None = None, fix: bool = False,
                    epochs: int | None = None) -> Report:
    """Check the stored examples as the format `model` trains on; with `fix`, write the safe
    fixes back to the store. The estimate covers the training split."""
    model = _model(workspace, model)
    fmt = format_for(workspace, model)
    stored = _stored(workspace)
    by_id = {e.id: e for e in stored}
    records = [{**record(e, fmt, mask=False), ID: e.id} for e in stored]
    problems, fixed = check_records(records, model, fix=fix)
    if fix:
        kept = [example_from_record(r, by_id[r[ID]]) for r in fixed
                if isinstance(r, dict) and r.get(ID) in by_id]
        gone = set(by_id) - {e.id for e in kept}
        delete_examples(workspace.store, gone)
        update_examples(workspace.store, kept)
        stored = kept
    train = [record(e, fmt) for e in stored if e.split == "train"]
    prices = workspace.settings.get("prices")
    return Report(fmt, model, problems, estimate(train, model, epochs, prices))


def check_file(path: Path | str, model: str | None = None, fix: bool = False,
               epochs: int | None = None) -> Report:
    """Check an exported JSONL file; with `fix`, rewrite it with the safe fixes applied."""
    model = model or DEFAULT_OPENAI_MODEL
    records = read_jsonl(Path(path))
    problems, fixed = check_records(records, model, fix=fix)
    if fix:
        write_jsonl(Path(path), fixed)
    fmt = record_format(fixed)
    return Report(fmt, model, problems, estimate(fixed, model, epochs))


def export_workspace(workspace: Workspace, fmt: str, output: Path | str) -> dict[str, int]:
    """Write the stored examples as train.jsonl and valid.jsonl of `fmt` into `output`; the
    conversation format is made from the threads' turns, split as their examples are."""
    if fmt != CONVERSATION:
        return export(_stored(workspace), fmt, output)
    splits = {e.thread_id: e.split for e in examples(workspace.store) if e.thread_id is not None}
    records = conversation_records(
        workspace.store.threads(), splits,
        lambda t: "valid" if fraction(f"thread:{t.source}:{t.external_id}") < VALID_SHARE
        else "train")
    if not any(records.values()):
        raise InputError("No conversations to export: sync threads with team replies first")
    return {split: write_jsonl(folder, records[split])
            for split, folder in output_files(output).items()}
