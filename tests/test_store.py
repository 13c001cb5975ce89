"""The store, on SQLite and on PostgreSQL (the `database` fixture runs each test on both):
named migrations on a blank database and on an upgrade, idempotent upserts."""

from __future__ import annotations

import sqlite3

from factories import make_thread

from understudy.records import Draft, SourceRef
from understudy.store import Store
from understudy.store.migrations import MIGRATIONS, applied, migrate
from understudy.store.postgres import PostgresConnection, is_postgres_url


def test_blank_database_gets_every_migration(database):
    store = Store(database)
    assert applied(store.db) == [name for name, _ in MIGRATIONS]
    if store.dialect == "sqlite":
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    else:
        assert store.db.execute("SELECT current_setting('server_version_num')").fetchone()[0]


def test_upgrade_from_the_first_schema_keeps_data(database):
    path = database
    db = PostgresConnection(database) if is_postgres_url(database) else sqlite3.connect(database)
    first = MIGRATIONS[0][0]
    assert migrate(db, upto=first) == [first]
    db.execute(
        "INSERT INTO threads (source, external_id, title, content_hash, synced_at)"
        " VALUES ('gitlab', 'a/b#1', 'Old thread', 'x', '2024-01-01')"
    )
    db.commit()
    db.close()

    store = Store(path)
    assert applied(store.db) == [name for name, _ in MIGRATIONS]
    assert [t.title for t in store.threads()] == ["Old thread"]
    assert store.count("passages") == 0  # tables of later migrations exist


def test_sync_twice_changes_nothing(database):
    store = Store(database)
    thread = make_thread(1, "Export fails", "CSV export crashes", [("dev", "Set X=1", True)])
    assert store.upsert_thread(thread) == "new"
    again = make_thread(1, "Export fails", "CSV export crashes", [("dev", "Set X=1", True)])
    assert store.upsert_thread(again) == "unchanged"
    assert again.id == thread.id
    changed = make_thread(1, "Export fails", "CSV export crashes",
                          [("dev", "Set X=1", True), ("bob", "works, thanks", False)])
    assert store.upsert_thread(changed) == "updated"
    stored = store.get_thread(thread.id)
    assert [m.body for m in stored.messages] == ["CSV export crashes", "Set X=1", "works, thanks"]
    assert stored.messages[1].is_team and not stored.messages[2].is_team
    assert store.count("threads") == 1


def test_draft_round_trip_and_needing_answer(database):
    store = Store(database)
    answered = make_thread(1, "A", "q", [("dev", "answer", True)], state="opened")
    waiting = make_thread(2, "B", "q2", [("alice", "me too", False)], state="opened")
    closed = make_thread(3, "C", "q3", [], state="closed")
    for t in (answered, waiting, closed):
        store.upsert_thread(t)
    assert [t.id for t in store.threads_needing_answer()] == [waiting.id]

    draft = store.save_draft(Draft(waiting.id, "try this", "retrieval", confidence=0.7,
                                   sources=[SourceRef("thread", "thread:1", "u", "A", 0.8, 1)]))
    loaded = store.get_draft(draft.id)
    assert loaded.text == "try this" and loaded.sources[0].score == 0.8
    assert loaded.thread_title == "B"
    assert store.threads_needing_answer() == []
    loaded.final_text, loaded.status = "edited", "saved"
    store.save_draft(loaded)
    assert [d.final_text for d in store.drafts(status="saved")] == ["edited"]


def test_cursors_and_state_survive_reopen(database):
    store = Store(database)
    store.set_cursor("gitlab", "acme/app", "2024-05-01T00:00:00Z")
    store.set_state("queue", [3, 1, 2])
    store.close()
    store = Store(database)
    assert store.get_cursor("gitlab", "acme/app") == "2024-05-01T00:00:00Z"
    assert store.get_state("queue") == [3, 1, 2]
    assert store.get_cursor("gitlab", "other") is None


def test_home_that_is_a_file_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from understudy.cli import app

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = CliRunner().invoke(app, ["--home", str(not_a_folder), "drafts"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: ") and "not a folder" in result.output
    assert "Traceback" not in result.output


def test_threads_read_by_id_in_one_go(database):
    store = Store(database)
    for number in (1, 2, 3):
        store.upsert_thread(make_thread(number, f"Topic {number}", f"Question {number}"))
    ids = [store.find_thread("gitlab", f"acme/app#{n}").id for n in (3, 1)]
    found = store.get_threads([*ids, 999, ids[0]])
    assert set(found) == set(ids)
    for thread_id in ids:
        one = store.get_thread(thread_id)
        assert found[thread_id].title == one.title
        assert [m.text for m in found[thread_id].messages] == [m.text for m in one.messages]

