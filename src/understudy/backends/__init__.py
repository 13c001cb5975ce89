"""Backends: something that turns a ticket and its retrieved sources into an answer."""

from .base import Backend, Reply

__all__ = ["Backend", "Reply"]
