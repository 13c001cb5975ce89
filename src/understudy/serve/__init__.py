"""Serving answers where people ask: REST API, OpenAI-compatible API, web page, Slack, hooks."""

from .app import Service, create_app, run

__all__ = ["Service", "create_app", "run"]
