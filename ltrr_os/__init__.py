"""ltrr-os: learning to rank and retrieve on OpenSearch.

``from ltrr_os import Searcher`` is the library entry point; it is imported lazily so
that ``import ltrr_os`` (and the CLI) stays fast.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Searcher", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Searcher":
        from .search import Searcher

        return Searcher
    raise AttributeError(name)
