"""The library entry point: ``Searcher.from_plan(path).search(query, context)``.

One search = understand the query, compile every applicable arm to a DSL body (pure
functions), run them in ONE ``msearch`` round trip, merge the candidates with per-arm
provenance, fuse, and return hits plus a trace of every decision and timing.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engines.base import Engine
from ..engines.factory import open_engine
from ..errors import ConfigError, IndexNotFoundError, LtrrError
from ..plan.models import DslArm, KnnArm, Plan
from ..strategies import ArmInput, Skip, compiler_for
from ..strategies.dsl import compile_dsl, parse_template
from .merge import fuse, merge
from .result import ArmTrace, SearchResult, Trace

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")


def clean_query(query: Any, max_chars: int) -> tuple[str, str]:
    """Normalise user text: NFC, control characters dropped, whitespace collapsed, capped.

    Returns ``(text, note)``; an empty ``text`` means the query is empty (the documented
    rule: an empty or whitespace-only query returns no hits and runs no arm).
    """
    if not isinstance(query, str):
        raise LtrrError(f"a query must be a string, got {type(query).__name__}")
    text = unicodedata.normalize("NFC", query)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = _WS.sub(" ", text).strip()
    note = ""
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
        note = f"query cut to {max_chars} characters (output.max_query_chars)"
    return text, note


@dataclass(frozen=True)
class _IndexState:
    """What depends on the index version behind the alias (reloaded after a reindex)."""

    index: str
    understanding: Any
    encoder: Any | None


class Searcher:
    """Runs a query plan against an engine. Thread-safe for concurrent ``search`` calls."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine | None = None,
        *,
        understanding: Any | None = None,
        encoder: Any | None = None,
        data_dir: Path | None = None,
        reload_interval_s: float = 10.0,
    ) -> None:
        self.plan = plan
        self.engine = engine if engine is not None else open_engine(plan.engine)
        self.data_dir = Path(data_dir) if data_dir else plan.engine.resolved_data_dir()
        self.reload_interval_s = reload_interval_s
        self._templates = {
            name: parse_template(arm, name)
            for name, arm in plan.strategies.items()
            if isinstance(arm, DslArm)
        }
        self._fixed_understanding = understanding
        self._fixed_encoder = encoder
        self._lock = threading.Lock()
        self._state = self._load_state()
        self._checked_at = time.monotonic()

    @classmethod
    def from_plan(cls, path: str | Path, engine: Engine | None = None, **kwargs: Any) -> Searcher:
        from ..plan import load_plan

        return cls(load_plan(path), engine, **kwargs)

    # -- index-version state -----------------------------------------------------------
    def _resolve_index(self) -> str:
        alias = self.plan.index.alias
        targets = self.engine.get_alias(alias)
        if targets:
            return targets[0]
        if self.engine.exists(alias):
            return alias
        raise IndexNotFoundError(alias)

    def _load_state(self) -> _IndexState:
        index = self._resolve_index()
        qu = self._fixed_understanding
        if qu is None:
            from ..understanding import QueryUnderstanding

            qu = QueryUnderstanding(
                self.plan.understanding, cache_dir=self.data_dir / "understanding"
            ).fit(self.engine, self.plan.index.alias)
        enc = self._fixed_encoder
        if enc is None and any(isinstance(a, KnnArm) for a in self.plan.strategies.values()):
            enc = self._load_encoder(index)
        return _IndexState(index, qu, enc)

    def _load_encoder(self, index: str) -> Any | None:
        from ..encoders import load_encoder

        path = self.data_dir / "encoders" / index
        if not path.exists():
            log.warning("no encoder at %s: knn arms will be skipped", path)
            return None
        try:
            return load_encoder(path)
        except (LtrrError, OSError, ValueError) as exc:
            log.warning("cannot load encoder at %s (%s): knn arms will be skipped", path, exc)
            return None

    def reload(self) -> None:
        """Re-read the alias; rebuild understanding/encoder if it moved (after a reindex)."""
        index = self._resolve_index()
        if index != self._state.index:
            state = self._load_state()
            with self._lock:
                self._state = state
        self._checked_at = time.monotonic()

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._checked_at > self.reload_interval_s:
            try:
                self.reload()
            except LtrrError as exc:  # keep serving the version we have
                log.warning("reload failed, keeping %s: %s", self._state.index, exc)
                self._checked_at = time.monotonic()

    # -- search ------------------------------------------------------------------------
    def compile(
        self, query: str, context: Mapping[str, Any] | None = None
    ) -> tuple[Any, list[ArmTrace]]:
        """Understanding and every arm's body (or why it is skipped), without running it."""
        state = self._state
        text, _ = clean_query(query, self.plan.output.max_query_chars)
        u = state.understanding.analyze(text)
        return u, self._compile_arms(state, text, u, context or {}, {})[0]

    def _compile_arms(
        self,
        state: _IndexState,
        text: str,
        u: Any,
        context: Mapping[str, Any],
        timings: dict[str, float],
    ) -> tuple[list[ArmTrace], list[tuple[str, dict[str, Any]]]]:
        plan = self.plan
        arms = plan.active_arms()
        vector = None
        if state.encoder is not None and any(isinstance(plan.strategies[a], KnnArm) for a in arms):
            t = time.perf_counter()
            vector = state.encoder.encode([u.without_intent or text])[0]
            timings["encode"] = (time.perf_counter() - t) * 1000
        inp = ArmInput(text, u, context, vector, plan.index.fields or None)
        traces: list[ArmTrace] = []
        requests: list[tuple[str, dict[str, Any]]] = []
        for name in arms:
            arm = plan.strategies[name]
            if arm.requires_slots and not any(u.has_slot(s) for s in arm.requires_slots):
                traces.append(
                    ArmTrace(name, arm.type, "skipped", f"needs one of slots {arm.requires_slots}")
                )
                continue
            if isinstance(arm, DslArm):
                out = compile_dsl(arm, inp, arm.size, parsed=self._templates[name])
            else:
                out = compiler_for(arm.type)(arm, inp, arm.size)
            if isinstance(out, Skip):
                traces.append(ArmTrace(name, arm.type, "skipped", out.reason))
            else:
                traces.append(ArmTrace(name, arm.type, "run", body=out))
                requests.append((name, out))
        return traces, requests

    def search(
        self, query: str, context: Mapping[str, Any] | None = None, size: int | None = None
    ) -> SearchResult:
        """Run the plan for one query. ``context`` carries caller facts (device, user...)."""
        t0 = time.perf_counter()
        self._maybe_reload()
        state = self._state
        size = size or self.plan.output.size
        if size < 1:
            raise ConfigError("size must be at least 1")
        timings: dict[str, float] = {}
        text, note = clean_query(query, self.plan.output.max_query_chars)
        search_id = uuid.uuid4().hex
        fusion = self.plan.rerank.method
        if not text:
            trace = Trace(
                {},
                [],
                fusion,
                {"total": (time.perf_counter() - t0) * 1000},
                state.index,
                "empty query: no arm was run",
            )
            return SearchResult(search_id, text, [], trace)
        t = time.perf_counter()
        u = state.understanding.analyze(text)
        timings["understanding"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        traces, requests = self._compile_arms(state, text, u, context or {}, timings)
        timings["compile"] = (time.perf_counter() - t) * 1000 - timings.get("encode", 0.0)
        responses: dict[str, dict[str, Any]] = {}
        if requests:
            t = time.perf_counter()
            alias = self.plan.index.alias
            results = self.engine.msearch([(alias, body) for _, body in requests])
            timings["engine"] = (time.perf_counter() - t) * 1000
            by_name = {tr.name: tr for tr in traces}
            for (name, _), resp in zip(requests, results, strict=True):
                tr = by_name[name]
                if "error" in resp:
                    tr.status = "error"
                    err = resp["error"]
                    tr.reason = err.get("reason", str(err)) if isinstance(err, dict) else str(err)
                else:
                    responses[name] = resp
                    tr.hits = len(resp["hits"]["hits"])
                    tr.took_ms = resp.get("took")
        t = time.perf_counter()
        fused = fuse(merge(responses), self.plan.rerank)
        timings["merge"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        trace = Trace(u.to_dict(), traces, fusion, timings, state.index, note)
        return SearchResult(search_id, text, fused[:size], trace)
