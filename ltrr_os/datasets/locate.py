"""Where the real data sets live (never copied into the repo).

Tests and benchmarks read ``../shared/data`` beside the repository, or wherever
``LTRR_SHARED_DATA`` points, and skip with a reason when it is absent, so the suite
still runs on a machine without the data.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LTRR_SHARED_DATA"

#: ``<repo root>`` for a source checkout (``ltrr_os/datasets/locate.py`` -> 2 levels up).
_REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_root() -> Path:
    """The directory the data sets are looked up in (it may not exist)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return _REPO_ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path | None:
    """``<shared data>/<parts...>`` when it exists, else ``None``.

    >>> shared_data("music", "spotify_songs.csv")  # doctest: +SKIP
    PosixPath('/work/shared/data/music/spotify_songs.csv')
    """
    path = shared_data_root().joinpath(*parts)
    return path if path.exists() else None
