"""Shared pytest fixtures. Keep each fixture self-contained; others append below.

osmem-server (an in-memory OpenSearch-compatible server, PyPI ``osmem-server``) registers a
pytest plugin with ``osmem_server`` (session), ``osmem_clone`` and ``osmem_url``
(per test). ``osmem_server`` is overridden here so that a missing or broken binary skips
the wire tests with a reason instead of erroring them. osmem-server has no k-NN and no LTR
plugin; see docs/osmem-subset.md for what it supports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def osmem_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One osmem-server for the session (seeded from the ``osmem_seed`` ini option, if any).

    Skips every test that needs it when the bundled binary is missing or cannot start.
    """
    try:
        from osmem_server import OsmemError, OsmemServer
    except ImportError as exc:  # pragma: no cover - dev extra not installed
        pytest.skip(f"osmem-server is not installed (pip install osmem-server): {exc}")
    cfg = request.config
    try:
        server = OsmemServer.start(
            seed=[str(p) for p in cfg.getini("osmem_seed")],
            freeze=cfg.getini("osmem_freeze"),
            japanese=cfg.getini("osmem_japanese"),
        )
    except (OsmemError, OSError) as exc:
        pytest.skip(f"osmem-server cannot start here ({exc}); set OSMEM_SERVER_BIN to a binary")
    yield server
    server.close()


@pytest.fixture
def osmem(osmem_clone: Any) -> str:
    """URL of a fresh, empty osmem-server clone for this test (milliseconds to make)."""
    return str(osmem_clone.url)


@pytest.fixture
def osmem_engine(osmem: str) -> Iterator[Any]:
    """An :class:`OpenSearchEngine` talking to a fresh osmem-server clone."""
    from ltrr_os.engines.opensearch import OpenSearchEngine
    from ltrr_os.engines.settings import OpenSearchSettings

    engine = OpenSearchEngine(
        OpenSearchSettings(hosts=[osmem], max_retries=0, timeout=10.0),
        bulk_initial_backoff=0.01,
    )
    yield engine
    engine.close()
