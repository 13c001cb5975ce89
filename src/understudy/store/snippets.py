"""Store queries for snippets: units of source code kept with an optional note."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator

from ..records import Snippet


class SnippetQueries:
    """Snippet upserts, reads and pruning; mixed into Store, which owns `db` and `lock`."""

    db: sqlite3.Connection
    lock: threading.RLock

    def upsert_snippet(self, snippet: Snippet) -> str:
        """Insert or update by (source, path, qualified_name): 'new', 'updated' or 'unchanged'.

        A snippet whose code changed loses its note (it described the old code); one that only
        moved keeps it.
        """
        digest = snippet.content_hash()
        with self.lock, self.db:
            row = self.db.execute(
                "SELECT id, content_hash, start_line, end_line FROM snippets"
                " WHERE source = ? AND path = ? AND qualified_name = ?",
                (snippet.source, snippet.path, snippet.qualified_name),
            ).fetchone()
            if row is None:
                cursor = self.db.execute(
                    "INSERT INTO snippets (source, path, qualified_name, language, kind, code,"
                    " docstring, decorators, start_line, end_line, content_hash, note, note_model,"
                    " note_usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (snippet.source, snippet.path, snippet.qualified_name, snippet.language,
                     snippet.kind, snippet.code, snippet.docstring,
                     json.dumps(snippet.decorators), snippet.start_line, snippet.end_line,
                     digest, snippet.note or None, snippet.note_model or None,
                     json.dumps(snippet.note_usage)),
                )
                snippet.id = cursor.lastrowid
                return "new"
            snippet.id = row[0]
            if row[1] == digest:
                if (row[2], row[3]) == (snippet.start_line, snippet.end_line):
                    return "unchanged"
                self.db.execute("UPDATE snippets SET start_line = ?, end_line = ? WHERE id = ?",
                                (snippet.start_line, snippet.end_line, snippet.id))
                return "updated"
            self.db.execute(
                "UPDATE snippets SET language = ?, kind = ?, code = ?, docstring = ?,"
                " decorators = ?, start_line = ?, end_line = ?, content_hash = ?, note = NULL,"
                " note_model = NULL, note_usage = '{}' WHERE id = ?",
                (snippet.language, snippet.kind, snippet.code, snippet.docstring,
                 json.dumps(snippet.decorators), snippet.start_line, snippet.end_line, digest,
                 snippet.id),
            )
            return "updated"

    def snippets(
        self, source: str | None = None, path: str | None = None, with_note: bool | None = None
    ) -> Iterator[Snippet]:
        """Stored snippets in id order, optionally of one source, one file, with or without note."""
        where, params = [], []
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if path is not None:
            where.append("path = ?")
            params.append(path)
        if with_note is not None:
            where.append("note IS NOT NULL" if with_note else "note IS NULL")
        sql = "SELECT * FROM snippets" + (" WHERE " + " AND ".join(where) if where else "")
        for r in self.db.execute(sql + " ORDER BY id", params).fetchall():
            yield Snippet(
                r["source"], r["path"], r["qualified_name"], r["language"], r["kind"], r["code"],
                r["docstring"], json.loads(r["decorators"]), r["start_line"], r["end_line"],
                r["note"] or "", r["note_model"] or "", json.loads(r["note_usage"]), r["id"],
            )

    def set_snippet_note(
        self, snippet_id: int, note: str, model: str, usage: dict | None = None
    ) -> None:
        """Attach a note (what the code does, in words) written by `model`."""
        with self.lock, self.db:
            self.db.execute(
                "UPDATE snippets SET note = ?, note_model = ?, note_usage = ? WHERE id = ?",
                (note, model, json.dumps(usage or {}), snippet_id),
            )

    def delete_snippets(
        self, source: str, scope: str, keep: set[tuple[str, str]], keep_paths: Iterable[str] = ()
    ) -> int:
        """Remove snippets of `source` under the path `scope` that a sync no longer produced.

        `keep` holds the (path, qualified_name) pairs just seen; every snippet of a file in
        `keep_paths` (present but unreadable this time) stays as it was.
        """
        kept_paths = set(keep_paths)
        with self.lock, self.db:
            rows = self.db.execute(
                "SELECT id, path, qualified_name FROM snippets WHERE source = ?"
                " AND (path = ? OR substr(path, 1, ?) = ?)",
                (source, scope, len(scope) + 1, scope + "/"),
            ).fetchall()
            gone = [(r[0],) for r in rows
                    if (r[1], r[2]) not in keep and r[1] not in kept_paths]
            self.db.executemany("DELETE FROM snippets WHERE id = ?", gone)
        return len(gone)
