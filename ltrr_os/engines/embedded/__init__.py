"""The embedded in-process engine (see :class:`EmbeddedEngine`)."""

from .engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
