"""Shared fixtures: a temporary workspace for every test, the real embedding model once."""

from __future__ import annotations

import os

import pytest

from understudy.embeddings import get_embedder
from understudy.workspace import Workspace

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

SECRET_VARS = (
    "GITLAB_URL", "GITLAB_HOST", "GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN", "GITHUB_TOKEN",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own workspace folder and no secrets from the environment."""
    path = tmp_path / "home"
    monkeypatch.setenv("UNDERSTUDY_HOME", str(path))
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def cache(tmp_path_factory):
    """One cache folder (exported ONNX models) for the whole session, not the user's."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["UNDERSTUDY_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from its package, loaded once per test session."""
    return get_embedder()


@pytest.fixture
def ws(home):
    """A workspace that loads its embedding model only if a test encodes something."""
    workspace = Workspace(home)
    yield workspace
    workspace.close()


@pytest.fixture
def workspace(home, embedder):
    ws = Workspace(home)
    ws.index._embedder = embedder
    yield ws
    ws.close()


from gitlab_server import FakeGitLab  # noqa: E402


@pytest.fixture
def gitlab_server(home, monkeypatch):
    """A local GitLab API; GITLAB_URL and GITLAB_TOKEN point at it."""
    with FakeGitLab() as server:
        monkeypatch.setenv("GITLAB_URL", server.url)
        monkeypatch.setenv("GITLAB_TOKEN", server.token)
        yield server


@pytest.fixture
def openai_server(home, monkeypatch):
    """A local OpenAI-compatible server; OPENAI_BASE_URL and OPENAI_API_KEY point at it."""
    from openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield server


# Files whose tests train a model or drive a browser, whatever their fixtures.
SLOW_FILES = {"test_train_local.py", "test_train_retrieval.py", "test_local_backend.py",
              "test_web_page.py"}


def pytest_collection_modifyitems(config, items):
    """Mark `slow` every test that needs the real embedding model (the `embedder` fixture,
    directly or through `workspace`), Chromium or training: `pytest -m "not slow"` is the
    quick loop; `make test` runs everything."""
    slow = pytest.mark.slow
    for item in items:
        if "embedder" in getattr(item, "fixturenames", ()) or item.path.name in SLOW_FILES:
            item.add_marker(slow)
