"""The engine contract: what ltrr-os needs from a search engine.

Two implementations stand behind it: :class:`~ltrr_os.engines.opensearch.OpenSearchEngine`
(a real cluster through opensearch-py) and
:class:`~ltrr_os.engines.embedded.EmbeddedEngine` (in-process, numpy). Both take and return
OpenSearch-shaped JSON (request bodies as dicts; responses with ``hits.hits[]._id/_score/
_source`` and ``took``) so callers never care which one ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndexInfo:
    """One index as listed by :meth:`Engine.list_indices`."""

    name: str
    docs: int
    aliases: tuple[str, ...] = ()


@dataclass
class BulkError:
    """One document the engine rejected during a bulk load."""

    doc_id: str
    reason: str
    position: int | None = None  # 0-based position in the input stream, when known


@dataclass
class BulkReport:
    """What a bulk load did: counts plus the first rejected documents with reasons."""

    indexed: int = 0
    errors: list[BulkError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def ok(self) -> bool:
        return not self.errors


#: Called with the number of documents processed since the last call (progress bars).
ProgressCallback = Callable[[int], None]


class Engine(ABC):
    """Index management, bulk loading, aliases and search over OpenSearch query DSL."""

    #: "embedded" or "opensearch"; recorded in traces and benchmark results.
    kind: str = "abstract"

    # -- indices ---------------------------------------------------------------------
    @abstractmethod
    def create_index(self, name: str, template: dict[str, Any]) -> None:
        """Create ``name`` from an index template body (``settings`` + ``mappings``)."""

    @abstractmethod
    def delete_index(self, name: str) -> None:
        """Delete an index; raises :class:`IndexNotFoundError` when absent."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True when ``name`` is an index or an alias."""

    @abstractmethod
    def list_indices(self) -> list[IndexInfo]:
        """All indices with their doc counts and aliases, sorted by name."""

    @abstractmethod
    def get_mapping(self, name: str) -> dict[str, Any]:
        """The ``mappings`` of an index (or of the index an alias points to)."""

    @abstractmethod
    def bulk(
        self,
        index: str,
        docs: Iterable[tuple[str, dict[str, Any]]],
        *,
        chunk_size: int = 1000,
        progress: ProgressCallback | None = None,
        max_errors: int = 100,
    ) -> BulkReport:
        """Index ``(id, source)`` pairs; per-document failures go in the report.

        Documents become searchable after :meth:`refresh`.
        """

    @abstractmethod
    def refresh(self, index: str) -> None:
        """Make everything bulk-loaded so far searchable (and durable, embedded)."""

    @abstractmethod
    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        """Number of documents matching ``query`` (all when None)."""

    # -- aliases ---------------------------------------------------------------------
    @abstractmethod
    def get_alias(self, alias: str) -> list[str]:
        """Indices the alias points to ([] when it does not exist)."""

    @abstractmethod
    def swap_alias(self, alias: str, index: str) -> None:
        """Point ``alias`` at ``index`` only, atomically (one ``_aliases`` request)."""

    # -- search ----------------------------------------------------------------------
    @abstractmethod
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search; returns the OpenSearch response shape."""

    @abstractmethod
    def msearch(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several searches in one round trip.

        Returns one item per request, in order: a search response, or
        ``{"error": {"type": ..., "reason": ...}, "status": int}`` for a failed one, so a
        failing arm never hides the others.
        """

    @abstractmethod
    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Sources of ``ids`` in order (None for a missing id)."""

    @abstractmethod
    def terms(self, index: str, field: str, size: int = 10_000) -> list[tuple[str, int]]:
        """Most frequent values of a keyword/numeric field with their doc counts."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or files."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
