"""The schema, as named migrations applied in order and recorded in the `migrations` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []
MIGRATION_LOCK = 0x756E6465  # the advisory lock key migrations hold on PostgreSQL


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_threads_messages_drafts(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE threads (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'opened',
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT '',
            project TEXT NOT NULL DEFAULT '',
            labels TEXT NOT NULL DEFAULT '[]',
            meta TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            UNIQUE (source, external_id)
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            external_id TEXT NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'reply',
            is_team INTEGER NOT NULL DEFAULT 0,
            is_bot INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX messages_thread ON messages(thread_id, position);
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,
            thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            confidence REAL NOT NULL DEFAULT 0,
            abstained INTEGER NOT NULL DEFAULT 0,
            sources TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'new',
            final_text TEXT,
            sent_to TEXT,
            sent_id TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX drafts_thread ON drafts(thread_id);
        """
    )


@migration
def m002_passages(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            path TEXT NOT NULL,
            heading TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            content_hash TEXT NOT NULL,
            UNIQUE (source, path, heading)
        );
        """
    )


@migration
def m003_embeddings(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE embeddings (
            item_key TEXT NOT NULL,
            model TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (item_key, model)
        );
        """
    )


@migration
def m004_review_and_cursors(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE cursors (
            source TEXT NOT NULL,
            scope TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (source, scope)
        );
        CREATE TABLE review_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE review_log (
            id INTEGER PRIMARY KEY,
            thread_id INTEGER REFERENCES threads(id) ON DELETE CASCADE,
            draft_id INTEGER,
            action TEXT NOT NULL,
            at TEXT NOT NULL
        );
        """
    )


@migration
def m005_calls(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            backend TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            request_hash TEXT NOT NULL,
            request TEXT NOT NULL,
            response TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            cached INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX calls_request ON calls(request_hash);
        """
    )


@migration
def m006_serve(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
            rating TEXT,
            text TEXT,
            channel TEXT NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        CREATE INDEX feedback_draft ON feedback(draft_id);
        CREATE TABLE events_seen (
            source TEXT NOT NULL,
            event_id TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (source, event_id)
        );
        CREATE INDEX drafts_sent_id ON drafts(sent_id);
        """
    )


@migration
def m007_examples_models(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE examples (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            thread_id INTEGER REFERENCES threads(id) ON DELETE CASCADE,
            message_id INTEGER,
            draft_id INTEGER,
            prompt TEXT NOT NULL,
            completion TEXT NOT NULL,
            split TEXT NOT NULL DEFAULT 'train',
            source TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX examples_kind ON examples(kind, split);
        CREATE INDEX examples_thread ON examples(thread_id);
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            backend TEXT NOT NULL,
            base_model TEXT NOT NULL DEFAULT '',
            path TEXT,
            remote_id TEXT,
            job_id TEXT,
            status TEXT NOT NULL DEFAULT 'ready',
            metrics TEXT NOT NULL DEFAULT '{}',
            is_default INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX models_backend ON models(backend, is_default);
        """
    )


@migration
def m008_snippets(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE snippets (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            path TEXT NOT NULL,
            qualified_name TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            code TEXT NOT NULL,
            docstring TEXT NOT NULL DEFAULT '',
            decorators TEXT NOT NULL DEFAULT '[]',
            start_line INTEGER NOT NULL DEFAULT 0,
            end_line INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL,
            note TEXT,
            note_model TEXT,
            note_usage TEXT NOT NULL DEFAULT '{}',
            UNIQUE (source, path, qualified_name)
        );
        CREATE INDEX snippets_path ON snippets(source, path);
        """
    )


@migration
def m009_draft_send_claims(db: sqlite3.Connection) -> None:
    # A send claims its draft (status 'sending') before it posts: who claimed it and when, so a
    # second sender backs off and a crashed one's claim can be told stale.
    db.executescript(
        """
        ALTER TABLE drafts ADD COLUMN claimed_by TEXT;
        ALTER TABLE drafts ADD COLUMN claimed_at TEXT;
        """
    )


@migration
def m010_token_scopes(db: sqlite3.Connection) -> None:
    # Tokens made before scopes existed could do everything: they stay admin so no client
    # breaks on upgrade; new tokens get the narrowest scope unless one is asked for.
    db.executescript(
        """
        ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'ask';
        UPDATE api_tokens SET scope = 'admin';
        """
    )


@migration
def m011_one_answer_per_message(db: sqlite3.Connection) -> None:
    # A claimed or sent draft records the customer message it answers ("thread:message"); the
    # unique index lets one draft of a thread, not two, be posted as the answer to it.
    db.executescript(
        """
        ALTER TABLE drafts ADD COLUMN answers TEXT;
        CREATE UNIQUE INDEX drafts_one_answer ON drafts (answers) WHERE answers IS NOT NULL;
        """
    )


@migration
def m012_index_snapshots(db: sqlite3.Connection) -> None:
    # What a restart would otherwise rebuild from every thread: the knowledge items and the
    # BM25 model, per embedding model, valid while the signature (what they were built from)
    # matches.
    db.executescript(
        """
        CREATE TABLE index_snapshots (
            model TEXT PRIMARY KEY,
            signature TEXT NOT NULL,
            items BLOB NOT NULL,
            bm25 BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@migration
def m013_draft_language(db: sqlite3.Connection) -> None:
    # The language of the ticket a draft answers, as detected when it was drafted: a reviewer
    # and the API see it, and it says which language the draft was asked to be written in.
    db.executescript("ALTER TABLE drafts ADD COLUMN language TEXT;")


@migration
def m014_vector_search(db: sqlite3.Connection) -> None:
    # PostgreSQL only: the knowledge index searches its vectors in the database (pgvector). Each
    # embedding keeps its bytes (what every other reader and `db copy` use) and gains a `vector`
    # copy that the store fills in before a search (the partial index finds the rows to fill at
    # once); a change of the bytes empties the copy, so it is never older than them. The HNSW
    # index is per embedding model (its dimension), made by the store when the model is first
    # searched.
    if getattr(db, "dialect", "sqlite") != "postgresql":
        return
    db.enable_vectors()
    db.executescript(
        """
        ALTER TABLE embeddings ADD COLUMN embedding vector;
        CREATE INDEX embeddings_unsearched ON embeddings (model) WHERE embedding IS NULL;
        CREATE FUNCTION embeddings_bytes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.embedding := NULL; RETURN NEW; END $$;
        CREATE TRIGGER embeddings_bytes_changed BEFORE UPDATE OF vector ON embeddings
            FOR EACH ROW WHEN (OLD.vector IS DISTINCT FROM NEW.vector)
            EXECUTE FUNCTION embeddings_bytes_changed();
        """
    )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def applied(db: sqlite3.Connection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    return [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")]


def migrate(db: sqlite3.Connection, upto: str | None = None) -> list[str]:
    """Apply the migrations not yet recorded (up to and including `upto`); returns their names.

    On PostgreSQL an advisory lock makes processes that start at once migrate one at a time.
    """
    if getattr(db, "dialect", "sqlite") == "postgresql":
        db.advisory_lock(MIGRATION_LOCK)
        try:
            return _migrate(db, upto)
        finally:
            db.advisory_unlock(MIGRATION_LOCK)
    return _migrate(db, upto)


def _migrate(db: sqlite3.Connection, upto: str | None) -> list[str]:
    done = set(applied(db))
    ran = []
    for name, fn in MIGRATIONS:
        if name not in done:
            with db:
                fn(db)
                db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now()))
            ran.append(name)
        if name == upto:
            break
    return ran
