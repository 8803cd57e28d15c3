"""The real product catalog: Home Depot product titles and graded relevance labels.

``products.csv`` (product_uid, product_title) becomes documents of
``index_templates/products.json``; ``train_labels.csv`` gives (query, product_uid,
relevance) judgments on the 1-3 scale (fractional values are averages of raters). For
NDCG use gain = relevance - 1 (see ``../shared/data/README.md``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError

PRODUCT_FIELDS: tuple[str, ...] = ("product_uid", "title")

Label = tuple[str, str, float]


def _open_csv(
    path: Path, required: tuple[str, ...]
) -> tuple[Iterator[tuple[int, list[str]]], dict[str, int]]:
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    reader = csv.reader(fh)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        fh.close()
        raise DataError(f"{path}: empty file (expected a header row)") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        fh.close()
        raise DataError(f"{path}:1: cannot parse the header ({exc})") from None
    missing = [c for c in required if c not in header]
    if missing:
        fh.close()
        raise DataError(f"{path}:1: missing columns {missing} (found {header})")
    col = {c: header.index(c) for c in required}
    ncols = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        with fh:
            try:
                for row in reader:
                    if not row:
                        continue
                    if len(row) != ncols:
                        raise DataError(
                            f"{path}:{reader.line_num}: expected {ncols} columns, found {len(row)}"
                        )
                    yield reader.line_num, row
            except csv.Error as exc:
                raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}: after line {reader.line_num}: not UTF-8 ({exc.reason})"
                ) from None

    return rows(), col


def iter_products(path: str | Path) -> Iterator[dict[str, str]]:
    """Yield ``{"product_uid", "title"}`` per row of ``products.csv`` (uid kept as a string).

    A uid is an identifier, not a number: it is a ``keyword`` in the index and the key of
    the labels, so it stays the exact string of the file.
    """
    path = Path(path)
    rows, col = _open_csv(path, ("product_uid", "product_title"))
    i_uid, i_title = col["product_uid"], col["product_title"]
    seen: set[str] = set()
    for line, row in rows:
        uid = row[i_uid].strip()
        if not uid:
            raise DataError(f"{path}:{line}: column product_uid is empty")
        if uid in seen:
            raise DataError(f"{path}:{line}: product_uid {uid!r} appears twice")
        seen.add(uid)
        yield {"product_uid": uid, "title": row[i_title].strip()}


def load_labels(path: str | Path) -> list[Label]:
    """``train_labels.csv`` -> ``[(search_term, product_uid, relevance), ...]`` in file order.

    The query key is the exact ``search_term`` string (the data set has no query id), so
    it is kept verbatim: normalising it could merge queries the raters judged apart.
    """
    path = Path(path)
    rows, col = _open_csv(path, ("product_uid", "search_term", "relevance"))
    i_uid, i_q, i_rel = col["product_uid"], col["search_term"], col["relevance"]
    out: list[Label] = []
    for n, row in rows:
        uid, raw = row[i_uid].strip(), row[i_rel].strip()
        try:
            rel = float(raw)
        except ValueError:
            raise DataError(f"{path}:{n}: column relevance: {raw!r} is not a number") from None
        if not 0.0 <= rel < float("inf"):  # also rejects NaN
            raise DataError(f"{path}:{n}: column relevance: {raw!r} must be a finite number >= 0")
        if not uid:
            raise DataError(f"{path}:{n}: column product_uid is empty")
        out.append((row[i_q], uid, rel))
    return out
