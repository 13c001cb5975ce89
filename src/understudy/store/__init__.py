"""The store: threads, messages, passages, drafts, cursors and review state.

One SQLite file by default; a `postgresql://` URL (UNDERSTUDY_DATABASE_URL or `database_url`)
puts the same tables, through the same queries and migrations, in PostgreSQL, where the knowledge
index's vectors are also searched (store/vectors.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..records import Draft, Message, Passage, SourceRef, Thread
from .migrations import migrate, now
from .postgres import PostgresConnection, is_postgres_url
from .sending import SendQueries
from .snippets import SnippetQueries
from .vectors import VectorQueries

__all__ = ["MAX_ID", "Store", "now"]

MAX_ID = 2**63 - 1  # SQLite's largest INTEGER: a bigger id names no row and cannot be bound


class SQLiteConnection(sqlite3.Connection):
    dialect = "sqlite"


class Store(SnippetQueries, SendQueries, VectorQueries):
    """One workspace's database. Safe to share between threads (one writer at a time).

    `target` is a SQLite file (or ":memory:") or a `postgresql://` URL.
    """

    def __init__(self, target: Path | str):
        self.url = str(target) if is_postgres_url(target) else None
        self.lock = threading.RLock()
        if self.url:
            self.path = None
            self.db: Any = PostgresConnection(self.url)
        else:
            self.path = Path(target)
            if str(target) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(target), check_same_thread=False, timeout=30,
                                      factory=SQLiteConnection)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
        migrate(self.db)

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    # -- threads -------------------------------------------------------------------------

    def upsert_thread(self, thread: Thread) -> str:
        """Insert or update by (source, external_id); returns 'new', 'updated' or 'unchanged'."""
        from ..text import markdown_to_text

        digest = thread.content_hash()
        with self.lock, self.db:
            row = self.db.execute(
                "SELECT id, content_hash FROM threads WHERE source = ? AND external_id = ?",
                (thread.source, thread.external_id),
            ).fetchone()
            if row and row["content_hash"] == digest:
                thread.id = row["id"]
                return "unchanged"
            values = (
                thread.url, thread.title, thread.state, thread.created_at, thread.updated_at,
                thread.project, json.dumps(thread.labels), json.dumps(thread.meta), digest, now(),
            )
            if row:
                thread.id = row["id"]
                self.db.execute(
                    "UPDATE threads SET url=?, title=?, state=?, created_at=?, updated_at=?,"
                    " project=?, labels=?, meta=?, content_hash=?, synced_at=? WHERE id=?",
                    (*values, thread.id),
                )
                self.db.execute("DELETE FROM messages WHERE thread_id = ?", (thread.id,))
            else:
                cursor = self.db.execute(
                    "INSERT INTO threads (source, external_id, url, title, state, created_at,"
                    " updated_at, project, labels, meta, content_hash, synced_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (thread.source, thread.external_id, *values),
                )
                thread.id = cursor.lastrowid
            for position, message in enumerate(thread.messages):
                if not message.text:
                    message.text = markdown_to_text(message.body)
                cursor = self.db.execute(
                    "INSERT INTO messages (thread_id, position, external_id, author, body, text,"
                    " created_at, kind, is_team, is_bot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread.id, position, message.external_id, message.author, message.body,
                        message.text, message.created_at, message.kind, int(message.is_team),
                        int(message.is_bot),
                    ),
                )
                message.id = cursor.lastrowid
            return "updated" if row else "new"

    def get_thread(self, thread_id: int) -> Thread:
        row = None
        if 0 < thread_id <= MAX_ID:
            row = self.db.execute("SELECT * FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No thread {thread_id}: list threads with 'understudy drafts'")
        return self._thread(row)

    def get_threads(self, thread_ids: list[int]) -> dict[int, Thread]:
        """The threads of `thread_ids` that exist, by id: two queries, not two per thread."""
        ids = list(dict.fromkeys(thread_ids))
        messages = self._messages_by_thread(ids)
        found = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM threads WHERE id IN ({marks})", chunk):
                found[row["id"]] = self._thread(row, messages.get(row["id"], []))
        return found

    def find_thread(self, source: str, external_id: str) -> Thread | None:
        row = self.db.execute(
            "SELECT * FROM threads WHERE source = ? AND external_id = ?", (source, external_id)
        ).fetchone()
        return self._thread(row) if row else None

    def threads(
        self,
        source: str | None = None,
        state: str | None = None,
        project: str | None = None,
    ) -> Iterator[Thread]:
        where, params = [], []
        for column, value in (("source", source), ("state", state), ("project", project)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM threads"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY created_at, id", params).fetchall()
        messages = self._messages_by_thread([row["id"] for row in rows])
        for row in rows:
            yield self._thread(row, messages.get(row["id"], []))

    def answered_threads(self) -> Iterator[Thread]:
        """Threads with a team reply, in threads() order, with only what a knowledge item needs."""
        cursor = self.db.cursor()
        cursor.row_factory = None  # plain tuples: a Row per message costs more than the query
        rows = cursor.execute(
            "SELECT t.id, t.source, t.external_id, t.url, t.title, t.created_at, m.external_id,"
            " m.author, m.body, m.text, m.created_at, m.kind, m.is_team, m.is_bot, m.id"
            " FROM threads t JOIN messages m ON m.thread_id = t.id WHERE EXISTS (SELECT 1"
            " FROM messages r WHERE r.thread_id = t.id AND r.position > 0 AND r.is_team = 1)"
            " ORDER BY t.created_at, t.id, m.position"
        )
        thread = None
        for r in rows:
            if thread is None or thread.id != r[0]:
                if thread is not None:
                    yield thread
                thread = Thread(r[1], r[2], r[3], r[4], created_at=r[5], id=r[0])
            thread.messages.append(Message(r[6], r[7], r[8], r[10], r[11], bool(r[12]),
                                           bool(r[13]), r[9], r[14]))
        if thread is not None:
            yield thread

    def knowledge_fingerprint(self) -> tuple:
        """Changes whenever answered threads, doc passages or code snippets are added, changed
        or removed, by this process or another: how a running index knows it is behind. Only
        threads with a team reply count (what answered_threads reads): a question asked over
        the API or in Slack is stored as a thread and must not make a busy server rebuild."""
        answered = ("FROM threads t WHERE EXISTS (SELECT 1 FROM messages r WHERE"
                    " r.thread_id = t.id AND r.position > 0 AND r.is_team = 1)")
        row = self.db.execute(
            f"SELECT (SELECT COUNT(*) {answered}), (SELECT MAX(t.synced_at) {answered}),"
            " (SELECT COUNT(*) FROM passages), (SELECT MAX(id) FROM passages),"
            " (SELECT SUM(LENGTH(content_hash) + LENGTH(text)) FROM passages),"
            " (SELECT COUNT(*) FROM snippets), (SELECT MAX(id) FROM snippets),"
            " (SELECT SUM(LENGTH(content_hash) + LENGTH(code)) FROM snippets)"
        ).fetchone()
        return tuple(row)

    def count(self, table: str) -> int:
        assert table in {"threads", "messages", "passages", "snippets", "drafts", "embeddings"}
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def _messages_by_thread(self, ids: list[int]) -> dict[int, list[Message]]:
        out: dict[int, list[Message]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT * FROM messages WHERE thread_id IN ({marks}) ORDER BY thread_id, position",
                chunk,
            ):
                out.setdefault(row["thread_id"], []).append(_message(row))
        return out

    def _thread(self, row: sqlite3.Row, messages: list[Message] | None = None) -> Thread:
        if messages is None:
            messages = self._messages_by_thread([row["id"]]).get(row["id"], [])
        return Thread(
            source=row["source"], external_id=row["external_id"], url=row["url"],
            title=row["title"], state=row["state"], created_at=row["created_at"],
            updated_at=row["updated_at"], project=row["project"], labels=json.loads(row["labels"]),
            meta=json.loads(row["meta"]), messages=messages, id=row["id"],
        )

    # -- passages ------------------------------------------------------------------------

    def upsert_passage(self, passage: Passage) -> str:
        digest = passage.content_hash()
        with self.lock, self.db:
            row = self.db.execute(
                "SELECT id, content_hash FROM passages WHERE source=? AND path=? AND heading=?",
                (passage.source, passage.path, passage.heading),
            ).fetchone()
            if row and row["content_hash"] == digest:
                passage.id = row["id"]
                return "unchanged"
            if row:
                passage.id = row["id"]
                self.db.execute(
                    "UPDATE passages SET text=?, url=?, content_hash=? WHERE id=?",
                    (passage.text, passage.url, digest, passage.id),
                )
                return "updated"
            cursor = self.db.execute(
                "INSERT INTO passages (source, path, heading, text, url, content_hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (passage.source, passage.path, passage.heading, passage.text, passage.url, digest),
            )
            passage.id = cursor.lastrowid
            return "new"

    def passages(self, source: str | None = None) -> list[Passage]:
        sql, params = "SELECT * FROM passages", []
        if source:
            sql, params = sql + " WHERE source = ?", [source]
        return [
            Passage(r["source"], r["path"], r["heading"], r["text"], r["url"], r["id"])
            for r in self.db.execute(sql + " ORDER BY id", params)
        ]

    def delete_passages(self, source: str, keep_paths: set[str]) -> int:
        """Remove passages of `source` whose file is gone; returns how many."""
        with self.lock, self.db:
            rows = self.db.execute("SELECT id, path FROM passages WHERE source = ?", (source,))
            gone = [r["id"] for r in rows if r["path"] not in keep_paths]
            self.db.executemany("DELETE FROM passages WHERE id = ?", [(i,) for i in gone])
        return len(gone)

    def delete_passage_ids(self, ids: list[int]) -> int:
        """Remove passages by id (sections gone from a page that is still there)."""
        with self.lock, self.db:
            self.db.executemany("DELETE FROM passages WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    # -- drafts --------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> Draft:
        sources = json.dumps([s.__dict__ for s in draft.sources])
        stamp = now()
        with self.lock, self.db:
            if draft.id is None:
                draft.created_at = draft.created_at or stamp
                draft.updated_at = stamp
                cursor = self.db.execute(
                    "INSERT INTO drafts (thread_id, text, backend, model, confidence, abstained,"
                    " sources, status, final_text, sent_to, sent_id, error, created_at,"
                    " updated_at, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        draft.thread_id, draft.text, draft.backend, draft.model,
                        draft.confidence, int(draft.abstained), sources, draft.status,
                        draft.final_text, draft.sent_to, draft.sent_id, draft.error,
                        draft.created_at, draft.updated_at, draft.language,
                    ),
                )
                draft.id = cursor.lastrowid
            else:
                draft.updated_at = stamp
                # What a send claimed or recorded stays: a copy read before it cannot undo it.
                self.db.execute(
                    "UPDATE drafts SET text=?, backend=?, model=?, confidence=?, abstained=?,"
                    " sources=?, status=CASE WHEN status IN ('sending', 'sent') THEN status"
                    " ELSE ? END, final_text=CASE WHEN status IN ('sending', 'sent')"
                    " THEN final_text ELSE ? END, sent_to=COALESCE(sent_to, ?),"
                    " sent_id=COALESCE(sent_id, ?), error=?, updated_at=? WHERE id=?",
                    (
                        draft.text, draft.backend, draft.model, draft.confidence,
                        int(draft.abstained), sources, draft.status, draft.final_text,
                        draft.sent_to, draft.sent_id, draft.error, draft.updated_at, draft.id,
                    ),
                )
        return draft

    def get_draft(self, draft_id: int) -> Draft:
        row = None
        if 0 < draft_id <= MAX_ID:
            row = self.db.execute(
                "SELECT d.*, t.url AS thread_url, t.title AS thread_title FROM drafts d"
                " JOIN threads t ON t.id = d.thread_id WHERE d.id = ?",
                (draft_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"No draft {draft_id}: list drafts with 'understudy drafts'")
        return _draft(row)

    def drafts(self, status: str | None = None, thread_id: int | None = None) -> list[Draft]:
        where, params = [], []
        if status:
            where.append("d.status = ?")
            params.append(status)
        if thread_id is not None:
            where.append("d.thread_id = ?")
            params.append(thread_id)
        sql = (
            "SELECT d.*, t.url AS thread_url, t.title AS thread_title FROM drafts d"
            " JOIN threads t ON t.id = d.thread_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_draft(r) for r in self.db.execute(sql + " ORDER BY d.id", params)]

    def threads_needing_answer(self) -> list[Thread]:
        """Open threads with no team reply and no draft yet, newest first."""
        rows = self.db.execute(
            "SELECT * FROM threads t WHERE t.state IN ('opened', 'open')"
            " AND t.source != 'file'"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id"
            "   AND m.is_team = 1 AND m.position > 0 AND m.kind = 'reply')"
            " AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.thread_id = t.id)"
            " ORDER BY t.created_at DESC, t.id DESC"
        ).fetchall()
        messages = self._messages_by_thread([r["id"] for r in rows])
        return [self._thread(r, messages.get(r["id"], [])) for r in rows]

    def threads_to_review(self) -> list[Thread]:
        """Open tickets waiting for a reviewer, oldest first.

        Those with a draft that is new or saved (and none sent or being sent), and those with
        no draft yet; none a team member answered. Tickets from files and chat questions are
        left out: they were answered where they were asked.
        """
        rows = self.db.execute(
            "SELECT * FROM threads t WHERE t.state IN ('opened', 'open', 'reopened')"
            " AND t.source != 'file'"
            " AND NOT (t.source = 'api' AND json_extract(t.meta, '$.chat') IS NOT NULL)"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id"
            "   AND m.is_team = 1 AND m.position > 0 AND m.kind = 'reply')"
            " AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.thread_id = t.id"
            "   AND d.status IN ('sent', 'sending'))"
            " AND (EXISTS (SELECT 1 FROM drafts d WHERE d.thread_id = t.id"
            "   AND d.status IN ('new', 'saved'))"
            "  OR NOT EXISTS (SELECT 1 FROM drafts d WHERE d.thread_id = t.id))"
            " ORDER BY t.created_at, t.id"
        ).fetchall()
        messages = self._messages_by_thread([r["id"] for r in rows])
        return [self._thread(r, messages.get(r["id"], [])) for r in rows]

    # -- cursors and review state --------------------------------------------------------

    def get_cursor(self, source: str, scope: str) -> str | None:
        row = self.db.execute(
            "SELECT value FROM cursors WHERE source = ? AND scope = ?", (source, scope)
        ).fetchone()
        return row["value"] if row else None

    def set_cursor(self, source: str, scope: str, value: str) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO cursors (source, scope, value) VALUES (?, ?, ?)"
                " ON CONFLICT (source, scope) DO UPDATE SET value = excluded.value",
                (source, scope, value),
            )

    def get_state(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM review_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO review_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def log_review(self, action: str, thread_id: int | None, draft_id: int | None = None) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO review_log (thread_id, draft_id, action, at) VALUES (?, ?, ?, ?)",
                (thread_id, draft_id, action, now()),
            )

    def review_log(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT r.*, t.title FROM review_log r LEFT JOIN threads t ON t.id = r.thread_id"
            " ORDER BY r.id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def reviewed_thread_ids(self) -> set[int]:
        rows = self.db.execute(
            "SELECT DISTINCT thread_id FROM review_log WHERE thread_id IS NOT NULL"
        )
        return {r[0] for r in rows}

    # -- embeddings ----------------------------------------------------------------------

    def embeddings(self, model: str) -> dict[str, tuple[str, bytes]]:
        rows = self.db.execute(
            "SELECT item_key, content_hash, vector FROM embeddings WHERE model = ?", (model,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def embedding_hashes(self, model: str) -> dict[str, str]:
        """Content hash of every item embedded with `model`, without the vectors."""
        rows = self.db.execute(
            "SELECT item_key, content_hash FROM embeddings WHERE model = ?", (model,)
        )
        return {r[0]: r[1] for r in rows}

    def embedding_vectors(self, model: str) -> Iterator[tuple[str, bytes]]:
        """(item key, vector) of every item embedded with `model`, streamed."""
        cursor = self.db.cursor()
        cursor.row_factory = None
        yield from cursor.execute(
            "SELECT item_key, vector FROM embeddings WHERE model = ?", (model,)
        )

    def put_embeddings(self, model: str, rows: list[tuple[str, str, bytes]]) -> None:
        with self.lock, self.db:
            self.db.executemany(
                "INSERT INTO embeddings (item_key, model, content_hash, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (item_key, model) DO UPDATE SET content_hash = excluded.content_hash,"
                " vector = excluded.vector",
                [(key, model, digest, vector) for key, digest, vector in rows],
            )

    def delete_embeddings(self, model: str, keys: list[str]) -> None:
        with self.lock, self.db:
            self.db.executemany(
                "DELETE FROM embeddings WHERE item_key = ? AND model = ?",
                [(k, model) for k in keys],
            )

    def index_snapshot(self, model: str, signature: str) -> tuple[bytes, bytes] | None:
        """(items, BM25) saved for `model` if they were built from what `signature` names."""
        row = self.db.execute(
            "SELECT items, bm25 FROM index_snapshots WHERE model = ? AND signature = ?",
            (model, signature),
        ).fetchone()
        return (bytes(row[0]), bytes(row[1])) if row else None

    def put_index_snapshot(self, model: str, signature: str, items: bytes, bm25: bytes) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO index_snapshots (model, signature, items, bm25, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET"
                " signature = excluded.signature, items = excluded.items,"
                " bm25 = excluded.bm25, created_at = excluded.created_at",
                (model, signature, items, bm25, now()),
            )

    # -- serving: API tokens, feedback, events seen --------------------------------------

    def add_token(self, name: str, token_hash: str, prefix: str, scope: str = "ask") -> int:
        """Record an API token by its hash (the token itself is never stored)."""
        with self.lock, self.db:
            cursor = self.db.execute(
                "INSERT INTO api_tokens (name, token_hash, prefix, scope, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, token_hash, prefix, scope, now()),
            )
        return cursor.lastrowid

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The live (not revoked) token with this hash, if any."""
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return dict(row) if row else None

    def touch_token(self, token_id: int) -> None:
        with self.lock, self.db:
            self.db.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now(), token_id)
            )

    def tokens(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, name, prefix, scope, created_at, last_used_at, revoked_at"
                " FROM api_tokens ORDER BY id"
            ).fetchall()
        return [dict(r) for r in rows]

    def revoke_token(self, ref: str) -> int:
        """Revoke live tokens by id or name; returns how many."""
        # Only ASCII digits of a size SQLite can hold are an id; anything else is a name.
        column = "id" if ref.isascii() and ref.isdigit() and len(ref) < 19 else "name"
        with self.lock, self.db:
            cursor = self.db.execute(
                f"UPDATE api_tokens SET revoked_at = ? WHERE {column} = ? AND revoked_at IS NULL",
                (now(), int(ref) if column == "id" else ref),
            )
        return cursor.rowcount

    def add_feedback(
        self, draft_id: int, rating: str | None, text: str | None, channel: str, author: str = ""
    ) -> int:
        with self.lock, self.db:
            cursor = self.db.execute(
                "INSERT INTO feedback (draft_id, rating, text, channel, author, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (draft_id, rating, text, channel, author, now()),
            )
        return cursor.lastrowid

    def feedback(self, draft_id: int | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM feedback", []
        if draft_id is not None:
            sql, params = sql + " WHERE draft_id = ?", [draft_id]
        with self.lock:
            return [dict(r) for r in self.db.execute(sql + " ORDER BY id", params).fetchall()]

    def mark_seen(self, source: str, event_id: str) -> bool:
        """Record a delivered event; False if it was seen before (a retry or duplicate)."""
        with self.lock, self.db:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO events_seen (source, event_id, at) VALUES (?, ?, ?)",
                (source, event_id, now()),
            )
        return cursor.rowcount == 1

    def draft_by_sent_id(self, sent_id: str) -> Draft | None:
        """The draft that was posted as message `sent_id` (e.g. a Slack message ts)."""
        with self.lock:
            row = self.db.execute(
                "SELECT d.*, t.url AS thread_url, t.title AS thread_title FROM drafts d"
                " JOIN threads t ON t.id = d.thread_id WHERE d.sent_id = ?"
                " ORDER BY d.id DESC LIMIT 1",
                (sent_id,),
            ).fetchone()
        return _draft(row) if row else None

    # -- calls to language models --------------------------------------------------------

    def log_call(self, call: dict[str, Any]) -> int:
        """Record one model call (columns of the calls table); returns its id."""
        row = {"created_at": now(), **call}
        for key in ("request", "response"):
            if row.get(key) is not None and not isinstance(row[key], str):
                row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self.lock, self.db:
            cursor = self.db.execute(
                f"INSERT INTO calls ({columns}) VALUES ({marks})", list(row.values())
            )
        return cursor.lastrowid

    def cached_call(self, request_hash: str) -> dict[str, Any] | None:
        """The latest successful call made for this request, or None."""
        row = self.db.execute(
            "SELECT * FROM calls WHERE request_hash = ? AND error IS NULL AND response IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (request_hash,),
        ).fetchone()
        return _call(row) if row else None

    def calls(self, limit: int | None = None, backend: str | None = None) -> list[dict[str, Any]]:
        """Logged model calls, oldest first (the last `limit` ones when given)."""
        sql, params = "SELECT * FROM calls", []
        if backend:
            sql, params = sql + " WHERE backend = ?", [backend]
        sql += " ORDER BY id DESC"
        if limit:
            sql, params = sql + " LIMIT ?", [*params, limit]
        rows = self.db.execute(sql, params)
        return [_call(r) for r in reversed(rows.fetchall())]


def _message(row: sqlite3.Row) -> Message:
    return Message(
        external_id=row["external_id"], author=row["author"], body=row["body"],
        created_at=row["created_at"], kind=row["kind"], is_team=bool(row["is_team"]),
        is_bot=bool(row["is_bot"]), text=row["text"], id=row["id"],
    )


def _draft(row: sqlite3.Row) -> Draft:
    return Draft(
        thread_id=row["thread_id"], text=row["text"], backend=row["backend"], model=row["model"],
        confidence=row["confidence"], abstained=bool(row["abstained"]),
        sources=[SourceRef(**s) for s in json.loads(row["sources"])], status=row["status"],
        final_text=row["final_text"], sent_to=row["sent_to"], sent_id=row["sent_id"],
        error=row["error"], created_at=row["created_at"], updated_at=row["updated_at"],
        id=row["id"], thread_url=row["thread_url"], thread_title=row["thread_title"],
        claimed_by=row["claimed_by"], claimed_at=row["claimed_at"], language=row["language"],
    )

def _call(row: sqlite3.Row) -> dict[str, Any]:
    call = dict(row)
    for key in ("request", "response"):
        if call[key] is not None:
            call[key] = json.loads(call[key])
    call["cached"] = bool(call["cached"])
    return call
