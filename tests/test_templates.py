"""Index templates: bundled bodies, loading errors, flattening, the ``_meta.ltrr`` checks."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from ltrr_os.datasets.sample import generate_music_catalog
from ltrr_os.errors import ConfigError
from ltrr_os.templates import bundled_templates, load_template, ltrr_meta, template_fields

REPO = Path(__file__).resolve().parents[1]

HNSW = {
    "type": "knn_vector",
    "dimension": 64,
    "method": {
        "name": "hnsw",
        "space_type": "cosinesimil",
        "engine": "lucene",
        "parameters": {"m": 16, "ef_construction": 128},
    },
}


def test_bundled_templates():
    assert bundled_templates() == ["music", "products"]


def test_music_template_body():
    t = load_template("music")
    assert t["settings"] == {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}}
    props = t["mappings"]["properties"]
    for name in ("title", "artist", "album"):
        assert props[name] == {
            "type": "text",
            "analyzer": "standard",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 256}},
        }
    assert props["release_date"] == {
        "type": "date",
        "format": "strict_date_optional_time||epoch_millis",
    }
    assert props["embedding"] == HNSW
    assert props["memory"] == {"type": "rank_features"}
    assert t["mappings"]["_meta"]["ltrr"] == {
        "id_field": "track_id",
        "popularity_field": "popularity",
        "vector": {
            "field": "embedding",
            "source_fields": ["title", "artist", "album", "genre"],
            "encoder": {"type": "tfidf_svd", "dim": 64},
        },
    }


def test_music_template_fields():
    assert template_fields(load_template("music")) == {
        "track_id": "keyword",
        "title": "text", "title.keyword": "keyword",
        "artist": "text", "artist.keyword": "keyword",
        "album": "text", "album.keyword": "keyword",
        "album_id": "keyword", "release_date": "date", "year": "integer",
        "decade": "integer", "genre": "keyword", "subgenre": "keyword",
        "popularity": "float", "danceability": "float", "energy": "float",
        "valence": "float", "acousticness": "float", "speechiness": "float",
        "instrumentalness": "float", "liveness": "float", "tempo": "float",
        "duration_ms": "integer", "embedding": "knn_vector", "memory": "rank_features",
    }  # fmt: skip


def test_products_template():
    t = load_template("products")
    assert template_fields(t) == {
        "product_uid": "keyword",
        "title": "text",
        "title.keyword": "keyword",
        "title.plain": "text",
        "embedding": "knn_vector",
        "memory": "rank_features",
    }
    title = t["mappings"]["properties"]["title"]
    assert title["analyzer"] == "english"
    assert title["fields"]["plain"] == {"type": "text", "analyzer": "standard"}
    assert t["mappings"]["properties"]["embedding"] == HNSW
    meta = ltrr_meta(t)
    assert meta["id_field"] == "product_uid"
    assert "popularity_field" not in meta
    assert meta["vector"]["source_fields"] == ["title"]


def test_load_returns_a_fresh_copy():
    t = load_template("music")
    t["mappings"]["properties"].clear()
    assert "title" in load_template("music")["mappings"]["properties"]


def test_bundled_files_are_plain_json_and_visible_at_the_top_level():
    link = REPO / "index_templates"
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link))  # relative: survives a moved checkout
    assert link.resolve() == (REPO / "ltrr_os" / "index_templates").resolve()
    for name in bundled_templates():
        raw = (link / f"{name}.json").read_text(encoding="utf-8")
        assert json.loads(raw) == load_template(name)


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.json"
    body = load_template("products")
    path.write_text(json.dumps(body), encoding="utf-8")
    assert load_template(path) == body
    assert load_template(str(path)) == body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"settings": {},\n  "mappings": {,}\n}', r"bad\.json:2:16: invalid JSON: Expecting"),
        ("[1, 2]", "must be a JSON object"),
        ('{"index_patterns": ["x*"], "template": {}}', r"unknown top-level keys \['index_pat"),
        ('{"mappings": {"properties": []}}', "mappings.properties must be an object"),
        ('{"settings": 3}', "settings must be an object"),
    ],
)
def test_bad_template_files(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_template(path)


def test_missing_template():
    with pytest.raises(ConfigError, match="bundled templates: music, products"):
        load_template("musik")
    with pytest.raises(ConfigError, match="no such template file"):
        load_template("/nonexistent/dir/t.json")


def test_template_fields_of_objects_and_bad_mappings():
    t = {"mappings": {"properties": {"a": {"properties": {"b": {"type": "keyword"}}}}}}
    assert template_fields(t) == {"a.b": "keyword"}
    with pytest.raises(ConfigError, match=r"mappings\.properties\.x: missing field type"):
        template_fields({"mappings": {"properties": {"x": {"index": False}}}})
    assert template_fields({}) == {}


def broken_meta(**changes):
    t = load_template("music")
    meta = t["mappings"]["_meta"]["ltrr"]
    for path, value in changes.items():
        node = meta
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return t


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_field": "uid"}, "id_field: 'uid' is not a field"),
        ({"popularity_field": "title"}, "popularity_field: 'title' must be a numeric field"),
        ({"vector__field": "title"}, "vector.field: 'title' is not a knn_vector field"),
        ({"vector__source_fields": ["title", "lyrics"]}, "'lyrics' is not a field"),
        ({"vector__source_fields": []}, "source_fields must be a non-empty list"),
        ({"vector__encoder": {"type": "tfidf_svd", "dim": 384}}, "dim is 384 but embedding"),
        ({"vector__encoder": {"dim": 64}}, "encoder must be an object with a type"),
    ],
)
def test_ltrr_meta_catches_inconsistent_templates(changes, message):
    with pytest.raises(ConfigError, match=message):
        ltrr_meta(broken_meta(**changes))


def test_ltrr_meta_is_a_copy_and_optional():
    t = load_template("music")
    meta = ltrr_meta(t)
    meta["vector"]["source_fields"].append("x")
    assert ltrr_meta(t)["vector"]["source_fields"] == ["title", "artist", "album", "genre"]
    bare = copy.deepcopy(t)
    del bare["mappings"]["_meta"]
    assert ltrr_meta(bare) == {}


def test_embedded_engine_accepts_both_templates_and_indexes_the_sample(tmp_path):
    """The templates must be usable by the embedded engine as-is, not only by OpenSearch."""
    from ltrr_os.engines.embedded import EmbeddedEngine

    engine = EmbeddedEngine(tmp_path)
    engine.create_index("products-v1", load_template("products"))
    engine.create_index("music-v1", load_template("music"))
    docs = generate_music_catalog(60, seed=3)
    report = engine.bulk("music-v1", ((d["track_id"], d) for d in docs))
    assert report.ok, report.errors[:3]
    engine.refresh("music-v1")
    assert engine.count("music-v1") == 60
    body = {"query": {"term": {"genre": docs[0]["genre"][0]}}, "size": 100}
    hits = engine.search("music-v1", body)["hits"]["hits"]
    assert len(hits) == sum(docs[0]["genre"][0] in d["genre"] for d in docs)
