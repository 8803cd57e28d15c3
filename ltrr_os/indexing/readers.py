"""Catalog files to documents: CSV, JSONL, or the real Spotify songs CSV.

Values are coerced to the template's mapping (integer, float, date, keyword, text), so a
CSV's strings become numbers where the index wants numbers. Each problem is reported
with the file, line and field (``tracks.csv:17: field 'year': 'abc' is not an
integer``) and the row is rejected; reading continues, so one pass reports everything.
Fields the template does not know are errors (a typo in a column name must not silently
drop data) unless mapped away with ``--map col=`` or ``ignore_unknown``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

FORMATS = ("csv", "jsonl", "spotify")
_NUMERIC = {"integer", "long", "short", "byte", "float", "double", "half_float", "scaled_float"}
_INTS = {"integer", "long", "short", "byte"}


@dataclass
class ReadReport:
    rows: int = 0
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (file:line, field, why)
    n_rejected: int = 0

    def reject(self, where: str, fld: str, why: str) -> None:
        self.n_rejected += 1
        if len(self.rejected) < 50:
            self.rejected.append((where, fld, why))


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline()
        return "spotify" if "track_name" in header and "track_artist" in header else "csv"
    raise ConfigError(f"{path}: cannot tell the format from {suffix!r}; pass --format")


def parse_mapping(pairs: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """``["name=title", "junk="]`` -> {"name": "title", "junk": None} (None drops it)."""
    out: dict[str, str | None] = {}
    for pair in pairs:
        col, sep, fld = pair.partition("=")
        if not sep or not col:
            raise ConfigError(f"--map expects COLUMN=FIELD (or COLUMN= to drop), got {pair!r}")
        out[col] = fld or None
    return out


def field_types(template: Mapping[str, Any]) -> dict[str, str]:
    """Top-level field -> mapping type."""
    props = template.get("mappings", {}).get("properties", {})
    return {k: v.get("type", "object") for k, v in props.items()}


def coerce(value: Any, kind: str) -> Any:
    """``value`` as the mapping ``kind`` wants it; ValueError says why not."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, list):
        return [coerce(v, kind) for v in value]
    if kind in _NUMERIC:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(x):
            raise ValueError(f"{value!r} is not a finite number")
        if kind in _INTS:
            if x != int(x):
                raise ValueError(f"{value!r} is not an integer")
            return int(x)
        return x
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if kind == "date":
        s = str(value).strip()
        for fmt in (None, "%Y-%m", "%Y"):
            try:
                if fmt is None:
                    (datetime if "T" in s else date).fromisoformat(s.replace("Z", "+00:00"))
                else:
                    datetime.strptime(s, fmt)
                return s
            except ValueError:
                continue
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")
    if kind in ("keyword", "text"):
        if isinstance(value, dict):
            raise ValueError("an object is not text")
        return value if isinstance(value, str) else str(value)
    return value  # knn_vector, rank_features, object: checked by the engine


def read_documents(
    path: str | Path,
    *,
    template: Mapping[str, Any],
    fmt: str | None = None,
    mapping: Mapping[str, str | None] | None = None,
    ignore_unknown: bool = False,
    report: ReadReport | None = None,
    list_fields: tuple[str, ...] = (),
    list_sep: str = "|",
) -> Iterator[dict[str, Any]]:
    """Documents of a catalog file, coerced; rejected rows go to ``report``.

    Every yielded document carries ``_line`` (``file:line``) for later error messages;
    the indexing pipeline strips it. ``list_fields`` are split on ``list_sep`` in CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {FORMATS}")
    report = report if report is not None else ReadReport()
    mapping = dict(mapping or {})
    types = field_types(template)
    if fmt == "spotify":
        from ..datasets import iter_spotify

        for doc in iter_spotify(path):
            report.rows += 1
            yield doc
        return
    rows = _csv_rows(path) if fmt == "csv" else _jsonl_rows(path)
    for line, row in rows:
        report.rows += 1
        where = f"{path.name}:{line}"
        if isinstance(row, str):
            report.reject(where, "", row)
            continue
        doc: dict[str, Any] = {}
        bad = False
        for col, value in row.items():
            name = mapping.get(col, col) if col in mapping else col
            if name is None:
                continue
            kind = types.get(name)
            if kind is None:
                if ignore_unknown:
                    continue
                report.reject(where, name, f"not a field of the template ({_near(name, types)})")
                bad = True
                break
            if fmt == "csv" and name in list_fields and isinstance(value, str):
                value = [v.strip() for v in value.split(list_sep) if v.strip()]
            try:
                doc[name] = coerce(value, kind)
            except ValueError as exc:
                report.reject(where, name, str(exc))
                bad = True
                break
        if not bad:
            doc["_line"] = where
            yield doc


def _near(name: str, types: Mapping[str, str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(types), n=1)
    return f"did you mean {close[0]!r}?" if close else "map it with --map COLUMN=FIELD"


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8", errors="strict", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file (no header row)") from None
        except csv.Error as exc:
            raise DataError(f"{path}:1: malformed header ({exc})") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
        dup = {h for h in header if header.count(h) > 1}
        if dup:
            raise DataError(f"{path}:1: duplicate column(s) {sorted(dup)}")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, f"malformed CSV row ({exc})"
                continue
            except UnicodeDecodeError as exc:
                yield reader.line_num + 1, f"not UTF-8 text ({exc.reason})"
                return
            if not row:
                continue
            if len(row) != len(header):
                yield reader.line_num, f"{len(row)} values for {len(header)} columns"
                continue
            yield reader.line_num, dict(zip(header, row, strict=True))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield n, f"invalid JSON ({exc})"
                continue
            if not isinstance(obj, dict):
                yield n, "a document must be a JSON object"
                continue
            yield n, obj
