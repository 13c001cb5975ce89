"""The knowledge index embeds only what changed, keeps rows in place, and filters searches."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
from factories import make_thread

from understudy.index import BM25, KnowledgeIndex, tokenize
from understudy.records import Passage
from understudy.store import Store

TEAM = [("support-ana", "Set http.timeout to 120 in config.yml and restart the worker.", True)]
TOPICS = [
    ("Login page times out behind a proxy", "The login page hangs when we sit behind a proxy."),
    ("CSV export is empty", "Exporting users to CSV gives an empty file since 3.2."),
    ("Webhook delivery fails with 500", "Every webhook delivery fails with a 500 error."),
    ("Backup job fills the disk", "The nightly backup job fills the disk and never cleans up."),
    ("SAML sign-in loops", "After SAML sign-in the browser keeps redirecting forever."),
]


class CountingEmbedder:
    """The real model, recording every text it is asked to embed."""

    def __init__(self, embedder):
        self.inner = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.texts: list[str] = []

    def encode(self, texts: list[str], **options) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts, **options)


@pytest.fixture
def counted(workspace, embedder):
    """A workspace with the five answered threads and a counting embedder on its index."""
    for number, (title, question) in enumerate(TOPICS, start=1):
        workspace.store.upsert_thread(make_thread(number, title, question, TEAM))
    spy = CountingEmbedder(embedder)
    workspace.index.use_encoder(spy)
    return workspace, spy


def test_unchanged_items_are_never_embedded_twice(counted, embedder):
    workspace, spy = counted
    first = workspace.index.build()
    assert (first.items, first.embedded, first.reused) == (5, 5, 0)
    assert len(spy.texts) == 5
    second = workspace.index.build()
    fresh = KnowledgeIndex(workspace.store, spy).build()
    assert (second.embedded, second.reused) == (0, 5)
    assert (fresh.embedded, fresh.reused) == (0, 5)
    assert len(spy.texts) == 5


def test_a_new_encoder_keeps_a_build_of_its_model_and_rebuilds_one_of_another(counted,
                                                                           embedder):
    workspace, spy = counted
    index = workspace.index
    index.build()
    query = TOPICS[0][1]
    first = index.query_vector(query)
    wrapped = CountingEmbedder(embedder)  # the same model, as the server wraps it
    index.use_encoder(wrapped)
    assert index.ready and index.embedder is wrapped
    assert np.array_equal(index.query_vector(query), first)
    assert wrapped.texts == [query]  # encoded again: a query vector belongs to its encoder
    other = CountingEmbedder(embedder)
    other.name = "another-model"
    index.use_encoder(other)
    assert not index.ready
    assert index.search(query, k=1)[0].item.title == TOPICS[0][0]
    assert index.ready and len(other.texts) == len(TOPICS) + 1  # every item, then the query
    assert len(workspace.store.embedding_hashes("another-model")) == len(TOPICS)


def test_rows_match_their_items_after_reuse(counted, embedder):
    workspace, _ = counted
    workspace.index.build()
    built = workspace.index.matrix.copy()
    reloaded = KnowledgeIndex(workspace.store, embedder)
    reloaded.build()
    assert np.array_equal(built, reloaded.matrix)
    direct = embedder.encode([item.embed_text for item in reloaded.items])
    assert np.allclose((direct * reloaded.matrix).sum(axis=1), 1.0, atol=1e-4)


def test_a_changed_thread_is_embedded_again(counted):
    workspace, spy = counted
    workspace.index.build()
    spy.texts.clear()
    edited = make_thread(2, TOPICS[1][0], "CSV export drops every column with unicode names.", TEAM)
    assert workspace.store.upsert_thread(edited) == "updated"
    stats = workspace.index.build()
    assert (stats.embedded, stats.reused) == (1, 4)
    assert spy.texts == [f"{TOPICS[1][0]}\nCSV export drops every column with unicode names."]
    hit = workspace.index.search("csv export unicode column names", k=1)[0]
    assert hit.item.thread_id == edited.id


def test_an_item_that_is_gone_is_removed(counted):
    workspace, _ = counted
    workspace.index.build()
    unanswered = make_thread(3, TOPICS[2][0], TOPICS[2][1], [("bob", "Same here.", False)])
    workspace.store.upsert_thread(unanswered)
    stats = workspace.index.build()
    assert (stats.items, stats.embedded, stats.removed) == (4, 0, 1)
    assert f"thread:{unanswered.id}" not in workspace.store.embedding_hashes(
        workspace.index.embedder.name)
    assert all(item.thread_id != unanswered.id for item in workspace.index.items)


def test_rebuild_embeds_everything_again(counted):
    workspace, spy = counted
    workspace.index.build()
    stats = workspace.index.build(rebuild=True)
    assert (stats.embedded, stats.reused) == (5, 0)
    assert len(spy.texts) == 10


def test_progress_reports_every_embedded_item(counted):
    workspace, _ = counted
    seen: list[tuple[int, int]] = []
    workspace.index.build(progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (5, 5)


def test_search_filters_by_time_thread_and_kind(counted):
    workspace, _ = counted
    workspace.store.upsert_passage(
        Passage("docs", "admin/proxy.md", "Proxy settings", "Set NO_PROXY for the login host.")
    )
    index = workspace.index
    index.build()
    query = "login page hangs behind a proxy"
    everything = index.search(query, k=10)
    assert {h.item.kind for h in everything} == {"thread", "passage"}
    login = next(h.item for h in everything if h.item.title == TOPICS[0][0])
    excluded = index.search(query, k=10, exclude_threads={login.thread_id})
    assert login.key not in {h.item.key for h in excluded}
    assert len(excluded) == len(everything) - 1
    passages = index.search(query, k=10, kinds={"passage"})
    assert [h.item.kind for h in passages] == ["passage"]
    cutoff = max(h.item.created_at for h in everything)
    earlier = index.search(query, k=10, before=cutoff)
    assert earlier and all(h.item.created_at and h.item.created_at < cutoff for h in earlier)
    undated_or_later = sum(1 for h in everything if not h.item.created_at < cutoff
                           or not h.item.created_at)
    assert len(earlier) == len(everything) - undated_or_later == 4
    assert index.search(query, k=10, before="2000-01-01") == []


def test_bm25_scores_match_bm25s_on_string_tokens():
    texts = [title + "\n" + question for title, question in TOPICS] + ["", "the and of"]
    ours = BM25(texts)
    reference = bm25s.BM25()
    reference.index([tokenize(t) or ["\x00"] for t in texts], show_progress=False)
    for query in ("proxy login hangs", "webhook 500 error delivery", "disk backup backup"):
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        assert np.array_equal(ours.scores(query), reference.get_scores(tokens))
    assert not ours.scores("zebra unicorn").any()


# -- the saved build: a restart loads items and BM25 instead of rebuilding them ---------------


def _hits(index, query: str) -> list[tuple[str, float]]:
    return [(h.item.key, round(h.score, 6)) for h in index.search(query, k=5)]


def test_a_restart_loads_the_saved_build_and_answers_the_same(database, counted, monkeypatch):
    import understudy.index as index_module

    workspace, spy = counted
    monkeypatch.setattr(index_module, "SNAPSHOT_MIN_ITEMS", 1)
    workspace.index.build()
    query = "webhook deliveries fail with an internal error"
    expected = _hits(workspace.index, query)

    restarted = KnowledgeIndex(Store(database), spy)
    monkeypatch.setattr(restarted, "collect", lambda: pytest.fail("rebuilt the items"))
    monkeypatch.setattr(index_module.BM25, "__init__",
                        lambda *a: pytest.fail("rebuilt BM25"))
    restarted.build()
    assert _hits(restarted, query) == expected
    assert [i.key for i in restarted.items] == [i.key for i in workspace.index.items]


def test_the_saved_build_is_not_used_after_a_sync_or_when_unreadable(database, counted,
                                                                    monkeypatch):
    import understudy.index as index_module

    workspace, spy = counted
    monkeypatch.setattr(index_module, "SNAPSHOT_MIN_ITEMS", 1)
    workspace.index.build()
    # Another process syncs a thread: the next start builds from the store and finds it.
    other = Store(database)
    other.upsert_thread(make_thread(9, "Dark mode resets", "Dark mode resets at every login.",
                                    TEAM))
    restarted = KnowledgeIndex(Store(database), spy)
    restarted.build()
    assert _hits(restarted, "dark mode resets at login")[0][0] == \
        f"thread:{other.find_thread('gitlab', 'acme/app#9').id}"
    # A damaged saved build is ignored (and replaced), never half-read.
    other.db.execute("UPDATE index_snapshots SET items = ?", (b"not zlib",))
    again = KnowledgeIndex(Store(database), spy)
    again.build()
    assert len(again.items) == 6
    assert KnowledgeIndex(Store(database), spy)._load_snapshot(
        spy.name, again._signature(other.knowledge_fingerprint())) is not None
