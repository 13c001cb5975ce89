"""Queries of the training tables: examples built from the store, and registered models."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from ..records import Example, Model
from . import Store
from .migrations import now

MODEL_COLUMNS = ("name", "backend", "base_model", "path", "remote_id", "job_id", "status",
                 "metrics", "is_default", "created_at", "updated_at")


def replace_examples(store: Store, kinds: Iterable[str], examples: list[Example]) -> None:
    """Drop the examples of `kinds` and store `examples` in their place, in one transaction."""
    stamp = now()
    with store.lock, store.db:
        store.db.executemany("DELETE FROM examples WHERE kind = ?", [(k,) for k in kinds])
        for example in examples:
            example.created_at = example.created_at or stamp
            example.id = _insert_example(store.db, example)


def _insert_example(db: sqlite3.Connection, example: Example) -> int:
    cursor = db.execute(
        "INSERT INTO examples (kind, thread_id, message_id, draft_id, prompt, completion, split,"
        " source, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (example.kind, example.thread_id, example.message_id, example.draft_id,
         json.dumps(example.messages, ensure_ascii=False), example.completion, example.split,
         json.dumps(example.source, ensure_ascii=False), example.content_hash(),
         example.created_at),
    )
    return cursor.lastrowid


def examples(store: Store, kind: str | None = None, split: str | None = None) -> list[Example]:
    """Stored examples in id order, optionally of one kind and one split."""
    where, params = [], []
    for column, value in (("kind", kind), ("split", split)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT * FROM examples" + (" WHERE " + " AND ".join(where) if where else "")
    with store.lock:
        rows = store.db.execute(sql + " ORDER BY id", params).fetchall()
    return [_example(r) for r in rows]


def update_examples(store: Store, changed: list[Example]) -> None:
    """Write back the messages, completion and split of examples already stored."""
    with store.lock, store.db:
        store.db.executemany(
            "UPDATE examples SET prompt = ?, completion = ?, split = ?, content_hash = ?"
            " WHERE id = ?",
            [(json.dumps(e.messages, ensure_ascii=False), e.completion, e.split,
              e.content_hash(), e.id) for e in changed],
        )


def delete_examples(store: Store, ids: Iterable[int]) -> None:
    with store.lock, store.db:
        store.db.executemany("DELETE FROM examples WHERE id = ?", [(i,) for i in ids])


def _example(row: sqlite3.Row) -> Example:
    return Example(
        kind=row["kind"], messages=json.loads(row["prompt"]), completion=row["completion"],
        thread_id=row["thread_id"], message_id=row["message_id"], draft_id=row["draft_id"],
        split=row["split"], source=json.loads(row["source"]), created_at=row["created_at"],
        id=row["id"],
    )


def save_model(store: Store, model: Model) -> Model:
    """Insert or update a model by name."""
    stamp = now()
    model.created_at = model.created_at or stamp
    model.updated_at = stamp
    values = {c: getattr(model, c) for c in MODEL_COLUMNS}
    values["metrics"] = json.dumps(model.metrics, sort_keys=True)
    values["is_default"] = int(model.is_default)
    marks = ", ".join("?" * len(values))
    updates = ", ".join(f"{c} = excluded.{c}" for c in MODEL_COLUMNS if c != "created_at")
    with store.lock, store.db:
        store.db.execute(
            f"INSERT INTO models ({', '.join(values)}) VALUES ({marks})"
            f" ON CONFLICT (name) DO UPDATE SET {updates}",
            list(values.values()),
        )
        model.id = store.db.execute("SELECT id FROM models WHERE name = ?",
                                    (model.name,)).fetchone()[0]
    return model


def get_model(store: Store, name: str) -> Model | None:
    with store.lock:
        row = store.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
    return _model(row) if row else None


def models(store: Store, backend: str | None = None, status: str | None = None) -> list[Model]:
    """Registered models, oldest first."""
    where, params = [], []
    for column, value in (("backend", backend), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT * FROM models" + (" WHERE " + " AND ".join(where) if where else "")
    with store.lock:
        rows = store.db.execute(sql + " ORDER BY id", params).fetchall()
    return [_model(r) for r in rows]


def default_model(store: Store, backend: str) -> Model | None:
    """The model a backend uses by default, if one was promoted."""
    with store.lock:
        row = store.db.execute(
            "SELECT * FROM models WHERE backend = ? AND is_default = 1 AND status = 'ready'",
            (backend,),
        ).fetchone()
    return _model(row) if row else None


def set_default_model(store: Store, backend: str, name: str | None) -> None:
    """Make `name` the default of `backend` (None: back to the built-in default)."""
    with store.lock, store.db:
        store.db.execute("UPDATE models SET is_default = 0 WHERE backend = ?", (backend,))
        if name is not None:
            store.db.execute("UPDATE models SET is_default = 1, updated_at = ? WHERE name = ?",
                             (now(), name))


def _model(row: sqlite3.Row) -> Model:
    return Model(
        name=row["name"], backend=row["backend"], base_model=row["base_model"], path=row["path"],
        remote_id=row["remote_id"], job_id=row["job_id"], status=row["status"],
        metrics=json.loads(row["metrics"]), is_default=bool(row["is_default"]),
        created_at=row["created_at"], updated_at=row["updated_at"], id=row["id"],
    )
