"""Commands with nothing to do finish without loading the embedding model."""

from __future__ import annotations

import os
import subprocess
import sys

from factories import make_thread

from understudy.embeddings import Embedder
from understudy.index import KnowledgeIndex

TEAM = [("support-ana", "Set http.timeout to 120 in config.yml and restart the worker.", True)]


def test_an_up_to_date_index_loads_no_model(workspace, embedder):
    workspace.store.upsert_thread(make_thread(1, "Login times out", "The login hangs.", TEAM))
    workspace.index.build()
    fresh = Embedder()
    stats = KnowledgeIndex(workspace.store, fresh).build()
    assert (stats.items, stats.embedded, stats.reused) == (1, 0, 1)
    assert not fresh.loaded
    assert fresh.dim == embedder.model.get_embedding_dimension() == 384


def test_a_search_loads_the_model_on_first_encode(workspace, embedder):
    workspace.store.upsert_thread(make_thread(1, "Login times out", "The login hangs.", TEAM))
    workspace.index.build()
    fresh = Embedder()
    index = KnowledgeIndex(workspace.store, fresh)
    index.build()
    hits = index.search("login hangs", k=1)
    assert fresh.loaded
    assert hits[0].item.title == "Login times out"


def _modules_after(args: list[str], home) -> set[str]:
    """The heavy modules a fresh process has imported after running the command line."""
    code = (
        "import sys\nfrom understudy.cli import app\n"
        f"try:\n    app({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'onnxruntime',"
        " 'matplotlib', 'sklearn')\n"
        "print('loaded:', *(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "UNDERSTUDY_HOME": str(home)})
    return set(out.stdout.splitlines()[-1].split()[1:])


def test_help_and_no_op_commands_import_no_model_library(workspace, home):
    workspace.store.upsert_thread(make_thread(1, "Login times out", "The login hangs.", TEAM))
    workspace.index.build()
    workspace.close()
    assert _modules_after(["--help"], home) == set()
    assert _modules_after(["index"], home) == set()
    assert _modules_after(["answer", "--open"], home) == set()
    assert _modules_after(["drafts"], home) == set()


def test_the_server_encoder_reuses_its_export_without_the_model(embedder, tmp_path):
    from understudy.embeddings.onnx import OnnxQueryEncoder

    OnnxQueryEncoder(embedder, tmp_path, "fp32")  # made once, from the loaded model
    fresh = Embedder()
    encoder = OnnxQueryEncoder(fresh, tmp_path, "fp32")
    texts = ["Login loops back to the sign-in page", "word " * 400]  # the second is truncated
    vectors = encoder.encode(texts)
    assert not fresh.loaded
    assert abs(vectors - embedder.encode(texts)).max() < 1e-5
