"""Backends: something that composes a reply from a ticket and the evidence it is handed."""

from .base import Backend, Composition

__all__ = ["Backend", "Composition"]
