"""Moving a workspace between databases: copy every table, row ids included, and compare counts.

A copy is an upsert by primary key in batches, each batch committed: run again after an
interruption (or after more syncing into the source), it finishes the job and changes nothing
that is already the same. Ids are kept, so drafts, review log and vectors keep pointing at their
threads; on PostgreSQL the id sequences are moved past the copied ids afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UnderstudyError
from . import Store

BATCH = 1000
FIRST = ("threads", "drafts")  # referenced by other tables: copied before them


class CopyError(UnderstudyError):
    """The target refused rows (it holds other data under the same keys)."""


@dataclass
class TableCount:
    table: str
    source: int
    target: int

    @property
    def same(self) -> bool:
        return self.source == self.target


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)
    counts: list[TableCount] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(count.same for count in self.counts)

    def to_json(self) -> dict:
        return {"copied": self.copied, "complete": self.complete,
                "tables": {c.table: {"source": c.source, "target": c.target}
                           for c in self.counts}}


def tables(store: Store) -> list[str]:
    """The store's tables, the ones other tables refer to first (the migrations log left out)."""
    if store.dialect == "sqlite":
        rows = store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                " AND name NOT LIKE 'sqlite_%'")
    else:
        rows = store.db.execute("SELECT table_name FROM information_schema.tables"
                                " WHERE table_schema = current_schema()")
    names = sorted(r[0] for r in rows if r[0] != "migrations")
    return [*[n for n in FIRST if n in names], *[n for n in names if n not in FIRST]]


def _columns(store: Store, table: str) -> tuple[list[str], list[str]]:
    """(every column, the primary key's columns) of a table of a SQLite store."""
    info = store.db.execute(f"PRAGMA table_info({table})").fetchall()
    columns = [r[1] for r in info]
    key = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
    return columns, key


def counts(source: Store, target: Store) -> list[TableCount]:
    """Rows per table on both sides (a table the target lacks counts -1)."""
    there = set(tables(target))
    out = []
    for table in tables(source):
        mine = source.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        theirs = target.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] \
            if table in there else -1
        out.append(TableCount(table, mine, theirs))
    return out


def copy_store(source: Store, target: Store,
               progress: Callable[[str, int, int], None] | None = None) -> CopyReport:
    """Copy every row of the SQLite store `source` into `target` (upserts by primary key)."""
    report = CopyReport()
    for table in tables(source):
        columns, key = _columns(source, table)
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        if key:
            conflict = "DO UPDATE SET " + updates if updates else "DO NOTHING"
            sql += f" ON CONFLICT ({', '.join(key)}) {conflict}"
        total = source.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        order = ", ".join(key) if key else "rowid"
        done = 0
        cursor = source.db.execute(f"SELECT {names} FROM {table} ORDER BY {order}")
        while batch := cursor.fetchmany(BATCH):
            try:
                with target.lock, target.db:
                    target.db.executemany(sql, [tuple(row) for row in batch])
            except target.db.IntegrityError as exc:
                first = str(exc).strip().splitlines()[0]
                raise CopyError(
                    f"The target refused rows of {table} ({first}): it holds other data; copy "
                    f"into an empty database"
                ) from None
            done += len(batch)
            if progress:
                progress(table, done, total)
        report.copied[table] = done
        if progress and not total:
            progress(table, 0, 0)
    if target.dialect == "postgresql":
        _move_sequences(target)
    report.counts = counts(source, target)
    return report


def _move_sequences(target: Store) -> None:
    """Past the largest copied id, so rows made later in PostgreSQL get new ids."""
    for table in tables(target):
        if target.db.has_id(table):
            target.db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
