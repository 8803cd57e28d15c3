"""Reading an OpenSearch mapping into flat field specs the embedded engine executes."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError

TEXT = "text"
KEYWORD = "keyword"
NUMERIC_TYPES = {
    "integer", "long", "short", "byte", "float", "double", "half_float", "scaled_float",
    "unsigned_long",
}  # fmt: skip
INTEGER_TYPES = {"integer", "long", "short", "byte", "unsigned_long"}
SUPPORTED = {TEXT, KEYWORD, "date", "boolean", "knn_vector", "rank_features", "rank_feature"}
SUPPORTED |= NUMERIC_TYPES


@dataclass(frozen=True)
class FieldSpec:
    """One indexed field (sub-fields like ``title.keyword`` are their own spec)."""

    path: str  # dotted name used in queries
    source: str  # the _source key it reads (the parent for sub-fields)
    type: str
    analyzer: str = "standard"
    search_analyzer: str | None = None
    ignore_above: int | None = None
    dimension: int | None = None
    space_type: str = "l2"
    positive_score_impact: bool = True
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES or self.type in ("date", "boolean")


def flatten_mapping(mappings: dict[str, Any]) -> dict[str, FieldSpec]:
    """``mappings.properties`` (with ``fields`` sub-fields and objects) -> path -> spec."""
    out: dict[str, FieldSpec] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "properties" in spec and spec.get("type", "object") in ("object",):
                walk(spec["properties"], path + ".")
                continue
            ftype = spec.get("type")
            if ftype not in SUPPORTED:
                raise ConfigError(
                    f"mappings.properties.{path}: field type {ftype!r} is not supported by the "
                    f"embedded engine; supported: {sorted(SUPPORTED)}"
                )
            out[path] = _spec(path, path, spec)
            for sub, subspec in (spec.get("fields") or {}).items():
                stype = subspec.get("type")
                if stype not in SUPPORTED:
                    raise ConfigError(
                        f"mappings.properties.{path}.fields.{sub}: unsupported type {stype!r}"
                    )
                out[f"{path}.{sub}"] = _spec(f"{path}.{sub}", path, subspec)

    walk(mappings.get("properties") or {}, "")
    return out


def _spec(path: str, source: str, spec: dict[str, Any]) -> FieldSpec:
    ftype = spec["type"]
    if ftype == "knn_vector":
        dim = spec.get("dimension")
        if not isinstance(dim, int) or dim <= 0:
            raise ConfigError(f"mappings.properties.{path}: knn_vector needs a positive dimension")
        method = spec.get("method") or {}
        space = method.get("space_type") or spec.get("space_type") or "l2"
        if space not in ("l2", "cosinesimil", "innerproduct"):
            raise ConfigError(f"mappings.properties.{path}: unsupported space_type {space!r}")
        return FieldSpec(path, source, ftype, dimension=dim, space_type=space)
    return FieldSpec(
        path,
        source,
        ftype,
        analyzer=spec.get("analyzer", "standard" if ftype == TEXT else "keyword"),
        search_analyzer=spec.get("search_analyzer"),
        ignore_above=spec.get("ignore_above"),
        positive_score_impact=spec.get("positive_score_impact", True),
        params={k: v for k, v in spec.items() if k in ("format", "scaling_factor")},
    )


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def parse_date(value: Any) -> float:
    """Epoch millis of an ISO date/datetime string or an epoch-millis number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    s = value.strip()
    if s.isdigit() and len(s) > 4:
        return float(s)
    try:
        if len(s) == 4 and s.isdigit():
            d = _dt.datetime(int(s), 1, 1, tzinfo=_dt.timezone.utc)
        elif len(s) == 7:
            d = _dt.datetime.strptime(s, "%Y-%m").replace(tzinfo=_dt.timezone.utc)
        else:
            d = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            if d.tzinfo is None:
                d = d.replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (expected ISO 8601 or epoch millis)") from None
    return (d - _EPOCH).total_seconds() * 1000.0


def to_number(value: Any, ftype: str) -> float:
    """Coerce a source value like OpenSearch's numeric field parsers (strings allowed)."""
    if ftype == "date":
        return parse_date(value)
    if ftype == "boolean":
        if value in (True, "true"):
            return 1.0
        if value in (False, "false", ""):
            return 0.0
        raise ValueError(f"{value!r} is not a boolean")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{value!r} is not a finite number")
    if ftype in INTEGER_TYPES and x != int(x):
        raise ValueError(f"{value!r} is not an integer")
    return x
