"""Wire tests of OpenSearchEngine against osmem-server (an in-memory OpenSearch-compatible
server; NOT a real OpenSearch cluster: no k-NN, no LTR plugin, its own BM25).

Every test gets a fresh osmem clone (``osmem_engine`` in conftest.py) and is skipped with
a reason when the osmem-server binary cannot start. What osmem supports is summarised in
docs/osmem-subset.md; the tests below are the evidence.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from ltrr_os.engines.base import IndexInfo
from ltrr_os.engines.opensearch import OpenSearchEngine
from ltrr_os.errors import ConfigError, IndexNotFoundError, QueryError

TEMPLATE: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "artist": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "genre": {"type": "keyword"},
            "popularity": {"type": "float"},
            "released": {"type": "date"},
        },
    },
}


def _song(title: str, artist: str, genre: str, popularity: float, released: str) -> dict:
    return {
        "title": title,
        "artist": artist,
        "genre": genre,
        "popularity": popularity,
        "released": released,
    }


DOCS: list[tuple[str, dict[str, Any]]] = [
    ("s1", _song("Love Story", "Taylor Swift", "country", 0.90, "2008-09-12")),
    ("s2", _song("Love Me Do", "The Beatles", "rock", 0.70, "1962-10-05")),
    ("s3", _song("Shake It Off", "Taylor Swift", "pop", 0.95, "2014-08-18")),
    ("s4", _song("Crazy in Love", "Beyonce", "pop", 0.80, "2003-05-18")),
    ("s5", _song("Love Love Love", "Various Love Artists", "pop", 0.10, "2010-01-01")),
    ("s6", _song("You Belong With Me", "Taylor Swift", "country", 0.85, "2008-11-04")),
    ("s7", _song("Yesterday", "The Beatles", "rock", 0.75, "1965-09-13")),
    ("s8", _song("Taylor Made", "Love Taylor Band", "indie", 0.20, "2019-03-01")),
]
BY_ID = dict(DOCS)


def _load(engine: OpenSearchEngine, name: str = "songs-v1", docs=DOCS) -> None:
    engine.create_index(name, TEMPLATE)
    report = engine.bulk(name, docs)
    assert report.ok, report.errors
    engine.refresh(name)


def _ids(response: dict[str, Any]) -> list[str]:
    return [h["_id"] for h in response["hits"]["hits"]]


def _scores(response: dict[str, Any]) -> dict[str, float]:
    return {h["_id"]: h["_score"] for h in response["hits"]["hits"]}


# -- indices -------------------------------------------------------------------------------
def test_create_index_from_template_and_read_it_back(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    assert not eng.exists("songs-v1")
    eng.create_index("songs-v1", TEMPLATE)
    assert eng.exists("songs-v1")
    props = eng.get_mapping("songs-v1")["properties"]
    assert props["title"] == {"type": "text", "fields": {"keyword": {"type": "keyword"}}}
    assert props["popularity"]["type"] == "float"
    assert props["released"]["type"] == "date"
    assert eng.list_indices() == [IndexInfo("songs-v1", 0, ())]

    with pytest.raises(ConfigError, match="already exists"):
        eng.create_index("songs-v1", TEMPLATE)
    with pytest.raises(ConfigError, match="nosuchtype"):
        eng.create_index("broken", {"mappings": {"properties": {"x": {"type": "nosuchtype"}}}})
    assert not eng.exists("broken")

    eng.delete_index("songs-v1")
    assert not eng.exists("songs-v1")
    with pytest.raises(IndexNotFoundError, match="songs-v1"):
        eng.delete_index("songs-v1")
    with pytest.raises(ConfigError, match="concrete name"):
        eng.delete_index("*")


def test_vector_and_rank_feature_mappings_on_osmem(osmem_engine: OpenSearchEngine) -> None:
    """osmem accepts knn_vector mappings but has no knn query; rank_feature(s) work."""
    eng = osmem_engine
    knn_template = {
        "settings": {"index.knn": True},
        "mappings": {
            "properties": {
                "vec": {
                    "type": "knn_vector",
                    "dimension": 3,
                    "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene"},
                }
            }
        },
    }
    eng.create_index("vectors", knn_template)
    vec = eng.get_mapping("vectors")["properties"]["vec"]
    assert vec["type"] == "knn_vector" and vec["dimension"] == 3
    assert eng.bulk("vectors", [("v1", {"vec": [1.0, 0.0, 0.0]})]).ok
    eng.refresh("vectors")
    assert eng.mget("vectors", ["v1"]) == [{"vec": [1.0, 0.0, 0.0]}]
    with pytest.raises(QueryError, match="knn"):
        eng.search("vectors", {"query": {"knn": {"vec": {"vector": [1, 0, 0], "k": 1}}}})
    with pytest.raises(ConfigError, match="dense_vector"):
        eng.create_index("dense", {"mappings": {"properties": {"v": {"type": "dense_vector"}}}})

    eng.create_index(
        "memory",
        {
            "mappings": {
                "properties": {"q2e": {"type": "rank_features"}, "pop": {"type": "rank_feature"}}
            }
        },
    )
    assert eng.bulk("memory", [("e1", {"q2e": {"love": 2.0}, "pop": 3.0})]).ok
    eng.refresh("memory")
    sat = eng.search(
        "memory", {"query": {"rank_feature": {"field": "q2e.love", "saturation": {"pivot": 1}}}}
    )
    assert sat["hits"]["hits"][0]["_score"] == pytest.approx(2.0 / (2.0 + 1.0), rel=1e-6)
    log = eng.search(
        "memory", {"query": {"rank_feature": {"field": "pop", "log": {"scaling_factor": 1}}}}
    )
    assert log["hits"]["hits"][0]["_score"] == pytest.approx(math.log(1 + 3.0), rel=1e-6)


# -- bulk, count, mget, terms --------------------------------------------------------------
def test_bulk_reports_the_bad_document_and_loads_the_rest(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    eng.create_index("songs-v1", TEMPLATE)
    bad = ("bad", {**DOCS[0][1], "popularity": "not-a-number"})
    docs = DOCS[:3] + [bad] + DOCS[3:]
    chunks: list[int] = []
    report = eng.bulk("songs-v1", docs, chunk_size=3, progress=chunks.append)
    assert chunks == [3, 3, 3]
    assert report.indexed == len(DOCS)
    assert len(report.errors) == 1
    err = report.errors[0]
    assert (err.doc_id, err.position) == ("bad", 3)
    assert "mapper_parsing_exception" in err.reason and "popularity" in err.reason
    assert report.seconds > 0

    # (osmem makes documents visible at once; OpenSearch only after a refresh)
    eng.refresh("songs-v1")
    assert eng.count("songs-v1") == len(DOCS)
    assert eng.mget("songs-v1", ["bad"]) == [None]


def test_bulk_caps_errors_and_refuses_a_missing_index(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    eng.create_index("songs-v1", TEMPLATE)
    docs = [(f"x{i}", {"title": "t", "unknown_field": i}) for i in range(4)] + DOCS[:2]
    report = eng.bulk("songs-v1", docs, max_errors=2)
    assert report.indexed == 2
    assert [(e.doc_id, e.position) for e in report.errors[:2]] == [("x0", 0), ("x1", 1)]
    assert "strict_dynamic_mapping_exception" in report.errors[0].reason
    assert report.errors[2].reason == "(2 further errors not kept)"

    with pytest.raises(IndexNotFoundError, match="nope"):
        eng.bulk("nope", DOCS[:1])
    assert not eng.exists("nope")  # not auto-created with dynamic mappings


def test_count_mget_and_terms(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    _load(eng)
    assert eng.count("songs-v1") == 8
    love = {i for i, d in DOCS if "love" in d["title"].lower().split()}
    assert eng.count("songs-v1", {"match": {"title": "love"}}) == len(love) == 4
    assert eng.count("songs-v1", {"term": {"genre": "pop"}}) == 3

    assert eng.mget("songs-v1", ["s3", "missing", "s1", "s3"]) == [
        BY_ID["s3"],
        None,
        BY_ID["s1"],
        BY_ID["s3"],
    ]
    assert eng.mget("songs-v1", []) == []
    with pytest.raises(IndexNotFoundError):
        eng.mget("nope", ["s1"])

    assert eng.terms("songs-v1", "artist.keyword") == [
        ("Taylor Swift", 3),
        ("The Beatles", 2),
        ("Beyonce", 1),
        ("Love Taylor Band", 1),
        ("Various Love Artists", 1),
    ]
    assert eng.terms("songs-v1", "genre", size=2) == [("pop", 3), ("country", 2)]
    released = dict(eng.terms("songs-v1", "released"))
    assert released["2008-09-12T00:00:00.000Z"] == 1
    # float fields come back as float32 values widened to double
    pops = [float(v) for v, _ in eng.terms("songs-v1", "popularity")]
    assert sorted(pops) == pytest.approx(sorted(d["popularity"] for _, d in DOCS), rel=1e-6)
    assert eng.terms("songs-v1", "no_such_field") == []
    with pytest.raises(ConfigError, match="keyword sub-field"):
        eng.terms("songs-v1", "title")


def test_list_indices_counts_docs_and_aliases_and_skips_dot_indices(
    osmem_engine: OpenSearchEngine,
) -> None:
    eng = osmem_engine
    _load(eng, "songs-v1")
    _load(eng, "songs-v2", DOCS[:3])
    eng.client.indices.create(index=".internal", body={})
    eng.swap_alias("songs", "songs-v2")
    assert eng.list_indices() == [
        IndexInfo("songs-v1", 8, ()),
        IndexInfo("songs-v2", 3, ("songs",)),
    ]


# -- aliases ------------------------------------------------------------------------------
def test_alias_swap_is_one_request_and_moves_searches(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    _load(eng, "songs-v1")
    v2_docs = [*DOCS[:4], ("s9", _song("Lover", "Taylor Swift", "pop", 0.97, "2019-08-23"))]
    _load(eng, "songs-v2", v2_docs)
    assert eng.get_alias("songs") == []

    eng.swap_alias("songs", "songs-v1")
    assert eng.get_alias("songs") == ["songs-v1"]
    assert eng.count("songs") == 8
    assert "s9" not in _ids(eng.search("songs", {"query": {"match": {"title": "lover"}}}))

    calls: list[dict[str, Any]] = []
    real = eng.client.indices.update_aliases

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["body"])
        return real(*args, **kwargs)

    eng.client.indices.update_aliases = spy  # type: ignore[method-assign]
    eng.swap_alias("songs", "songs-v2")
    assert calls == [
        {
            "actions": [
                {"remove": {"index": "songs-v1", "alias": "songs"}},
                {"add": {"index": "songs-v2", "alias": "songs"}},
            ]
        }
    ]
    assert eng.get_alias("songs") == ["songs-v2"]
    hits = eng.search("songs", {"query": {"match": {"title": "lover"}}})["hits"]["hits"]
    assert [(h["_index"], h["_id"]) for h in hits] == [("songs-v2", "s9")]
    assert eng.count("songs") == 5
    assert eng.get_mapping("songs")["properties"]["genre"] == {"type": "keyword"}

    # an alias left on two indices (by hand) is collapsed onto the target in one request
    real(body={"actions": [{"add": {"index": "songs-v1", "alias": "songs"}}]})
    assert eng.get_alias("songs") == ["songs-v1", "songs-v2"]
    eng.swap_alias("songs", "songs-v1")
    assert calls[-1]["actions"] == [
        {"remove": {"index": "songs-v2", "alias": "songs"}},
        {"add": {"index": "songs-v1", "alias": "songs"}},
    ]
    assert eng.get_alias("songs") == ["songs-v1"]

    # a failed swap changes nothing
    with pytest.raises(IndexNotFoundError, match="songs-v9"):
        eng.swap_alias("songs", "songs-v9")
    assert eng.get_alias("songs") == ["songs-v1"]
    with pytest.raises(ConfigError, match="same name"):
        eng.swap_alias("songs-v2", "songs-v1")


# -- search and msearch -------------------------------------------------------------------
LEXICAL: dict[str, dict[str, Any]] = {
    "match": {"query": {"match": {"title": "love"}}},
    "best_fields": {
        "query": {
            "multi_match": {
                "query": "taylor love",
                "fields": ["title^2", "artist"],
                "type": "best_fields",
                "tie_breaker": 0.3,
            }
        }
    },
    "bool_filter": {
        "query": {
            "bool": {
                "must": [{"match": {"title": "love"}}],
                "filter": [
                    {"term": {"genre": "pop"}},
                    {"range": {"released": {"gte": "2000-01-01"}}},
                ],
            }
        }
    },
    "popularity": {
        "query": {
            "function_score": {
                "query": {"match": {"title": "love"}},
                "field_value_factor": {
                    "field": "popularity",
                    "factor": 2.0,
                    "modifier": "log1p",
                    "missing": 1,
                },
                "boost_mode": "multiply",
            }
        }
    },
}
MALFORMED = {"query": {"match": {"title": {"querrry": "love"}}}}  # fails to parse


def test_lexical_queries_compose_scores_like_opensearch(osmem_engine: OpenSearchEngine) -> None:
    """multi_match, bool filter and field_value_factor combine per-field scores as documented."""
    eng = osmem_engine
    _load(eng)

    def search(body: dict[str, Any]) -> dict[str, float]:
        return _scores(eng.search("songs-v1", {**body, "size": 20}))

    title = search({"query": {"match": {"title": {"query": "taylor love", "boost": 2}}}})
    artist = search({"query": {"match": {"artist": "taylor love"}}})
    best = search(LEXICAL["best_fields"])
    assert set(best) == set(title) | set(artist)
    for doc_id, score in best.items():
        t, a = title.get(doc_id, 0.0), artist.get(doc_id, 0.0)
        assert score == pytest.approx(max(t, a) + 0.3 * min(t, a), rel=1e-5)
    assert next(iter(best)) == "s8"  # "Taylor Made" by "Love Taylor Band" matches both fields

    match = search(LEXICAL["match"])
    assert set(match) == {"s1", "s2", "s4", "s5"}
    filtered = search(LEXICAL["bool_filter"])
    assert set(filtered) == {"s4", "s5"}  # pop and released since 2000
    for doc_id, score in filtered.items():  # filters do not score
        assert score == pytest.approx(match[doc_id], rel=1e-6)

    boosted = search(LEXICAL["popularity"])
    for doc_id, score in boosted.items():
        factor = math.log10(1 + 2.0 * BY_ID[doc_id]["popularity"])
        assert score == pytest.approx(match[doc_id] * factor, rel=1e-5)
    assert list(boosted)[0] == "s1"  # popular "Love Story" beats the unpopular "Love Love Love"
    assert list(match)[0] == "s5"


def test_msearch_keeps_order_and_isolates_a_malformed_body(
    osmem_engine: OpenSearchEngine, caplog: pytest.LogCaptureFixture
) -> None:
    eng = osmem_engine
    _load(eng)
    names = list(LEXICAL)
    requests = [("songs-v1", LEXICAL[n]) for n in names[:2]]
    requests.append(("songs-v1", MALFORMED))
    requests += [("songs-v1", LEXICAL[n]) for n in names[2:]]
    with caplog.at_level(logging.WARNING, logger="ltrr_os.engines.opensearch"):
        items = eng.msearch(requests)
    assert len(items) == 5
    assert "rejected as a whole" in caplog.text  # osmem, like OpenSearch, fails the whole call
    bad = items[2]
    assert bad["status"] == 400
    assert bad["error"]["type"] == "parsing_exception"
    assert "querrry" in bad["error"]["reason"]
    for item, name in zip(items[:2] + items[3:], names, strict=True):
        assert "error" not in item
        assert _ids(item) == _ids(eng.search("songs-v1", LEXICAL[name]))
    assert set(_ids(items[3])) == {"s4", "s5"}


def test_msearch_shard_failures_and_missing_index_are_items(
    osmem_engine: OpenSearchEngine, caplog: pytest.LogCaptureFixture
) -> None:
    eng = osmem_engine
    _load(eng)
    requests = [
        ("songs-v1", LEXICAL["match"]),
        (
            "songs-v1",
            {"query": {"rank_feature": {"field": "popularity"}}},
        ),  # float, not rank_feature
        ("nope", LEXICAL["match"]),
        ("songs-v1", LEXICAL["bool_filter"]),
    ]
    with caplog.at_level(logging.WARNING, logger="ltrr_os.engines.opensearch"):
        items = eng.msearch(requests)
    assert "rejected as a whole" not in caplog.text  # one round trip, errors per item
    assert [i.get("status") for i in items] == [None, 400, 404, None]
    assert "rank_feature" in items[1]["error"]["reason"]
    assert items[1]["error"]["reason"] != "all shards failed"
    assert items[2]["error"]["type"] == "index_not_found_exception"
    assert set(_ids(items[0])) == {"s1", "s2", "s4", "s5"}
    assert set(_ids(items[3])) == {"s4", "s5"}
    assert eng.msearch([]) == []
    single = eng.msearch([("songs-v1", MALFORMED)])
    assert single[0]["status"] == 400 and "querrry" in single[0]["error"]["reason"]


def test_search_errors_are_mapped(osmem_engine: OpenSearchEngine) -> None:
    eng = osmem_engine
    _load(eng)
    with pytest.raises(IndexNotFoundError, match="nope"):
        eng.search("nope", LEXICAL["match"])
    with pytest.raises(IndexNotFoundError):
        eng.count("nope")
    with pytest.raises(IndexNotFoundError):
        eng.refresh("nope")
    with pytest.raises(IndexNotFoundError):
        eng.get_mapping("nope")
    with pytest.raises(QueryError, match="querrry"):
        eng.search("songs-v1", MALFORMED)
    with pytest.raises(QueryError, match="sltr"):
        eng.search("songs-v1", {"query": {"sltr": {"featureset": "f", "params": {}}}})
