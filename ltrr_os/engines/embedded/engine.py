"""The embedded engine: OpenSearch's contract, in-process, persisted under a data dir."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, IndexNotFoundError, LtrrError, QueryError, UnsupportedQueryError
from ..base import BulkError, BulkReport, Engine, IndexInfo, ProgressCallback
from .analysis import Analyzer, build_analyzers
from .executor import Executor, filter_source, top_k_indices
from .mapping import KEYWORD, TEXT, FieldSpec, flatten_mapping, to_number
from .segment import Segment
from .store import KEEP_GENERATIONS, Store

_BODY_KEYS = {"query", "size", "from", "_source", "track_total_hits", "timeout", "min_score",
              "rescore", "explain", "version", "seq_no_primary_term"}  # fmt: skip
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-.")


@dataclass
class _Index:
    name: str
    meta: dict[str, Any]
    specs: dict[str, FieldSpec]
    analyzers: dict[str, Analyzer]
    segment: Segment
    meta_mtime: int
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    fuzzy_cache: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


def _validate_name(name: str) -> None:
    if not name or name[0] in "-_." or not set(name) <= _NAME_OK or name in (".", ".."):
        raise ConfigError(
            f"invalid index name {name!r}: use lowercase letters, digits, '-', '_' and '.', "
            "not starting with '-', '_' or '.'"
        )


class EmbeddedEngine(Engine):
    """Runs the supported OpenSearch DSL subset over numpy arrays, persisted on disk.

    Thread-safe: searches read an immutable :class:`Segment` snapshot; writes hold a
    process lock and an inter-process file lock.
    """

    kind = "embedded"

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.store = Store(self.data_dir)
        self._indices: dict[str, _Index] = {}
        self._lock = threading.RLock()
        self._aliases: dict[str, list[str]] = {}
        self._aliases_mtime: float = -1

    def __repr__(self) -> str:
        return f"EmbeddedEngine(data_dir={str(self.data_dir)!r})"

    # -- loading -------------------------------------------------------------------------
    def _alias_map(self) -> dict[str, list[str]]:
        mtime = self.store.aliases_mtime()
        if mtime != self._aliases_mtime:
            self._aliases = self.store.read_aliases()
            self._aliases_mtime = mtime
        return self._aliases

    def _resolve(self, name: str) -> str:
        targets = self._alias_map().get(name)
        if targets:
            if len(targets) != 1:
                raise ConfigError(f"alias {name!r} points to {len(targets)} indices; expected 1")
            return targets[0]
        return name

    def _get(self, name: str) -> _Index:
        real = self._resolve(name)
        idx = self._indices.get(real)
        mtime = self.store.meta_mtime(real)
        if idx is not None and idx.meta_mtime == mtime:
            return idx
        with self._lock:
            idx = self._indices.get(real)
            if idx is not None and idx.meta_mtime == mtime:
                return idx
            meta = self.store.read_meta(real)
            if meta is None:
                self._indices.pop(real, None)
                raise IndexNotFoundError(name)
            specs, analyzers, strict = self._compile_template(meta["template"], real)
            gen = meta.get("generation", 0)
            if gen:
                segment = Segment.load(self.store.index_dir(real) / f"seg-{gen:06d}")
            else:
                segment = Segment.build(specs, analyzers, [], [])
            pending = idx.pending if idx is not None else {}
            idx = _Index(real, meta, specs, analyzers, segment, mtime, pending, strict=strict)
            self._indices[real] = idx
            return idx

    @staticmethod
    def _compile_template(
        template: dict[str, Any], name: str
    ) -> tuple[dict[str, FieldSpec], dict[str, Analyzer], bool]:
        if not isinstance(template, dict):
            raise ConfigError(f"index {name!r}: a template must be a JSON object")
        unknown = set(template) - {"settings", "mappings", "aliases"}
        if unknown:
            raise ConfigError(f"index {name!r}: unknown template keys {sorted(unknown)}")
        mappings = template.get("mappings") or {}
        settings = template.get("settings") or {}
        specs = flatten_mapping(mappings)
        analyzers = build_analyzers(settings)
        for spec in specs.values():
            for a in (spec.analyzer, spec.search_analyzer):
                if spec.type == TEXT and a is not None and a not in analyzers:
                    raise ConfigError(
                        f"mappings.properties.{spec.path}: unknown analyzer {a!r}; "
                        f"known: {sorted(analyzers)}"
                    )
        strict = str(mappings.get("dynamic", "true")).lower() == "strict"
        return specs, analyzers, strict

    # -- indices -------------------------------------------------------------------------
    def create_index(self, name: str, template: dict[str, Any]) -> None:
        _validate_name(name)
        self._compile_template(template, name)  # fail before anything is written
        with self._lock, self.store.lock:
            if self.store.read_meta(name) is not None or name in self._alias_map():
                raise ConfigError(f"index or alias {name!r} already exists")
            meta = {
                "name": name,
                "template": {k: v for k, v in template.items() if k != "aliases"},
                "state": "building",
                "generation": 0,
                "docs": 0,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            self.store.write_meta(name, meta)
            for alias in template.get("aliases") or {}:
                self._put_alias(alias, name)

    def delete_index(self, name: str) -> None:
        with self._lock, self.store.lock:
            if self.store.read_meta(name) is None:
                raise IndexNotFoundError(name)
            aliases = self.store.read_aliases()
            changed = {a: [i for i in t if i != name] for a, t in aliases.items()}
            changed = {a: t for a, t in changed.items() if t}
            if changed != aliases:
                self.store.write_aliases(changed)
            self.store.delete(name)
            self._indices.pop(name, None)

    def exists(self, name: str) -> bool:
        return name in self._alias_map() or self.store.read_meta(name) is not None

    def list_indices(self) -> list[IndexInfo]:
        aliases = self._alias_map()
        out = []
        for name in self.store.names():
            meta = self.store.read_meta(name) or {}
            held = tuple(sorted(a for a, t in aliases.items() if name in t))
            out.append(IndexInfo(name, int(meta.get("docs", 0)), held))
        return out

    def index_state(self, name: str) -> str:
        """``building`` until the first refresh, then ``ready``."""
        meta = self.store.read_meta(self._resolve(name))
        if meta is None:
            raise IndexNotFoundError(name)
        return str(meta.get("state", "ready"))

    def get_mapping(self, name: str) -> dict[str, Any]:
        return self._get(name).meta["template"].get("mappings", {})

    def field_specs(self, name: str) -> dict[str, FieldSpec]:
        """The flattened mapping (``title.keyword`` etc.) of an index or alias."""
        return self._get(name).specs

    # -- writing -------------------------------------------------------------------------
    def _check_doc(self, idx: _Index, doc: dict[str, Any]) -> None:
        if not isinstance(doc, dict):
            raise ValueError("document must be a JSON object")
        top = {s.source for s in idx.specs.values()}
        for key in doc:
            if key not in top:
                if idx.strict:
                    raise ValueError(
                        f"mapping set to strict, dynamic introduction of [{key}] is not allowed"
                    )
                continue
        for spec in idx.specs.values():
            if spec.source != spec.path or spec.source not in doc:
                continue
            value = doc[spec.source]
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if spec.is_numeric:
                for v in values:
                    if v is not None:
                        try:
                            to_number(v, spec.type)
                        except ValueError as exc:
                            raise ValueError(f"field [{spec.path}]: {exc}") from None
            elif spec.type == "knn_vector":
                arr = np.asarray(value, dtype=np.float64) if isinstance(value, list) else None
                if arr is None or arr.ndim != 1 or arr.shape[0] != spec.dimension:
                    raise ValueError(
                        f"field [{spec.path}]: vector must have {spec.dimension} numbers"
                    )
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"field [{spec.path}]: vector has NaN or infinite values")
                if spec.space_type == "cosinesimil" and not np.any(arr):
                    raise ValueError(
                        f"field [{spec.path}]: zero vector is not supported for cosinesimil"
                    )
            elif spec.type == "rank_features":
                if not isinstance(value, dict):
                    raise ValueError(f"field [{spec.path}]: rank_features must be an object")
                for k, v in value.items():
                    if "." in k:
                        raise ValueError(
                            f"field [{spec.path}]: feature name {k!r} must not contain dots"
                        )
                    if (
                        isinstance(v, bool)
                        or not isinstance(v, int | float)
                        or not v > 0
                        or not np.isfinite(v)
                    ):
                        raise ValueError(
                            f"field [{spec.path}.{k}]: value must be a positive number"
                        )
            elif spec.type in (TEXT, KEYWORD):
                for v in values:
                    if isinstance(v, dict | list):
                        raise ValueError(f"field [{spec.path}]: expected a string, got an object")

    def bulk(
        self,
        index: str,
        docs: Iterable[tuple[str, dict[str, Any]]],
        *,
        chunk_size: int = 1000,
        progress: ProgressCallback | None = None,
        max_errors: int = 100,
    ) -> BulkReport:
        t0 = time.perf_counter()
        idx = self._get(index)
        report = BulkReport()
        accepted: dict[str, dict[str, Any]] = {}
        since = 0
        for pos, (doc_id, source) in enumerate(docs):
            try:
                if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 512:
                    raise ValueError("document id must be a non-empty string of at most 512 bytes")
                self._check_doc(idx, source)
            except ValueError as exc:
                if len(report.errors) < max_errors:
                    report.errors.append(BulkError(str(doc_id), str(exc), pos))
                else:
                    report.errors.append(BulkError(str(doc_id), "(further errors not kept)", pos))
                    max_errors = len(report.errors)
            else:
                accepted[doc_id] = source
                report.indexed += 1
            since += 1
            if progress is not None and since >= chunk_size:
                progress(since)
                since = 0
        if progress is not None and since:
            progress(since)
        with self._lock:
            idx.pending.update(accepted)
        report.seconds = time.perf_counter() - t0
        return report

    def refresh(self, index: str) -> None:
        idx = self._get(index)
        with self._lock, self.store.lock:
            meta = self.store.read_meta(idx.name)
            if meta is None:
                raise IndexNotFoundError(index)
            if not idx.pending and meta.get("state") == "ready":
                return
            seg = idx.segment
            ids = list(seg.ids)
            sources = list(seg.sources)
            for doc_id, src in idx.pending.items():
                pos = seg.id_index.get(doc_id)
                if pos is None:
                    ids.append(doc_id)
                    sources.append(src)
                else:
                    sources[pos] = src
            new_seg = Segment.build(idx.specs, idx.analyzers, ids, sources)
            gen = int(meta.get("generation", 0)) + 1
            tmp = self.store.new_segment_dir(idx.name, gen)
            new_seg.save(tmp)
            self.store.publish_segment_dir(idx.name, tmp, gen)
            meta.update(generation=gen, state="ready", docs=len(ids))
            self.store.write_meta(idx.name, meta)
            self.store.prune_segments(idx.name, gen - KEEP_GENERATIONS + 1)
            self._indices[idx.name] = _Index(
                idx.name, meta, idx.specs, idx.analyzers, new_seg,
                self.store.meta_mtime(idx.name), {}, strict=idx.strict,
            )  # fmt: skip

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        idx = self._get(index)
        if query is None:
            return idx.segment.n_docs
        ex = Executor(idx.segment, idx.specs, idx.analyzers, idx.fuzzy_cache)
        return int(ex.query(query, "query")[1].sum())

    # -- aliases -------------------------------------------------------------------------
    def _put_alias(self, alias: str, index: str) -> None:
        aliases = self.store.read_aliases()
        if self.store.read_meta(alias) is not None:
            raise ConfigError(f"an index named {alias!r} exists; an alias cannot have its name")
        aliases[alias] = [index]
        self.store.write_aliases(aliases)

    def get_alias(self, alias: str) -> list[str]:
        return list(self._alias_map().get(alias, []))

    def swap_alias(self, alias: str, index: str) -> None:
        _validate_name(alias)
        with self._lock, self.store.lock:
            if self.store.read_meta(index) is None:
                raise IndexNotFoundError(index)
            self._put_alias(alias, index)

    def remove_alias(self, alias: str) -> None:
        with self._lock, self.store.lock:
            aliases = self.store.read_aliases()
            if aliases.pop(alias, None) is not None:
                self.store.write_aliases(aliases)

    # -- search --------------------------------------------------------------------------
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        idx = self._get(index)
        if not isinstance(body, dict):
            raise QueryError("a search body must be a JSON object", "body")
        for key in body:
            if key not in _BODY_KEYS:
                raise UnsupportedQueryError(key, "body")
        size = _nonneg_int(body.get("size", 10), "size")
        start = _nonneg_int(body.get("from", 0), "from")
        seg = idx.segment
        ex = Executor(seg, idx.specs, idx.analyzers, idx.fuzzy_cache)
        scores, mask = ex.query(body.get("query", {"match_all": {}}), "query")
        if body.get("min_score") is not None:
            mask = mask & (scores >= float(body["min_score"]))
        matched = np.flatnonzero(mask)
        total = len(matched)
        want = start + size
        if "rescore" in body:
            order, final = self._rescore(ex, matched, scores, body["rescore"], want)
        else:
            order = (
                matched[top_k_indices(scores[matched], min(want, total))] if want else matched[:0]
            )
            final = scores
        page = order[start:want]
        src_spec = body.get("_source")
        hits = []
        for d in page:
            hit: dict[str, Any] = {"_index": idx.name, "_id": seg.ids[d], "_score": float(final[d])}
            src = filter_source(seg.sources[d], src_spec)
            if src is not None:
                hit["_source"] = src
            names = [n for n, m in ex.named if m[d]]
            if names:
                hit["matched_queries"] = names
            hits.append(hit)
        max_score = float(final[order[0]]) if len(order) else None
        return {
            "took": int((time.perf_counter() - t0) * 1000),
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": total, "relation": "eq"},
                "max_score": max_score,
                "hits": hits,
            },
        }

    def _rescore(
        self, ex: Executor, matched: np.ndarray, scores: np.ndarray, spec: Any, want: int
    ) -> tuple[np.ndarray, np.ndarray]:
        rescorers = spec if isinstance(spec, list) else [spec]
        final = scores.copy()
        order = matched[top_k_indices(scores[matched], len(matched))]
        for i, r in enumerate(rescorers):
            path = f"rescore[{i}]"
            if not isinstance(r, dict) or "query" not in r:
                raise UnsupportedQueryError(
                    "rescore without 'query'", path, "only the query rescorer is supported"
                )
            window = _nonneg_int(r.get("window_size", 10), f"{path}.window_size")
            q = r["query"]
            for key in q:
                if key not in (
                    "rescore_query",
                    "query_weight",
                    "rescore_query_weight",
                    "score_mode",
                ):
                    raise UnsupportedQueryError(f"rescore.query.{key}", path)
            rs, rm = ex.query(q["rescore_query"], f"{path}.query.rescore_query")
            qw = float(q.get("query_weight", 1.0))
            rw = float(q.get("rescore_query_weight", 1.0))
            mode = q.get("score_mode", "total")
            top = order[:window]
            orig = final[top] * qw
            new = rs[top] * rw
            combined = {
                "total": lambda a, b: a + b,
                "multiply": lambda a, b: a * b,
                "avg": lambda a, b: (a + b) / 2.0,
                "max": np.maximum,
                "min": np.minimum,
            }.get(mode)
            if combined is None:
                raise QueryError(f"unknown rescore score_mode {mode!r}", path)
            final[top] = np.where(rm[top], combined(orig, new), orig)
            top_sorted = top[np.lexsort((top, -final[top]))]
            order = np.concatenate([top_sorted, order[window:]])
        return order, final

    def msearch(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, body in requests:
            try:
                out.append(self.search(index, body))
            except IndexNotFoundError as exc:
                out.append(
                    {
                        "error": {"type": "index_not_found_exception", "reason": str(exc)},
                        "status": 404,
                    }
                )
            except LtrrError as exc:
                etype = (
                    "unsupported_query"
                    if isinstance(exc, UnsupportedQueryError)
                    else "query_shard_exception"
                )
                out.append({"error": {"type": etype, "reason": str(exc)}, "status": 400})
        return out

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        seg = self._get(index).segment
        return [seg.sources[seg.id_index[i]] if i in seg.id_index else None for i in ids]

    def terms(self, index: str, field: str, size: int = 10_000) -> list[tuple[str, int]]:
        idx = self._get(index)
        spec = idx.specs.get(field)
        if spec is None:
            return []
        if spec.type == KEYWORD:
            inv = idx.segment.inverted[field]
            counts = np.diff(inv.indptr)
            order = sorted(range(len(inv.terms)), key=lambda j: (-counts[j], inv.terms[j]))
            return [(inv.terms[j], int(counts[j])) for j in order[:size]]
        if spec.is_numeric:
            num = idx.segment.numeric[field]
            pairs = np.unique(np.stack([num.pair_docs.astype(np.float64), num.pair_vals]), axis=1)
            vals, counts = np.unique(pairs[1], return_counts=True)
            order = np.lexsort((vals, -counts))[:size]
            return [(_fmt_number(vals[j]), int(counts[j])) for j in order]
        raise ConfigError(
            f"terms of {spec.type} field {field!r} are not available; use its keyword sub-field"
        )


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QueryError(f"{name} must be a non-negative integer, got {value!r}", name)
    return value
