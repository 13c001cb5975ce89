"""A workspace: one folder with the database, settings, index and models of one team."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings, default_home
from .errors import ConfigError
from .store import Store
from .store.postgres import is_postgres_url
from .text.masking import redact_url_credentials

if TYPE_CHECKING:
    from .answer import Answerer
    from .embeddings import Encoder
    from .index import KnowledgeIndex

DB_FILE = "understudy.db"


class Workspace:
    """Everything a command needs, opened lazily: store, settings, index, answerer."""

    def __init__(self, home: Path | str | None = None):
        self.home = Path(home).expanduser() if home else default_home()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(
                f"The workspace {self.home} is not a folder: give --home a folder path"
            ) from None
        except PermissionError:
            raise ConfigError(
                f"Cannot create the workspace {self.home}: choose a writable --home"
            ) from None

    @cached_property
    def settings(self) -> Settings:
        return Settings.load(self.home)

    @cached_property
    def store(self) -> Store:
        """The workspace's SQLite file, or the PostgreSQL database UNDERSTUDY_DATABASE_URL
        (or `database_url` in settings) names."""
        url = self.settings.secret("database_url")
        if url and not is_postgres_url(url):
            raise ConfigError(
                f"database_url must start with postgresql:// (got {redact_url_credentials(url)!r}):"
                f" unset it to use the workspace's SQLite file"
            )
        return Store(url or self.home / DB_FILE)

    @cached_property
    def encoder(self) -> Encoder:
        """The encoder the index uses: the `embedding_model` setting when it names another
        model than MiniLM, else a promoted tuned model, else MiniLM. Vectors are stored per
        encoder name, so a change of setting embeds everything once and a change back reuses
        the stored vectors."""
        from .embeddings import MINILM, encoder_for, get_embedder
        from .train.registry import default_embedder_path

        choice = self.settings.get("embedding_model") or MINILM
        if choice.strip().lower() != MINILM:
            return encoder_for(choice)
        tuned = default_embedder_path(self.store)  # a promoted tuned model
        return get_embedder(tuned) if tuned else get_embedder()

    @cached_property
    def index(self) -> KnowledgeIndex:  # imported late: commands that need no model stay fast
        from .embeddings import BM25_WEIGHTS
        from .index import BM25_WEIGHT, KnowledgeIndex

        encoder = self.encoder
        return KnowledgeIndex(self.store, encoder, BM25_WEIGHTS.get(encoder.name, BM25_WEIGHT))

    def answerer(self, backend: str | None = None) -> Answerer:
        """The answering pipeline with `backend` (the settings' default when None)."""
        from .answer import Answerer

        return Answerer(self, backend or self.settings.get("default_backend") or "retrieval")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
