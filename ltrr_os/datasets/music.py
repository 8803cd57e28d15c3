"""The real music catalog: TidyTuesday's ``spotify_songs.csv`` as ltrr-os documents.

The file has one row per (track, playlist), so a track appears once per playlist that
holds it (32,833 rows, 28,356 tracks). :func:`iter_spotify` yields one document per
``track_id`` with the playlist genres and subgenres merged into lists, in the order of
first appearance. The document schema is the one of ``index_templates/music.json``
(see :data:`MUSIC_FIELDS`) and the same as :func:`ltrr_os.datasets.sample.generate_music_catalog`
produces, so plans, tests and the demo work on either.
"""

from __future__ import annotations

import csv
import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

#: Every field of a music document, in a stable order (CSV column order too).
MUSIC_FIELDS: tuple[str, ...] = (
    "track_id",
    "title",
    "artist",
    "album",
    "album_id",
    "release_date",
    "year",
    "decade",
    "genre",
    "subgenre",
    "popularity",
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "speechiness",
    "instrumentalness",
    "liveness",
    "tempo",
    "duration_ms",
)
#: Multi-valued fields (lists of strings).
MUSIC_LIST_FIELDS: frozenset[str] = frozenset({"genre", "subgenre"})
#: Audio features, floats in [0, 1].
AUDIO_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "speechiness",
    "instrumentalness",
    "liveness",
)

SPOTIFY_COLUMNS: tuple[str, ...] = (
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_id",
    "track_album_name",
    "track_album_release_date",
    "playlist_name",
    "playlist_id",
    "playlist_genre",
    "playlist_subgenre",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
)
#: The file was written by R: a missing cell is the string ``NA``. Only the name columns
#: have missing values; they become "" (a number or id that is ``NA`` is an error).
_NA = "NA"
_NAME_COLUMNS = {"track_name": "title", "track_artist": "artist", "track_album_name": "album"}
_FLOAT_COLUMNS = (*AUDIO_FEATURES, "tempo")


@dataclass
class SpotifyStats:
    """What :func:`iter_spotify` met, for reports (filled as the iterator is consumed)."""

    rows: int = 0
    tracks: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # field -> documents with ""
    partial_dates: dict[str, int] = field(default_factory=dict)  # "YYYY" / "YYYY-MM" -> count


def normalize_release_date(value: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` -> ``YYYY-MM-DD`` (missing parts are 01).

    Spotify reports only the year (or month) for old albums; the index wants one date
    format, and "January 1st" is the convention Spotify itself uses for year-only dates.
    Raises ``ValueError`` for anything else (including impossible dates).
    """
    s = value.strip()
    if len(s) == 4:
        s += "-01-01"
    elif len(s) == 7:
        s += "-01"
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        raise ValueError(f"{value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    _dt.date.fromisoformat(s)  # validates month/day ranges
    return s


def iter_spotify(
    path: str | Path, *, stats: SpotifyStats | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one music document per unique ``track_id`` of a TidyTuesday Spotify CSV.

    Documents come in order of each track's first row. Missing names (``NA``) become ""
    and are counted in ``stats.missing``. The whole file is read before the first
    document is yielded, because a track's genres can be spread over distant rows.
    Raises :class:`DataError` naming the file, line and column of a bad cell.
    """
    path = Path(path)
    st = stats if stats is not None else SpotifyStats()
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    docs: dict[str, dict[str, Any]] = {}
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file (expected a header row)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:1: cannot parse the header ({exc})") from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        missing_cols = [c for c in SPOTIFY_COLUMNS if c not in header]
        if missing_cols:
            raise DataError(
                f"{path}:1: missing columns {missing_cols} "
                f"(expected the TidyTuesday spotify_songs.csv header)"
            )
        col = {c: header.index(c) for c in SPOTIFY_COLUMNS}
        ncols = len(header)
        i_id, i_genre, i_sub = col["track_id"], col["playlist_genre"], col["playlist_subgenre"]
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                st.rows += 1
                if len(row) != ncols:
                    raise DataError(f"{path}:{line}: expected {ncols} columns, found {len(row)}")
                tid = row[i_id].strip()
                doc = docs.get(tid)
                if doc is None:
                    if not tid or tid == _NA:
                        raise DataError(f"{path}:{line}: column track_id is empty")
                    doc = _make_doc(row, col, path, line, st)
                    docs[tid] = doc
                g, sg = row[i_genre].strip(), row[i_sub].strip()
                if g and g != _NA and g not in doc["genre"]:
                    doc["genre"].append(g)
                if sg and sg != _NA and sg not in doc["subgenre"]:
                    doc["subgenre"].append(sg)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: after line {line}: not UTF-8 ({exc.reason})") from None
    st.tracks = len(docs)
    yield from docs.values()


def load_spotify(path: str | Path) -> tuple[list[dict[str, Any]], SpotifyStats]:
    """All documents of :func:`iter_spotify` plus what was met on the way."""
    stats = SpotifyStats()
    return list(iter_spotify(path, stats=stats)), stats


def _make_doc(
    row: list[str], col: dict[str, int], path: Path, line: int, st: SpotifyStats
) -> dict[str, Any]:
    def cell(name: str) -> str:
        return row[col[name]].strip()

    def number(name: str, kind: type) -> Any:
        raw = cell(name)
        try:
            x = float(raw)
        except ValueError:
            raise DataError(f"{path}:{line}: column {name}: {raw!r} is not a number") from None
        if x != x or x in (float("inf"), float("-inf")):
            raise DataError(f"{path}:{line}: column {name}: {raw!r} is not a finite number")
        if kind is int:
            if x != int(x):
                raise DataError(f"{path}:{line}: column {name}: {raw!r} is not an integer")
            return int(x)
        return x

    names: dict[str, str] = {}
    for column, fname in _NAME_COLUMNS.items():
        value = cell(column)
        if value == _NA or not value:
            value = ""
            st.missing[fname] = st.missing.get(fname, 0) + 1
        names[fname] = value

    raw_date = cell("track_album_release_date")
    try:
        release_date = normalize_release_date(raw_date)
    except ValueError as exc:
        raise DataError(f"{path}:{line}: column track_album_release_date: {exc}") from None
    if len(raw_date) < 10:
        key = "YYYY" if len(raw_date) == 4 else "YYYY-MM"
        st.partial_dates[key] = st.partial_dates.get(key, 0) + 1
    year = int(release_date[:4])

    doc: dict[str, Any] = {
        "track_id": cell("track_id"),
        "title": names["title"],
        "artist": names["artist"],
        "album": names["album"],
        "album_id": cell("track_album_id"),
        "release_date": release_date,
        "year": year,
        "decade": year // 10 * 10,
        "genre": [],
        "subgenre": [],
        "popularity": float(number("track_popularity", float)),
    }
    for name in _FLOAT_COLUMNS:
        doc[name] = number(name, float)
    doc["duration_ms"] = number("duration_ms", int)
    # keep MUSIC_FIELDS order so documents print and serialise alike from every source
    return {k: doc[k] for k in MUSIC_FIELDS}
