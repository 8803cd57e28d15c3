"""Open the engine that a plan or the CLI asks for."""

from __future__ import annotations

from .base import Engine
from .settings import EngineSettings


def open_engine(settings: EngineSettings | None = None) -> Engine:
    """Build an :class:`Engine` from settings (embedded by default)."""
    settings = settings or EngineSettings()
    if settings.kind == "embedded":
        from .embedded import EmbeddedEngine

        return EmbeddedEngine(settings.resolved_data_dir())
    from .opensearch import OpenSearchEngine

    return OpenSearchEngine(settings.opensearch)
