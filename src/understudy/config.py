"""Workspace location, the settings file and the secrets lookup order (env > settings)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import defaults

SETTINGS_FILE = "settings.json"

DEFAULTS: dict[str, Any] = defaults()  # every key, its default and meaning: settings.py

# Each secret and the environment variables that may hold it, in order of preference.
SECRET_ENV = {
    "gitlab_url": ("GITLAB_URL", "GITLAB_HOST"),
    "gitlab_token": ("GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN"),
    "github_token": ("GITHUB_TOKEN",),
    "github_url": ("GITHUB_URL", "GITHUB_API_URL"),
    "openai_api_key": ("OPENAI_API_KEY",),
    "openai_base_url": ("OPENAI_BASE_URL",),
    "slack_bot_token": ("SLACK_BOT_TOKEN",),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET",),
    "slack_app_token": ("SLACK_APP_TOKEN",),
    "gitlab_webhook_secret": ("GITLAB_WEBHOOK_SECRET",),
    "database_url": ("UNDERSTUDY_DATABASE_URL",),
}


def default_home() -> Path:
    """UNDERSTUDY_HOME, else the per-user data folder."""
    env = os.environ.get("UNDERSTUDY_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "understudy"


def default_cache() -> Path:
    """UNDERSTUDY_CACHE, else the per-user cache folder: files made from others, safe to delete."""
    env = os.environ.get("UNDERSTUDY_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "understudy"


@dataclass
class Settings:
    """The workspace's settings.json, merged over the defaults."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> Settings:
        path = home / SETTINGS_FILE
        values = defaults()  # fresh lists and objects for each workspace
        if path.exists():
            try:
                values.update(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path} is not valid JSON (line {exc.lineno}): fix or delete it"
                ) from None
        return cls(path, values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        saved = {k: v for k, v in self.values.items() if DEFAULTS.get(k, object()) != v}
        self.path.write_text(json.dumps(saved, indent=2) + "\n")

    def secret(self, name: str) -> str | None:
        """A secret from the environment first, then from settings.json."""
        for var in SECRET_ENV.get(name, ()):
            value = os.environ.get(var)
            if value:
                return value
        value = self.values.get(name)
        return str(value) if value else None

    def require_secret(self, name: str) -> str:
        value = self.secret(name)
        if not value:
            variables = " or ".join(SECRET_ENV.get(name, (name.upper(),)))
            raise ConfigError(
                f"No {name.replace('_', ' ')} found: set {variables} "
                f"or add \"{name}\" to {self.path}"
            )
        return value
