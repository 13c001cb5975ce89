"""Shared fixtures: a temporary workspace for every test, the real embedding model once."""

from __future__ import annotations

import itertools
import os

import pytest

from understudy.embeddings import get_embedder
from understudy.workspace import Workspace

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

SECRET_VARS = (
    "GITLAB_URL", "GITLAB_HOST", "GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN", "GITHUB_TOKEN",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN", "UNDERSTUDY_DATABASE_URL",
)
# UNDERSTUDY_TEST_DATABASE=postgresql runs every workspace of the suite on PostgreSQL.
ALL_ON_POSTGRES = os.environ.get("UNDERSTUDY_TEST_DATABASE") == "postgresql"


class Postgres:
    """A real PostgreSQL (with pgvector) from the pgserver wheel: one server per test session,
    a new empty database for each test that asks."""

    def __init__(self, folder):
        import pgserver

        self.server = pgserver.get_server(folder, cleanup_mode="stop")
        self.uri = self.server.get_uri()
        self.numbers = itertools.count(1)

    def new_database(self) -> str:
        import psycopg

        name = f"test_{os.getpid()}_{next(self.numbers)}"
        with psycopg.connect(self.uri, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.uri.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.server.cleanup()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch, request):
    """Every test gets its own workspace folder and no secrets from the environment."""
    path = tmp_path / "home"
    monkeypatch.setenv("UNDERSTUDY_HOME", str(path))
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    if ALL_ON_POSTGRES:
        url = request.getfixturevalue("postgres").new_database()
        monkeypatch.setenv("UNDERSTUDY_DATABASE_URL", url)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, home, tmp_path, monkeypatch):
    """The store under test, on each database: a SQLite file, or a new PostgreSQL database
    that the workspace also uses (UNDERSTUDY_DATABASE_URL)."""
    if request.param == "sqlite":
        monkeypatch.delenv("UNDERSTUDY_DATABASE_URL", raising=False)
        home.mkdir(parents=True, exist_ok=True)
        return str(home / "understudy.db")
    url = request.getfixturevalue("postgres").new_database()
    monkeypatch.setenv("UNDERSTUDY_DATABASE_URL", url)
    return url


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
    ws.index.use_encoder(embedder)
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
