"""An engine wrapper that memoises search responses (for simulation and batch evaluation).

Searches are deterministic for a fixed index version, so a response for a body can be
reused. Bodies that differ only in ``size`` share one entry: the largest response fetched
so far is kept and truncated for smaller sizes (hits are a prefix of a larger page).
Never use it over an index that changes while it is cached.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from .base import BulkReport, Engine, IndexInfo, ProgressCallback


class CachingEngine(Engine):
    def __init__(self, engine: Engine, max_entries: int = 200_000) -> None:
        self.inner = engine
        self.kind = engine.kind
        self.max_entries = max_entries
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(index: str, body: dict[str, Any]) -> tuple[str, int]:
        size = int(body.get("size", 10))
        rest = {k: v for k, v in body.items() if k != "size"}
        return index + "\x00" + json.dumps(rest, sort_keys=True, ensure_ascii=False), size

    def msearch(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any] | None] = [None] * len(requests)
        todo: list[int] = []
        keys = [self._key(i, b) for i, b in requests]
        with self._lock:
            for n, (key, size) in enumerate(keys):
                entry = self._cache.get(key)
                if entry is not None and entry["size"] >= size:
                    out[n] = _truncate(entry["response"], size)
                    self.hits += 1
                else:
                    todo.append(n)
                    self.misses += 1
        if todo:
            fresh = self.inner.msearch([requests[n] for n in todo])
            with self._lock:
                for n, resp in zip(todo, fresh, strict=True):
                    key, size = keys[n]
                    if "error" not in resp and len(self._cache) < self.max_entries:
                        self._cache[key] = {"size": size, "response": resp}
                    out[n] = resp
        return [o for o in out if o is not None]

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.msearch([(index, body)])[0]

    # -- everything else is delegated --------------------------------------------------
    def create_index(self, name: str, template: dict[str, Any]) -> None:
        self.inner.create_index(name, template)

    def delete_index(self, name: str) -> None:
        self.inner.delete_index(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def list_indices(self) -> list[IndexInfo]:
        return self.inner.list_indices()

    def get_mapping(self, name: str) -> dict[str, Any]:
        return self.inner.get_mapping(name)

    def bulk(
        self, index: str, docs: Iterable[tuple[str, dict[str, Any]]], *, chunk_size: int = 1000,
        progress: ProgressCallback | None = None, max_errors: int = 100,
    ) -> BulkReport:  # fmt: skip
        return self.inner.bulk(
            index, docs, chunk_size=chunk_size, progress=progress, max_errors=max_errors
        )

    def refresh(self, index: str) -> None:
        self.inner.refresh(index)
        with self._lock:
            self._cache.clear()

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        return self.inner.count(index, query)

    def get_alias(self, alias: str) -> list[str]:
        return self.inner.get_alias(alias)

    def swap_alias(self, alias: str, index: str) -> None:
        self.inner.swap_alias(alias, index)
        with self._lock:
            self._cache.clear()

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        return self.inner.mget(index, ids)

    def terms(self, index: str, field: str, size: int = 10_000) -> list[tuple[str, int]]:
        return self.inner.terms(index, field, size)


def _truncate(resp: dict[str, Any], size: int) -> dict[str, Any]:
    out = copy.copy(resp)
    hits = dict(resp["hits"])
    hits["hits"] = resp["hits"]["hits"][:size]
    out["hits"] = hits
    return out
