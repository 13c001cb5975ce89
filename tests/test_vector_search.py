"""Vectors searched in PostgreSQL (pgvector, HNSW): the same hits as the exact search in
memory, filters that still give k items, and knowledge another process synced."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import make_thread

from understudy import index as index_module
from understudy.index import KnowledgeIndex
from understudy.records import Passage
from understudy.store import Store

SRC = Path(__file__).resolve().parents[1] / "src"
PRODUCTS = ["login page", "CSV export", "webhook", "backup job", "SAML sign-in", "search bar",
            "mobile app", "invoice PDF", "API token", "email digest", "calendar sync", "dark mode"]
PROBLEMS = ["times out", "is empty", "fails with a 500 error", "fills the disk", "loops forever",
            "shows the wrong language", "crashes on start", "is very slow", "loses its settings",
            "sends duplicates", "cannot be opened", "ignores the proxy"]
PLACES = ["behind a proxy", "after the 3.2 upgrade", "on Windows", "for new users", "at night",
          "in Firefox", "on large accounts", "since Monday"]
QUERIES = ["The CSV export gives an empty file after upgrading",
           "webhook deliveries fail with a server error",
           "SAML login keeps redirecting in a loop",
           "the backup fills our disk every night",
           "app crashes when it starts on Windows"]


def _threads(count: int) -> list:
    rng = random.Random(7)
    threads = []
    for number in range(1, count + 1):
        product, problem, place = rng.choice(PRODUCTS), rng.choice(PROBLEMS), rng.choice(PLACES)
        title = f"{product.capitalize()} {problem} {place}"
        question = f"Our {product} {problem} {place}. Ticket {number}: what should we change?"
        answer = f"For the {product}, set option {rng.randint(1, 99)} and restart the worker."
        threads.append(make_thread(number, title, question, [("dev", answer, True)],
                                   created_at=f"2024-{number % 12 + 1:02d}-10T10:00:00Z"))
    return threads


def _index(target: str, embedder, threads: list) -> KnowledgeIndex:
    store = Store(target)
    for thread in threads:
        store.upsert_thread(thread)
    for number, product in enumerate(PRODUCTS):
        store.upsert_passage(Passage("docs", f"{number}.md", product.capitalize(),
                                     f"How to configure the {product} and what its options do."))
    index = KnowledgeIndex(store, embedder)
    index.build()
    return index


def _hits(index: KnowledgeIndex, query: str, **filters) -> tuple[list[str], np.ndarray]:
    hits = index.search(query, **filters)
    return [hit.item.key for hit in hits], np.array([hit.score for hit in hits])


def test_postgresql_search_gives_the_hits_of_the_exact_search(postgres, tmp_path, embedder,
                                                              monkeypatch):
    threads = _threads(400)
    exact = _index(str(tmp_path / "exact.db"), embedder, threads)
    in_db = _index(postgres.new_database(), embedder, threads)
    assert exact.matrix is not None and in_db.matrix is None  # no worker holds the vectors
    assert len(in_db.items) == len(exact.items) == 412

    # The HNSW index of the model answers the nearest-neighbour query (not a scan of every row).
    query = in_db.query_vector(QUERIES[0])
    with in_db.store.lock, in_db.store.db:
        in_db.store.db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in in_db.store.db.execute(
            "EXPLAIN SELECT item_key, embedding::vector(384) <=> ? AS distance FROM embeddings"
            f" WHERE model = '{embedder.name}' ORDER BY distance LIMIT 40", (query,)))
    assert "embeddings_hnsw_" in plan

    first_thread = next(h.item.thread_id for h in exact.search(QUERIES[1], k=5))
    cases = [
        {"k": 5}, {"k": 30},
        {"k": 10, "exclude_threads": {first_thread}},
        {"k": 5, "kinds": {"passage"}},
        {"k": 8, "exclude_keys": {h.item.key for h in exact.search(QUERIES[2], k=3)}},
        # Items written before March only: most of the nearest ones are left out.
        {"k": 10, "before": "2024-03-01T00:00:00Z"},
    ]
    # As few candidates as items asked for: the search must widen them to find the right k.
    for candidates, query, filters in itertools.product((8, 1), QUERIES, cases):
        monkeypatch.setattr(index_module, "CANDIDATES", candidates)
        keys, scores = _hits(exact, query, **filters)
        assert len(keys) == filters["k"]
        found, found_scores = _hits(in_db, query, **filters)
        # Same items in the same order; scores differ only in float32 rounding.
        assert found == keys, (candidates, query, filters)
        assert np.allclose(found_scores, scores, atol=1e-5)


def test_an_item_synced_by_another_process_is_found_without_restart(postgres, embedder):
    url = postgres.new_database()
    index = _index(url, embedder, _threads(60))
    question = "Pigeons nest in the rooftop antenna of the warehouse"
    assert all("Pigeons" not in hit.item.title for hit in index.search(question, k=5))

    code = (
        "import sys; from understudy.store import Store;"
        " from understudy.records import Message, Thread;"
        " m = [Message('q', 'customer', sys.argv[2], '2024-06-01T10:00:00Z', kind='question'),"
        "      Message('a', 'dev', 'Call the facilities team to fit a net.',"
        "              '2024-06-01T11:00:00Z', kind='reply', is_team=True)];"
        " Store(sys.argv[1]).upsert_thread(Thread('gitlab', 'acme/app#999', 'https://x/999',"
        "  'Pigeons in the antenna', 'closed', '2024-06-01T10:00:00Z', messages=m))"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-c", code, url, question], check=True, env=env,
                   timeout=120)

    assert index.refresh()
    top = index.search(question, k=1)[0]
    assert top.item.title == "Pigeons in the antenna"
    assert top.cosine == pytest.approx(float(index.query_vector(question) @ embedder.encode(
        [top.item.embed_text])[0]), abs=1e-4)


def test_a_copied_workspace_searches_its_vectors_without_embedding_again(postgres, tmp_path,
                                                                       embedder):
    from understudy.store.copy import copy_store

    threads = _threads(80)
    sqlite = _index(str(tmp_path / "understudy.db"), embedder, threads)
    url = postgres.new_database()
    copy_store(sqlite.store, Store(url))
    copied = KnowledgeIndex(Store(url), embedder)
    stats = copied.build()
    assert (stats.items, stats.embedded) == (len(sqlite.items), 0)
    for query in QUERIES:
        assert _hits(copied, query, k=5)[0] == _hits(sqlite, query, k=5)[0]


def test_changed_vectors_are_searched_as_changed(postgres):
    """A vector rewritten under the same key is never searched by its old value."""
    store = Store(postgres.new_database())
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.put_embeddings("toy", [(f"k{i}", "h", v.tobytes()) for i, v in enumerate(vectors)])
    assert store.prepare_vector_search("toy", 8) == 50
    assert store.nearest("toy", 8, vectors[3], 1)[0][0] == "k3"
    store.put_embeddings("toy", [("k3", "h2", (-vectors[3]).tobytes())])
    assert store.prepare_vector_search("toy", 8) == 1
    assert store.nearest("toy", 8, vectors[3], 50)[-1][0] == "k3"
    assert dict(store.cosines("toy", vectors[3], ["k3"]))["k3"] == pytest.approx(-1.0, abs=1e-5)


def test_a_database_that_cannot_have_pgvector_is_one_line(postgres, home, monkeypatch):
    """A role that owns its database but may not create the extension: what to do, no trace."""
    import psycopg
    from factories import run_cli

    role = f"plain_{os.getpid()}"
    with psycopg.connect(postgres.uri, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"CREATE DATABASE {role} OWNER {role}")
    url = postgres.uri.replace("postgres:@", f"{role}:@", 1).replace("/postgres?", f"/{role}?", 1)
    monkeypatch.setenv("UNDERSTUDY_DATABASE_URL", url)
    code, _, err = run_cli(monkeypatch, "drafts")
    assert code == 1 and "Traceback" not in err
    assert 'cannot search vectors (permission denied to create extension "vector")' in err
    assert "CREATE EXTENSION vector" in err
