"""The app of one `understudy serve --workers N` process.

Each worker is its own process with its own workspace: its own database connection, index and
model. What must happen once (a draft stored, a send, a webhook or Slack delivery answered) is
decided in the database, so workers need nothing from each other: a send is a claimed step,
one answer per customer message a unique index, and a delivery is recorded as seen with an
insert that only one worker wins.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from ..workspace import Workspace
from .app import create_app

HOME_ENV = "UNDERSTUDY_HOME"
BACKEND_ENV = "UNDERSTUDY_SERVE_BACKEND"


def make_app() -> FastAPI:
    """uvicorn's factory: the workspace the parent named in the environment."""
    workspace = Workspace(os.environ.get(HOME_ENV) or None)
    return create_app(workspace, os.environ.get(BACKEND_ENV) or None)
