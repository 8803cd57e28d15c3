"""Build a new index version, check it, and only then swap the alias onto it.

A reindex never touches what users search until the new version is complete: documents
go into a fresh versioned index (``music-v20261124T101500123456``), its vectors are made
by an encoder fitted on the catalog and saved beside it, the document count and a smoke
query are checked, and the alias moves in one atomic step. Any failure before the swap
deletes the half-built version and its encoder; the alias still points at the old one.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engines.base import Engine
from ..errors import ConfigError, DataError

#: How many rejected documents a report keeps (the count is always exact).
MAX_REPORTED = 50


@dataclass
class IndexReport:
    """What :func:`build_index` did."""

    alias: str
    index: str
    docs: int = 0
    loaded: int = 0
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (where, field, why)
    n_rejected: int = 0
    seconds: float = 0.0
    encoder: dict[str, Any] | None = None
    previous: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def docs_per_s(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias, "index": self.index, "docs": self.docs,
            "loaded": self.loaded, "rejected": self.n_rejected,
            "first_rejected": [list(r) for r in self.rejected[:10]],
            "seconds": round(self.seconds, 3), "docs_per_s": round(self.docs_per_s, 1),
            "encoder": self.encoder, "previous": self.previous, "pruned": self.pruned,
        }  # fmt: skip


_last_version = ""


def version_name(alias: str) -> str:
    """``<alias>-v<UTC timestamp with microseconds>``: names sort in creation order."""
    global _last_version
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S%f")
    name = f"{alias}-v{stamp}"
    if name <= _last_version:  # same microsecond (or a clock step back): stay ordered
        name = _last_version + "0"
    _last_version = name
    return name


def versions_of(engine: Engine, alias: str) -> list[str]:
    """The versioned indices of ``alias``, oldest first."""
    prefix = f"{alias}-v"
    return sorted(i.name for i in engine.list_indices() if i.name.startswith(prefix))


def encoder_dir(data_dir: str | Path, index: str) -> Path:
    """Where the encoder of an index version lives (the Searcher loads it from here)."""
    return Path(data_dir).expanduser() / "encoders" / index


def _resolve_template(template: str | Mapping[str, Any]) -> dict[str, Any]:
    from ..templates import load_template

    if isinstance(template, Mapping):
        import copy

        return copy.deepcopy(dict(template))
    return load_template(template)


def build_index(
    engine: Engine,
    alias: str,
    docs: Iterable[Mapping[str, Any]],
    *,
    template: str | Mapping[str, Any] = "music",
    id_field: str | None = None,
    data_dir: str | Path | None = None,
    encoder: str | Mapping[str, Any] | None = "template",
    keep: int = 2,
    smoke_query: Mapping[str, Any] | None = None,
    progress: bool | Callable[[int], None] = False,
    batch_size: int = 2000,
    allow_errors: bool = False,
) -> IndexReport:
    """Index ``docs`` into a new version of ``alias`` and swap the alias onto it.

    ``encoder``: ``"template"`` fits the template's ``_meta.ltrr.vector.encoder``; a spec
    dict fits that one; ``None``/``"none"`` indexes no vectors. Fitting needs every
    document in memory (the encoder sees the whole catalog), so ``docs`` is listed.
    Rejected documents abort the build (:class:`DataError` naming them) unless
    ``allow_errors``. ``keep`` versions are kept (the live one always).
    """
    from ..templates import ltrr_meta

    if keep < 1:
        raise ConfigError("keep must be at least 1 (the live version)")
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    tmpl = _resolve_template(template)
    meta = ltrr_meta(tmpl)
    id_field = id_field or meta.get("id_field")
    if not id_field:
        raise ConfigError("no id field: pass id_field or set _meta.ltrr.id_field in the template")
    t0 = time.perf_counter()
    docs = [dict(d) for d in docs]
    index = version_name(alias)
    report = IndexReport(alias=alias, index=index, docs=len(docs))
    report.previous = engine.get_alias(alias)
    ddir = Path(data_dir).expanduser() if data_dir is not None else None
    enc_path: Path | None = None
    created = False
    try:
        ids = _check_ids(docs, id_field, report, allow_errors)
        vec = meta.get("vector") if encoder not in (None, "none") else None
        if vec is not None:
            spec = vec["encoder"] if encoder == "template" else encoder
            enc_path = _embed(docs, vec, spec, ddir, index, report)
        engine.create_index(index, tmpl)
        created = True
        _load(engine, index, ids, docs, report, progress, batch_size, allow_errors)
        engine.refresh(index)
        n = engine.count(index)
        if n != report.loaded:
            raise DataError(f"{index}: {n} documents searchable, {report.loaded} loaded")
        if report.loaded == 0:
            raise DataError(f"{index}: no document was loaded; the alias stays where it was")
        if smoke_query is not None:
            hits = engine.search(index, dict(smoke_query))["hits"]["hits"]
            if not hits:
                raise DataError(f"{index}: the smoke query found nothing; the alias stays")
        engine.swap_alias(alias, index)
    except BaseException:
        if created:
            with contextlib.suppress(Exception):  # the original error matters more
                engine.delete_index(index)
        if enc_path is not None:
            shutil.rmtree(enc_path, ignore_errors=True)
        raise
    report.pruned = prune(engine, alias, keep, ddir)
    report.seconds = time.perf_counter() - t0
    return report


def prune(engine: Engine, alias: str, keep: int, data_dir: Path | None) -> list[str]:
    """Delete versions of ``alias`` beyond the newest ``keep`` (never a live one)."""
    live = set(engine.get_alias(alias))
    versions = versions_of(engine, alias)
    old = [v for v in versions[: max(0, len(versions) - keep)] if v not in live]
    for v in old:
        engine.delete_index(v)
        if data_dir is not None:
            shutil.rmtree(encoder_dir(data_dir, v), ignore_errors=True)
    return old


def _reject(report: IndexReport, where: str, fld: str, why: str) -> None:
    report.n_rejected += 1
    if len(report.rejected) < MAX_REPORTED:
        report.rejected.append((where, fld, why))


def _check_ids(
    docs: list[dict[str, Any]], id_field: str, report: IndexReport, allow_errors: bool
) -> list[str | None]:
    """Every document needs a unique, non-empty id; ``None`` marks a rejected one."""
    seen: dict[str, int] = {}
    ids: list[str | None] = []
    for i, d in enumerate(docs):
        where = str(d.get("_line", f"doc {i + 1}"))
        raw = d.get(id_field)
        if raw is None or str(raw).strip() == "":
            _reject(report, where, id_field, "missing id")
            ids.append(None)
            continue
        key = str(raw)
        if key in seen:
            _reject(report, where, id_field, f"duplicate id {key!r} (first at doc {seen[key]})")
            ids.append(None)
            continue
        seen[key] = i + 1
        ids.append(key)
    if report.n_rejected and not allow_errors:
        raise DataError(_describe(report))
    return ids


def _describe(report: IndexReport) -> str:
    first = "; ".join(f"{w} field {f!r}: {why}" for w, f, why in report.rejected[:5])
    more = f" (and {report.n_rejected - 5} more)" if report.n_rejected > 5 else ""
    return f"{report.n_rejected} document(s) rejected: {first}{more}; nothing was aliased"


def _embed(
    docs: list[dict[str, Any]],
    vec: Mapping[str, Any],
    spec: Any,
    data_dir: Path | None,
    index: str,
    report: IndexReport,
) -> Path | None:
    """Fit the encoder on the catalog, write each document's vector, save the encoder."""
    from ..encoders import doc_text, make_encoder

    texts = [doc_text(d, vec["source_fields"]) for d in docs]
    enc = make_encoder(spec).fit(texts)
    matrix = enc.encode(texts)
    fld = vec["field"]
    for d, v in zip(docs, matrix, strict=True):
        d[fld] = v.tolist()
    report.encoder = enc.spec()
    if data_dir is None:
        return None
    path = encoder_dir(data_dir, index)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    enc.save(tmp)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def _load(
    engine: Engine,
    index: str,
    ids: list[str | None],
    docs: list[dict[str, Any]],
    report: IndexReport,
    progress: bool | Callable[[int], None],
    batch_size: int,
    allow_errors: bool,
) -> None:
    pairs = (
        (i, {k: v for k, v in d.items() if k != "_line"})
        for i, d in zip(ids, docs, strict=True)
        if i is not None
    )
    where = {
        i: str(d.get("_line", f"doc {n + 1}"))
        for n, (i, d) in enumerate(zip(ids, docs, strict=True))
    }
    bar = None
    callback: Callable[[int], None] | None = progress if callable(progress) else None
    if progress is True:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"indexing {index}", total=len(docs))
        callback = lambda n: bar.advance(task, n)  # noqa: E731
    try:
        bulk = engine.bulk(index, pairs, chunk_size=batch_size, progress=callback)
    finally:
        if bar is not None:
            bar.stop()
    report.loaded = bulk.indexed
    for e in bulk.errors:
        _reject(report, where.get(e.doc_id, e.doc_id), "", e.reason)
    if bulk.errors and not allow_errors:
        raise DataError(_describe(report))
