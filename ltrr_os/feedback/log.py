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
        with self._tlock, self._lock:
            self._write("".join(lines).encode("utf-8"))
        return len(lines)

    def _write(self, data: bytes) -> int:
        """Append and fsync (caller holds both locks); returns the file size after."""
        with open(self.path, "a+b") as f:
            end = f.seek(0, os.SEEK_END)
            if end and os.pread(f.fileno(), 1, end - 1) != b"\n":
                data = b"\n" + data  # a line torn by a crash must not swallow ours
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()

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
    """Engagement events, each stored once (by ``event_id``), also across processes."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._seen: set[str] = set()
        self._engaged: set[str] = set()  # search ids with an engagement event
        self._offset = 0  # bytes of the file already read into _seen

    def _catch_up(self) -> None:
        """Read the ids of lines appended since the last look (by any process)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # complete lines only: a line being written waits
        for raw in data[:end].splitlines():
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict) and "event_id" in obj:
                self._seen.add(str(obj["event_id"]))
                if obj.get("type") != "impression" and "search_id" in obj:
                    self._engaged.add(str(obj["search_id"]))
        self._offset += end

    def seen(self) -> set[str]:
        """Every event id in the log now."""
        with self._tlock:
            self._catch_up()
            return set(self._seen)

    def engaged_searches(self) -> set[str]:
        """Search ids that already have a click, play or purchase in the log."""
        with self._tlock:
            self._catch_up()
            return set(self._engaged)

    def append_new(self, events: Iterable[Event]) -> tuple[int, int]:
        """Append the events whose id is not in the log yet; returns (appended, duplicates).

        The check and the append happen under the file lock, so two processes appending
        the same event store it once.
        """
        events = list(events)
        if not events:
            return 0, 0
        with self._tlock, self._lock:
            self._catch_up()
            fresh, dup = [], 0
            for e in events:
                if e.event_id in self._seen:
                    dup += 1
                    continue
                self._seen.add(e.event_id)
                if e.type != "impression":
                    self._engaged.add(e.search_id)
                fresh.append(e.model_dump_json() + "\n")
            if fresh:
                self._offset = self._write("".join(fresh).encode("utf-8"))
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
