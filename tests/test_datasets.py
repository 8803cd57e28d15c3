"""Data sets: the synthetic sample catalog, the Spotify and Home Depot readers, locate."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ltrr_os.datasets import locate
from ltrr_os.datasets.locate import shared_data
from ltrr_os.datasets.music import (
    AUDIO_FEATURES,
    MUSIC_FIELDS,
    SPOTIFY_COLUMNS,
    iter_spotify,
    load_spotify,
    normalize_release_date,
)
from ltrr_os.datasets.products import iter_products, load_labels
from ltrr_os.datasets.sample import GENRES, generate_music_catalog, write_csv, write_jsonl
from ltrr_os.errors import ConfigError, DataError
from ltrr_os.templates import load_template, template_fields

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: template fields that documents do not carry: computed at indexing (vector, memory)
DERIVED = {"embedding", "memory"}


def check_music_doc(doc: dict[str, Any], fields: dict[str, str], where: str) -> None:
    """Assert one document matches the music template field by field."""
    assert list(doc) == list(MUSIC_FIELDS), where
    for name, value in doc.items():
        ftype = fields[name]
        if name in ("genre", "subgenre"):
            assert isinstance(value, list) and all(isinstance(v, str) and v for v in value), (
                where,
                name,
            )
            assert len(value) == len(set(value)), (where, name, value)
        elif ftype in ("text", "keyword"):
            assert isinstance(value, str), (where, name, value)
        elif ftype == "integer":
            assert type(value) is int, (where, name, value)
        elif ftype == "float":
            assert type(value) is float and np.isfinite(value), (where, name, value)
        elif ftype == "date":
            assert isinstance(value, str) and DATE.match(value), (where, name, value)
            dt.date.fromisoformat(value)
        else:  # pragma: no cover - a new field type needs a check here
            raise AssertionError(f"{where}: no check for {name} of type {ftype}")
    assert doc["track_id"], where
    assert doc["year"] == int(doc["release_date"][:4]), where
    assert doc["decade"] == doc["year"] // 10 * 10, where
    assert 0.0 <= doc["popularity"] <= 100.0, where
    for f in AUDIO_FEATURES:
        assert 0.0 <= doc[f] <= 1.0, (where, f, doc[f])
    assert doc["tempo"] >= 0 and doc["duration_ms"] > 0, where
    assert doc["genre"], where


@pytest.fixture(scope="module")
def music_fields() -> dict[str, str]:
    fields = template_fields(load_template("music"))
    # the documents and the template describe the same schema, no more, no less
    assert set(fields) - {f for f in fields if "." in f} - DERIVED == set(MUSIC_FIELDS)
    return fields


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return generate_music_catalog(3000, seed=0)


# -- sample catalog ----------------------------------------------------------------------
def test_sample_is_deterministic_per_seed():
    a = generate_music_catalog(400, seed=7)
    assert a == generate_music_catalog(400, seed=7)
    b = generate_music_catalog(400, seed=8)
    assert a != b
    assert [d["title"] for d in a] != [d["title"] for d in b]
    assert {d["artist"] for d in a} != {d["artist"] for d in b}


def test_sample_documents_match_the_template(sample, music_fields):
    assert len(sample) == 3000
    for i, doc in enumerate(sample):
        check_music_doc(doc, music_fields, f"sample doc {i}")
    assert len({d["track_id"] for d in sample}) == 3000
    # plain Python types: serialises to JSON and back unchanged
    assert json.loads(json.dumps(sample)) == sample


def test_sample_catalog_shape(sample):
    artists = collections.Counter(d["artist"] for d in sample)
    assert len(artists) == round(3000 / 12)
    assert all(len(a.split()) >= 2 for a in artists), "artist names are multi-word"
    years = [d["year"] for d in sample]
    assert min(years) >= 1960 and max(years) <= 2024
    assert len({d["decade"] for d in sample}) >= 6
    for d in sample:
        assert set(d["genre"]) <= set(GENRES)
        allowed = {s for g in d["genre"] for s in GENRES[g]}
        assert set(d["subgenre"]) <= allowed, d
    assert {g for d in sample for g in d["genre"]} == set(GENRES)
    # an album belongs to one artist and has one release date
    albums: dict[str, set[tuple[str, str, str]]] = collections.defaultdict(set)
    for d in sample:
        albums[d["album_id"]].add((d["artist"], d["album"], d["release_date"]))
    assert all(len(v) == 1 for v in albums.values())
    assert len(albums) > len(artists)


def test_sample_titles_share_a_small_vocabulary(sample):
    """Word queries like 'love' must hit many artists, as in a real catalog."""
    for word in ("love", "night", "summer", "heart", "fire"):
        by = {d["artist"] for d in sample if word in d["title"].lower().split()}
        assert len(by) >= 10, word


def test_sample_popularity_is_long_tailed_and_follows_the_artist(sample):
    pop = np.array([d["popularity"] for d in sample])
    assert pop.min() >= 0 and pop.max() <= 100
    assert np.mean(pop) > np.median(pop)  # right-skewed
    assert np.percentile(pop, 99) > 3 * np.median(pop)
    by_artist: dict[str, list[float]] = collections.defaultdict(list)
    for d in sample:
        by_artist[d["artist"]].append(d["popularity"])
    means = sorted((np.mean(v), len(v)) for v in by_artist.values())
    top, bottom = means[-25:], means[:25]
    assert np.mean([m for m, _ in top]) > 2.5 * np.mean([m for m, _ in bottom])
    assert np.mean([n for _, n in top]) > np.mean([n for _, n in bottom])  # more tracks


def test_sample_has_accents_and_apostrophes_to_fold():
    names = {d["artist"] for d in generate_music_catalog(6000, seed=1)}
    assert any(not n.isascii() for n in names)
    assert any("'" in n for n in names)


def test_sample_artist_names_stay_unique_when_the_pools_run_out():
    from ltrr_os.datasets.sample import _artist_names

    names = _artist_names(np.random.default_rng(0), ["rock"] * 4000)  # > the rock pools
    assert len(set(names)) == 4000
    assert sum(". " in n for n in names) > 100  # the middle-initial fallback was used


@pytest.mark.parametrize("bad", [0, -3, 2.5, "100", True])
def test_sample_rejects_a_bad_size(bad):
    with pytest.raises(ConfigError, match="n_tracks"):
        generate_music_catalog(bad)


def test_write_jsonl_and_csv_round_trip(tmp_path, sample):
    docs = sample[:50]
    out = tmp_path / "sub" / "catalog.jsonl"
    assert write_jsonl(docs, out) == 50
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == docs

    path = tmp_path / "catalog.csv"
    path.write_text("old content")
    assert write_csv(iter(docs), path) == 50
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(MUSIC_FIELDS)
    for row, doc in zip(rows, docs, strict=True):
        assert row["genre"].split("|") == doc["genre"]
        assert row["title"] == doc["title"]
        assert float(row["popularity"]) == doc["popularity"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.csv", "sub"]  # no temp


def test_write_csv_refuses_a_value_containing_the_separator(tmp_path):
    doc = dict(generate_music_catalog(1)[0], genre=["a|b"])
    with pytest.raises(DataError, match="genre"):
        write_csv([doc], tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_no_sample_artist_is_a_real_one(sample):
    path = shared_data("music", "spotify_songs.csv")
    if path is None:
        pytest.skip("needs ../shared/data/music/spotify_songs.csv (set LTRR_SHARED_DATA)")
    real = {d["artist"].casefold() for d in iter_spotify(path)}
    invented = {d["artist"].casefold() for d in generate_music_catalog(20_000, seed=0)}
    assert not invented & real, sorted(invented & real)[:10]


# -- Spotify reader: small files made here ------------------------------------------------
def spotify_row(**over: Any) -> dict[str, str]:
    row = dict.fromkeys(SPOTIFY_COLUMNS, "0.5")
    row.update(
        track_id="t1", track_name="Song", track_artist="Some One", track_popularity="42",
        track_album_id="al1", track_album_name="Album", track_album_release_date="2001-02-03",
        playlist_name="pl", playlist_id="p1", playlist_genre="pop",
        playlist_subgenre="dance pop", tempo="120.5", duration_ms="200000",
    )  # fmt: skip
    row.update(over)
    return row


def write_spotify(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=SPOTIFY_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def test_spotify_merges_playlists_and_normalises(tmp_path, music_fields):
    path = write_spotify(
        tmp_path / "s.csv",
        [
            spotify_row(),
            spotify_row(
                track_id="t2",
                track_name="NA",
                track_artist="NA",
                track_album_name="NA",
                track_album_release_date="1975",
            ),  # fmt: skip
            spotify_row(playlist_genre="edm", playlist_subgenre="pop edm"),
            spotify_row(track_id="t3", track_album_release_date="1968-09"),
            spotify_row(playlist_genre="pop", playlist_subgenre="electropop"),
        ],
    )
    docs, stats = load_spotify(path)
    assert [d["track_id"] for d in docs] == ["t1", "t2", "t3"]
    t1, t2, t3 = docs
    assert t1["genre"] == ["pop", "edm"]
    assert t1["subgenre"] == ["dance pop", "pop edm", "electropop"]
    assert t1["popularity"] == 42.0 and t1["duration_ms"] == 200000 and t1["tempo"] == 120.5
    assert (t2["title"], t2["artist"], t2["album"]) == ("", "", "")
    assert (t2["release_date"], t2["year"], t2["decade"]) == ("1975-01-01", 1975, 1970)
    assert (t3["release_date"], t3["decade"]) == ("1968-09-01", 1960)
    assert stats.rows == 5 and stats.tracks == 3
    assert stats.missing == {"title": 1, "artist": 1, "album": 1}
    assert stats.partial_dates == {"YYYY": 1, "YYYY-MM": 1}
    for d in docs:
        check_music_doc(d, music_fields, d["track_id"])


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"track_album_release_date": "03/02/2001"}, r"s\.csv:3: column track_album_release_date"),
        ({"track_album_release_date": "2001-02-30"}, r"s\.csv:3: column track_album_release_date"),
        ({"danceability": "high"}, r"s\.csv:3: column danceability: 'high' is not a number"),
        ({"duration_ms": "1.5"}, r"s\.csv:3: column duration_ms: '1.5' is not an integer"),
        ({"track_id": ""}, r"s\.csv:3: column track_id is empty"),
    ],
)
def test_spotify_bad_cells_name_file_line_and_column(tmp_path, over, message):
    path = write_spotify(tmp_path / "s.csv", [spotify_row(track_id="ok"), spotify_row(**over)])
    with pytest.raises(DataError, match=message):
        list(iter_spotify(path))


def test_spotify_missing_column_and_missing_file(tmp_path):
    bad = tmp_path / "s.csv"
    bad.write_text("track_id,track_name\nx,y\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"s\.csv:1: missing columns \['track_artist'"):
        list(iter_spotify(bad))
    with pytest.raises(DataError, match="cannot read"):
        list(iter_spotify(tmp_path / "nope.csv"))


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("2019", "2019-01-01"), ("2019-07", "2019-07-01"), ("2019-07-31", "2019-07-31")],
)
def test_normalize_release_date(raw, norm):
    assert normalize_release_date(raw) == norm


# -- Spotify reader: the real file --------------------------------------------------------
@pytest.mark.shared_data
def test_spotify_real_catalog(music_fields):
    path = shared_data("music", "spotify_songs.csv")
    if path is None:
        pytest.skip("needs ../shared/data/music/spotify_songs.csv (set LTRR_SHARED_DATA)")
    t = time.perf_counter()
    docs, stats = load_spotify(path)
    seconds = time.perf_counter() - t
    assert seconds < 2.0, f"loading took {seconds:.2f}s"
    assert stats.rows == 32_833
    assert len(docs) == 28_356 == len({d["track_id"] for d in docs})
    for d in docs:
        check_music_doc(d, music_fields, d["track_id"])
    # every row's (genre, subgenre) is kept: 32,833 rows collapse to these lists
    assert sum(len(d["genre"]) > 1 for d in docs) > 1000
    assert {g for d in docs for g in d["genre"]} == set(GENRES)
    assert {s for d in docs for s in d["subgenre"]} == {s for v in GENRES.values() for s in v}
    # the 15 NA cells: 5 rows, 4 distinct tracks, three name fields each
    assert stats.missing == {"title": 4, "artist": 4, "album": 4}
    assert sum(d["artist"] == "" for d in docs) == 4
    # year-only and year-month dates became full dates
    assert stats.partial_dates["YYYY"] > 1000 and stats.partial_dates["YYYY-MM"] > 10
    by_id = {d["track_id"]: d for d in docs}
    first = by_id["6f807x0ima9a1j3VPbc7VN"]
    assert first["artist"] == "Ed Sheeran" and first["release_date"] == "2019-06-14"
    assert first["genre"] == ["pop", "edm"]
    years = [d["year"] for d in docs]
    assert min(years) == 1957 and max(years) == 2020


# -- Home Depot products ------------------------------------------------------------------
def test_products_and_labels_from_small_files(tmp_path):
    products = tmp_path / "products.csv"
    products.write_text(
        "product_uid,product_title\n100001,Simpson Strong-Tie 12-Gauge Angle\n"
        '100002,"Deck, Over 1-gal."\n',
        encoding="utf-8",
    )
    assert list(iter_products(products)) == [
        {"product_uid": "100001", "title": "Simpson Strong-Tie 12-Gauge Angle"},
        {"product_uid": "100002", "title": "Deck, Over 1-gal."},
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "id,product_uid,product_title,search_term,relevance\n"
        "2,100001,x,angle bracket,3.0\n3,100002,y,deck over,2.33\n",
        encoding="utf-8",
    )
    assert load_labels(labels) == [("angle bracket", "100001", 3.0), ("deck over", "100002", 2.33)]
    labels.write_text(
        "id,product_uid,product_title,search_term,relevance\n2,100001,x,q,high\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"labels\.csv:2: column relevance: 'high'"):
        load_labels(labels)
    products.write_text("product_uid,product_title\n1,a\n1,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"products\.csv:3: product_uid '1' appears twice"):
        list(iter_products(products))
    products.write_text("uid,title\n1,a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"products\.csv:1: missing columns"):
        list(iter_products(products))


@pytest.mark.shared_data
def test_products_real_files():
    products = shared_data("products", "homedepot", "products.csv")
    labels = shared_data("products", "homedepot", "train_labels.csv")
    if products is None or labels is None:
        pytest.skip("needs ../shared/data/products/homedepot (set LTRR_SHARED_DATA)")
    docs = list(iter_products(products))
    assert len(docs) == 54_667
    uids = {d["product_uid"] for d in docs}
    rows = load_labels(labels)
    assert len(rows) == 58_376
    assert len({q for q, _, _ in rows}) == 9_341
    assert {u for _, u, _ in rows} <= uids
    assert all(1.0 <= r <= 3.0 for _, _, r in rows)


# -- locate -------------------------------------------------------------------------------
def test_shared_data_follows_the_environment(tmp_path, monkeypatch):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "x.csv").write_text("a\n")
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path))
    assert shared_data("music", "x.csv") == tmp_path / "music" / "x.csv"
    assert shared_data() == tmp_path
    assert shared_data("music", "missing.csv") is None
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path / "nowhere"))
    assert shared_data() is None


def test_shared_data_defaults_to_beside_the_repo(monkeypatch):
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert locate.shared_data_root() == repo.parent / "shared" / "data"
