"""What a search returns: ranked hits with provenance, and a trace of every decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArmHit:
    """Where one arm ranked a candidate (1-based rank) and the engine score it gave."""

    rank: int
    score: float


@dataclass
class Hit:
    id: str
    score: float
    source: dict[str, Any] | None
    arms: dict[str, ArmHit] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "source": self.source,
            "arms": {a: asdict(h) for a, h in self.arms.items()},
        }


@dataclass
class ArmTrace:
    """One arm's fate in a search: run (with its body), skipped (why) or failed (error)."""

    name: str
    type: str
    status: str  # "run" | "skipped" | "error"
    reason: str = ""
    body: dict[str, Any] | None = None
    hits: int = 0
    took_ms: int | None = None


@dataclass
class Trace:
    understanding: dict[str, Any]
    arms: list[ArmTrace]
    fusion: str
    timings_ms: dict[str, float]
    index: str = ""
    note: str = ""
    policy: dict[str, Any] | None = None  # the bandit's decision, when the plan has one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    search_id: str
    query: str
    hits: list[Hit]
    trace: Trace

    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def to_dict(self) -> dict[str, Any]:
        return {
            "search_id": self.search_id,
            "query": self.query,
            "hits": [h.to_dict() for h in self.hits],
            "trace": self.trace.to_dict(),
        }
