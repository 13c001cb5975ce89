"""Named locks that hold across processes: one sync of a source at a time, one draft per ticket
delivery, whichever process or host does the work.

On PostgreSQL a lock is a session advisory lock taken on a connection of its own (so waiting
for it never blocks the store's other queries); on SQLite it is an flock on a file beside the
database, which every process on the host sees. A lock dies with its process, so a crash never
leaves one behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import UnderstudyError

if TYPE_CHECKING:
    from . import Store


class LockBusy(UnderstudyError):
    """Another process holds the lock and `wait` ran out."""


def _key(name: str) -> int:
    """A signed 64-bit advisory lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def named_lock(store: Store, name: str, wait: float | None = None) -> Iterator[None]:
    """Hold the lock `name` for the block; wait up to `wait` seconds (None: as long as it
    takes) for another holder, then raise LockBusy."""
    if store.dialect == "postgresql":
        with _advisory(store, name, wait):
            yield
    else:
        with _flock(store, name, wait):
            yield


@contextmanager
def _advisory(store: Store, name: str, wait: float | None) -> Iterator[None]:
    import psycopg

    key = _key(name)
    with psycopg.connect(store.url, autocommit=True) as connection:
        if wait is None:
            connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        else:
            deadline = time.monotonic() + wait
            while not connection.execute("SELECT pg_try_advisory_lock(%s)",
                                         (key,)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise LockBusy(name)
                time.sleep(0.05)
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextmanager
def _flock(store: Store, name: str, wait: float | None) -> Iterator[None]:
    if store.path is None or str(store.path) == ":memory:":
        yield  # one process owns an in-memory database
        return
    folder = store.path.parent / f"{store.path.name}.locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha256(name.encode()).hexdigest()[:24]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockBusy(name) from None
                    time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
