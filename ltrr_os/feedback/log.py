"""Append-only JSONL logs: searches (the bandit's decisions) and engagement events.

Appends are durable (flush + fsync before returning) and serialised across threads and
processes with a lock file, so several workers can log to one file without interleaved
lines. The event log is idempotent by ``event_id``: appending an event already present
is a no-op that is counted.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from .events import Event


class JsonlLog:
    """A JSONL file that only grows, safe for concurrent writers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock")
        self._tlock = threading.Lock()

    def append_many(self, objs: Iterable[Mapping[str, Any]]) -> int:
        lines = [json.dumps(o, ensure_ascii=False, default=_plain) + "\n" for o in objs]
        if not lines:
            return 0
        data = "".join(lines).encode("utf-8")
        with self._tlock, self._lock, open(self.path, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return len(lines)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Valid lines only (a torn last line from a crash is skipped)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for raw in f:
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                if isinstance(obj, dict):
                    yield obj


class SearchLog(JsonlLog):
    """Every search's logged decision (``Searcher.record``), for feedback joined later."""

    def records(self) -> dict[str, dict[str, Any]]:
        return {r["search_id"]: r for r in self if "search_id" in r}


class EventLog(JsonlLog):
    """Engagement events, each stored once (by ``event_id``)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._seen: set[str] | None = None

    def seen(self) -> set[str]:
        if self._seen is None:
            self._seen = {str(o.get("event_id")) for o in self}
        return self._seen

    def append_new(self, events: Iterable[Event]) -> tuple[int, int]:
        """Append events not seen before; returns (appended, duplicates)."""
        with self._tlock:
            seen = self.seen()
            fresh, dup = [], 0
            for e in events:
                if e.event_id in seen:
                    dup += 1
                    continue
                seen.add(e.event_id)
                fresh.append(e.model_dump())
        self.append_many(fresh)
        return len(fresh), dup


def _plain(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)
