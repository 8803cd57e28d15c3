"""A deterministic synthetic music catalog for ``make demo``, tests and the simulator.

Why synthetic when a real catalog exists: the demo and CI must run without
``../shared/data``, and tests need a catalog whose structure is known (artist names that
invite typos, titles that share words across artists, a popularity prior with a long
tail). Every name is invented from word lists; none is a real artist.

Documents have exactly the schema of ``index_templates/music.json``
(:data:`ltrr_os.datasets.music.MUSIC_FIELDS`) with plain Python types, so they serialise
to JSON as-is. The same ``(n_tracks, seed)`` always gives the same documents.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_open
from ..errors import ConfigError, DataError
from .music import MUSIC_FIELDS

#: The genres and subgenres of the real (Spotify) catalog, so one plan fits both.
GENRES: dict[str, tuple[str, ...]] = {
    "pop": ("dance pop", "post-teen pop", "electropop", "indie poptimism"),
    "rap": ("hip hop", "southern hip hop", "gangster rap", "trap"),
    "rock": ("album rock", "classic rock", "permanent wave", "hard rock"),
    "latin": ("tropical", "latin pop", "reggaeton", "latin hip hop"),
    "r&b": ("urban contemporary", "hip pop", "new jack swing", "neo soul"),
    "edm": ("electro house", "big room", "pop edm", "progressive electro house"),
}
_GENRE_NAMES = tuple(GENRES)
_GENRE_WEIGHTS = np.array([0.2, 0.18, 0.16, 0.15, 0.15, 0.16])

# (first debut year, last debut year) per genre: rock is older, edm younger.
_ERAS = {
    "pop": (1962, 2022),
    "rap": (1982, 2022),
    "rock": (1960, 2014),
    "latin": (1965, 2022),
    "r&b": (1962, 2020),
    "edm": (1992, 2022),
}
# Means of danceability, energy, valence, acousticness, speechiness, instrumentalness,
# liveness; tempo mean. Loosely after the real catalog's per-genre averages.
_AUDIO_ORDER = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "speechiness",
    "instrumentalness",
    "liveness",
)
_AUDIO_MEANS = {
    "pop": ((0.64, 0.70, 0.50, 0.17, 0.07, 0.06, 0.18), 120.0),
    "rap": ((0.72, 0.65, 0.50, 0.19, 0.20, 0.08, 0.19), 120.0),
    "rock": ((0.52, 0.73, 0.54, 0.15, 0.06, 0.06, 0.20), 125.0),
    "latin": ((0.71, 0.71, 0.60, 0.21, 0.10, 0.05, 0.18), 118.0),
    "r&b": ((0.67, 0.59, 0.53, 0.26, 0.12, 0.03, 0.17), 114.0),
    "edm": ((0.66, 0.80, 0.40, 0.08, 0.09, 0.22, 0.21), 126.0),
}

# Invented spellings on purpose ("Tayla Swyfield", "Kaytlin Brightwater"): the query
# understanding must cope with users typing "taylor swifield" or "caitlin brightwater".
_FIRST = (
    "Tayla", "Kaytlin", "Jaxon", "Brayden", "Mikayla", "Aubree", "Zoë", "Renée", "Ximena",
    "Joaquín", "Dmitri", "Siobhan", "Niamh", "Xavier", "Kenzie", "Rhiannon", "Jaydn",
    "Maddox", "Anaïs", "Esmé", "Leighton", "Marisol", "Thiago", "Yusuf", "Imani", "Khalil",
    "Delphine", "Océane", "Brooklynn", "Rylee", "Kortney", "Sasha", "Tristyn", "Oksana",
    "Lorenzo", "Giselle", "Dashiell", "Saoirse", "Ezekiel", "Ingrid", "Malachi", "Priya",
    "Katalina", "Jazmyn", "Ashleigh", "Desmond", "Lucía", "Matteo", "Rosalind", "Nikolai",
)  # fmt: skip
_LAST = (
    "Swyfield", "Brightwater", "Kovalczyk", "Ashcombe", "Thornbury", "Kellaway", "Dunmore",
    "Oyelaran", "Castellanos", "Villaseñor", "Abernathy", "Fairweather", "Loxley",
    "Hollingsworth", "Penhaligon", "Ravensworth", "Whitlock", "Esposito", "Delgado",
    "Moreau", "Nakamura", "Achterberg", "Lindqvist", "Okafor", "Brennagh", "McAllister",
    "O'Shaughnessy", "Kingsley", "Rourke", "Stroud", "Ellery", "Hargreave", "Treadwell",
    "Winslow", "Galloway", "Pembrooke", "Rosales", "Ibarra", "Fontaine", "Lachance",
    "Bellweather", "Halloran", "Szymańska", "Quillfeather", "Marchetti", "Vasquéz",
)  # fmt: skip
_BAND_ADJ = (
    "Velvet", "Neon", "Hollow", "Crimson", "Paper", "Golden", "Static", "Copper", "Lunar",
    "Sapphire", "Rusty", "Tangerine", "Wandering", "Silent", "Lucky", "Feral", "Hazy",
    "Violet", "Restless", "Glass",
)  # fmt: skip
_BAND_NOUN = (
    "Comets", "Lanterns", "Harbors", "Wolves", "Daisies", "Satellites", "Engines", "Ravens",
    "Parade", "Machines", "Tides", "Echoes", "Mirrors", "Highways", "Orchards", "Sparrows",
    "Giants", "Cathedrals", "Magnets", "Thieves",
)  # fmt: skip

_NOUNS = (
    "Love", "Night", "Summer", "Heart", "Fire", "Rain", "Dream", "Gold", "City", "Lights",
    "Ocean", "Star", "Sky", "Money", "Home", "River", "Shadow", "Diamond", "Thunder",
    "Sugar", "Honey", "Paradise", "Highway", "Angel", "Ghost", "Memory", "Echo", "Storm",
    "Moon", "Sun", "Kiss", "Tears", "Midnight", "Heaven", "Wildfire", "Window", "Dance",
    "Radio", "Mirror", "Daylight",
)  # fmt: skip
_ADJS = (
    "Golden", "Electric", "Broken", "Dark", "Sweet", "Crazy", "Lonely", "Young", "Blue",
    "Wild", "Slow", "Endless", "Burning", "Neon", "Silver", "Perfect", "Hidden", "Little",
    "Restless", "Fading",
)  # fmt: skip
_VERBS = (
    "Chasing", "Burning", "Falling", "Dancing", "Waiting", "Running", "Holding", "Breaking",
    "Calling", "Dreaming", "Losing", "Finding",
)  # fmt: skip
_ME_VERBS = ("Hold", "Kiss", "Take", "Call", "Love", "Save", "Show", "Tell")
_ADVS = ("Tonight", "Forever", "Again", "Slowly", "Now", "Tomorrow", "Baby", "Closer")
_SPANISH = (
    "Amor", "Corazón", "Noche", "Fuego", "Baila", "Vida", "Luna", "Sol", "Cielo", "Besos",
    "Mañana", "Calor", "Playa", "Sueño",
)  # fmt: skip


def generate_music_catalog(n_tracks: int = 3000, seed: int = 0) -> list[dict[str, Any]]:
    """``n_tracks`` music documents by about ``n_tracks / 12`` invented artists.

    Popularity is Zipf-like: artist ``r`` (by rank) has a base of ``100 / (r + 1) ** 0.3``
    and each track a log-normal factor, plus a mild recency bonus, clipped to 0-100.
    Popular artists also have more tracks. Titles reuse a small vocabulary (love, night,
    summer, heart, fire...), so a word query matches many artists, as in real catalogs.
    """
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int | np.integer) or n_tracks < 1:
        raise ConfigError(f"n_tracks must be a positive integer, got {n_tracks!r}")
    n_tracks = int(n_tracks)
    rng = np.random.default_rng(seed)
    n_artists = max(1, round(n_tracks / 12))

    genres = rng.choice(len(_GENRE_NAMES), size=n_artists, p=_GENRE_WEIGHTS)
    names = _artist_names(rng, [_GENRE_NAMES[g] for g in genres])
    rank = rng.permutation(n_artists)  # 0 = most popular
    base_pop = 100.0 / (rank + 1.0) ** 0.3
    # popular artists have more tracks; every artist has at least one
    weights = (rank + 1.0) ** -0.4
    weights /= weights.sum()
    counts = 1 + rng.multinomial(n_tracks - n_artists, weights)

    docs: list[dict[str, Any]] = []
    album_no = 0
    for a in range(n_artists):
        genre = _GENRE_NAMES[genres[a]]
        artist = names[a]
        artist_genres = [genre]
        if rng.random() < 0.15:  # crossover artists are listed under a second genre
            other = _GENRE_NAMES[rng.choice(len(_GENRE_NAMES), p=_GENRE_WEIGHTS)]
            if other != genre:
                artist_genres.append(other)
        lo, hi = _ERAS[genre]
        debut = int(rng.integers(lo, hi + 1))
        remaining = int(counts[a])
        while remaining > 0:
            size = min(remaining, int(rng.integers(1, 15)))
            remaining -= size
            album_no += 1
            year = min(2024, debut + int(rng.integers(0, 18)))
            album = _album_title(rng, genre, artist)
            release_date = _date(rng, year)
            subgenres = [GENRES[g][int(rng.integers(0, 4))] for g in artist_genres]
            for k in range(size):
                factor = float(np.exp(rng.normal(-0.25, 0.45))) / (1.0 + 0.15 * k)
                recency = 0.75 + 0.25 * (year - 1960) / 64.0
                pop = float(np.clip(base_pop[a] * factor * recency, 0.0, 100.0))
                docs.append(
                    {
                        "title": _track_title(rng, genre, names),
                        "artist": artist,
                        "album": album,
                        "album_id": f"al{album_no:05d}",
                        "release_date": release_date,
                        "year": year,
                        "decade": year // 10 * 10,
                        "genre": list(artist_genres),
                        "subgenre": list(subgenres),
                        "popularity": round(pop, 1),
                        **_audio(rng, genre),
                    }
                )

    order = rng.permutation(len(docs))  # interleave artists, as a real export would
    out = []
    for i, j in enumerate(order):
        doc = {"track_id": f"t{i + 1:06d}", **docs[j]}
        out.append({k: doc[k] for k in MUSIC_FIELDS})
    return out


def _artist_names(rng: np.random.Generator, genres: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for genre in genres:
        for attempt in range(50):
            name = _artist_name(rng, genre)
            if attempt >= 20:  # the pools are exhausted: add a middle initial
                first, _, rest = name.partition(" ")
                name = f"{first} {chr(65 + int(rng.integers(0, 26)))}. {rest}"
            if name not in seen:
                break
        else:
            name = f"{name} {len(names) + 1}"
        seen.add(name)
        names.append(name)
    return names


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(0, len(words)))]


def _artist_name(rng: np.random.Generator, genre: str) -> str:
    u = rng.random()
    band = {"rock": 0.6, "edm": 0.2, "pop": 0.2}.get(genre, 0.05)
    dj = {"edm": 0.45, "rap": 0.15, "latin": 0.1}.get(genre, 0.0)
    if u < band:
        prefix = "The " if rng.random() < 0.5 else ""
        return f"{prefix}{_pick(rng, _BAND_ADJ)} {_pick(rng, _BAND_NOUN)}"
    if u < band + dj:
        return f"DJ {_pick(rng, _FIRST)} {_pick(rng, _LAST)}"
    return f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"


def _track_title(rng: np.random.Generator, genre: str, artists: Sequence[str]) -> str:
    nouns = _SPANISH if genre == "latin" and rng.random() < 0.6 else _NOUNS
    t = int(rng.integers(0, 8))
    if t == 0:
        title = f"{_pick(rng, _ADJS)} {_pick(rng, nouns)}"
    elif t == 1:
        title = f"{_pick(rng, nouns)} {_pick(rng, nouns)}"
    elif t == 2:
        title = f"{_pick(rng, _VERBS)} {_pick(rng, nouns)}"
    elif t == 3:
        title = f"{_pick(rng, nouns)} of {_pick(rng, nouns)}"
    elif t == 4:
        title = f"{_pick(rng, _ME_VERBS)} Me {_pick(rng, _ADVS)}"
    elif t == 5:
        title = f"{_pick(rng, nouns)} in the {_pick(rng, nouns)}"
    elif t == 6:
        title = _pick(rng, nouns)
    else:
        title = f"{_pick(rng, nouns)} {_pick(rng, _ADVS)}"
    u = rng.random()
    if u < 0.06:
        title += f" (feat. {_pick(rng, artists)})"
    elif u < 0.12:
        title += f" - {_pick(rng, artists)} Remix"
    elif u < 0.15:
        title += " - Live"
    elif u < 0.17:
        title += " - Acoustic"
    return title


def _album_title(rng: np.random.Generator, genre: str, artist: str) -> str:
    u = rng.random()
    if u < 0.08:
        return artist  # self-titled albums: an album slot that equals an artist slot
    nouns = _SPANISH if genre == "latin" and rng.random() < 0.5 else _NOUNS
    if u < 0.4:
        title = f"{_pick(rng, _ADJS)} {_pick(rng, nouns)}"
    elif u < 0.6:
        title = f"{_pick(rng, nouns)} of {_pick(rng, nouns)}"
    elif u < 0.8:
        title = f"{_pick(rng, _VERBS)} {_pick(rng, nouns)}"
    else:
        title = _pick(rng, nouns)
    if rng.random() < 0.07:
        title += " (Deluxe Edition)"
    return title


def _date(rng: np.random.Generator, year: int) -> str:
    if year < 1980 and rng.random() < 0.3:  # old releases often only know their year
        return f"{year:04d}-01-01"
    return f"{year:04d}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"


def _audio(rng: np.random.Generator, genre: str) -> dict[str, Any]:
    means, tempo = _AUDIO_MEANS[genre]
    conc = 8.0
    out: dict[str, Any] = {}
    for name, m in zip(_AUDIO_ORDER, means, strict=True):
        out[name] = round(float(rng.beta(m * conc, (1.0 - m) * conc)), 4)
    out["tempo"] = round(float(np.clip(rng.normal(tempo, 22.0), 55.0, 215.0)), 3)
    mean_ms = 245_000 if genre == "rock" else 215_000
    out["duration_ms"] = int(np.clip(rng.normal(mean_ms, 45_000), 90_000, 540_000))
    return out


# -- writing --------------------------------------------------------------------------


LIST_SEPARATOR = "|"


def write_csv(
    docs: Iterable[dict[str, Any]],
    path: str | Path,
    fields: Sequence[str] | None = None,
    list_separator: str = LIST_SEPARATOR,
) -> int:
    """Write documents as CSV with a header; list values are joined by ``list_separator``.

    ``fields`` defaults to :data:`MUSIC_FIELDS` when the first document has exactly those
    keys, else to the first document's keys. Returns the number of rows written.
    """
    it = iter(docs)
    first = next(it, None)
    if fields is None:
        if first is None:
            fields = list(MUSIC_FIELDS)
        else:
            fields = list(MUSIC_FIELDS) if set(first) == set(MUSIC_FIELDS) else list(first)
    n = 0
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(fields)
        if first is None:
            return 0
        for doc in _chain(first, it):
            row = []
            for f in fields:
                v = doc.get(f, "")
                if isinstance(v, list | tuple):
                    if any(list_separator in str(x) for x in v):
                        raise DataError(
                            f"{path}: document {n + 1} field {f!r}: a value contains the list "
                            f"separator {list_separator!r}"
                        )
                    v = list_separator.join(str(x) for x in v)
                row.append(v)
            w.writerow(row)
            n += 1
    return n


def write_jsonl(docs: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write one JSON document per line (UTF-8, not ASCII-escaped). Returns the count."""
    n = 0
    with atomic_open(path) as fh:
        for doc in docs:
            fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            n += 1
    return n


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest
