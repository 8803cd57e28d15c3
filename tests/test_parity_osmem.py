"""Parity of osmem-server (through OpenSearchEngine) and the embedded engine.

osmem-server is an OpenSearch emulator, not OpenSearch: its per-field BM25 is not Lucene's
(see docs/osmem-subset.md), so lexical bodies are compared on top-k ids and hit totals,
and scores only where no BM25 is involved. The first tests check the harness itself
(tests/parity.py) with scripted engines and need no server.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity import assert_same_topk, compare_topk, load_same

from ltrr_os.engines.opensearch import OpenSearchEngine
from ltrr_os.engines.settings import OpenSearchSettings


# -- the harness, on scripted engines ------------------------------------------------------
class Scripted:
    """An engine whose search answers ``script[body["query"]["term"]["case"]]``."""

    def __init__(self, kind: str, script: dict[str, Any]) -> None:
        self.kind = kind
        self.script = script
        self.sizes: list[int] = []

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sizes.append(body["size"])
        answer = self.script[body["query"]["term"]["case"]]
        if isinstance(answer, Exception):
            raise answer
        hits, total = (answer, len(answer)) if isinstance(answer, list) else answer
        return {
            "hits": {
                "total": {"value": total, "relation": "eq"},
                "hits": [{"_id": i, "_score": s} for i, s in hits[: body["size"]]],
            }
        }


def _case(name: str) -> tuple[str, dict[str, Any]]:
    return name, {"query": {"term": {"case": name}}}


def _compare(a: dict[str, Any], b: dict[str, Any], k: int = 3, **kw: Any):
    names = sorted(set(a) | set(b))
    return compare_topk(
        Scripted("left", a), Scripted("right", b), "ix", [_case(n) for n in names], k, **kw
    )


def test_harness_accepts_identical_and_tie_reordered_rankings() -> None:
    same = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    tied = [("a", 2.0), ("b", 2.0), ("c", 1.0)]
    report = _compare(
        {"same": same, "tied": tied}, {"same": same, "tied": [tied[1], tied[0], tied[2]]}
    )
    assert report.ok, report.render()
    assert report.mean_overlap() == 1.0


def test_harness_reports_swaps_and_missing_ids_readably() -> None:
    left = {
        "swap": [("a", 3.0), ("b", 2.0), ("c", 1.0)],
        "gone": [("a", 3.0), ("b", 2.0), ("c", 1.0)],
    }
    right = {
        "swap": [("b", 3.5), ("a", 2.5), ("c", 1.0)],
        "gone": [("a", 3.0), ("b", 2.0), ("z", 1.0)],
    }
    report = _compare(left, right)
    assert not report.ok and len(report.failures) == 2
    by_name = {o.name: o for o in report.outcomes}
    assert by_name["swap"].problems == ["order differs: left ranks a above b, right the reverse"]
    assert by_name["gone"].problems == [
        "in left's top 3 but not right's: c",
        "in right's top 3 but not left's: z",
    ]
    text = report.render()
    assert text.startswith("parity left vs right: 2 of 2 bodies differ")
    assert "[swap]" in text and "[gone]" in text
    rows = [line for line in text.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert any(line.endswith("*") for line in rows)  # mismatched rows are starred
    with pytest.raises(AssertionError, match="order differs"):
        assert_same_topk(Scripted("left", left), Scripted("right", right), "ix", [_case("swap")], 3)


def test_harness_tolerates_ties_across_the_cut_only() -> None:
    # k=2: "b" and "c" tie at rank 2 on the left, so either may be cut off
    left = {"cut": [("a", 3.0), ("b", 1.0), ("c", 1.0), ("d", 0.5)]}
    assert _compare(left, {"cut": [("a", 3.0), ("c", 1.0), ("b", 1.0), ("d", 0.4)]}, k=2).ok
    strict = {"cut": [("a", 3.0), ("b", 2.0), ("c", 1.0)]}
    report = _compare(strict, {"cut": [("a", 3.0), ("c", 2.0), ("b", 1.0)]}, k=2)
    assert report.outcomes[0].problems == [
        "in left's top 2 but not right's: b",
        "in right's top 2 but not left's: c",
    ]
    engine = Scripted("left", left)
    compare_topk(engine, engine, "ix", [_case("cut")], k=2)
    assert engine.sizes == [12, 12]  # k + tie_slack, so ties past the cut are seen


def test_harness_scores_totals_and_errors() -> None:
    base = [("a", 1.0), ("b", 0.5)]
    close = [("a", 1.02), ("b", 0.51)]
    assert _compare({"s": base}, {"s": close}).ok
    report = _compare({"s": base}, {"s": close}, score_rtol=0.01)
    assert report.outcomes[0].problems == [
        "scores differ beyond rtol=0.01: a 1 vs 1.02; b 0.5 vs 0.51"
    ]
    assert _compare({"s": base}, {"s": close}, score_rtol=0.05).ok

    report = _compare({"t": (base, 2)}, {"t": (base, 7)})
    assert report.outcomes[0].problems == ["total hits differ: 2 vs 7"]
    assert _compare({"t": (base, 2)}, {"t": (base, 7)}, compare_totals=False).ok

    boom = ValueError("unsupported query 'sltr'")
    report = _compare({"e": base, "both": boom}, {"e": boom, "both": boom})
    problems = {o.name: o.problems for o in report.outcomes}
    assert problems == {
        "both": ["both engines rejected the body"],
        "e": ["only right rejected the body"],
    }
    assert "right error: ValueError: unsupported query 'sltr'" in report.render()
    assert _compare({"both": boom}, {"both": boom}, both_errors_ok=True).ok


# -- osmem-server vs the embedded engine -----------------------------------------------------
TEMPLATE: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "properties": {
            "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "artist": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "genre": {"type": "keyword"},
            "popularity": {"type": "float"},
            "released": {"type": "date"},
        }
    },
}
_ROWS = [
    ("Love Story", "Taylor Swift", "country", 0.90, "2008-09-12"),
    ("Love Me Do", "The Beatles", "rock", 0.70, "1962-10-05"),
    ("Shake It Off", "Taylor Swift", "pop", 0.95, "2014-08-18"),
    ("Crazy in Love", "Beyonce", "pop", 0.80, "2003-05-18"),
    ("Love Love Love", "Various Love Artists", "pop", 0.10, "2010-01-01"),
    ("You Belong With Me", "Taylor Swift", "country", 0.85, "2008-11-04"),
    ("Yesterday", "The Beatles", "rock", 0.75, "1965-09-13"),
    ("Taylor Made", "Love Taylor Band", "indie", 0.20, "2019-03-01"),
    ("Lover", "Taylor Swift", "pop", 0.97, "2019-08-23"),
    ("All You Need Is Love", "The Beatles", "rock", 0.88, "1967-07-07"),
    ("Hey Jude", "The Beatles", "rock", 0.91, "1968-08-26"),
    ("Halo", "Beyonce", "pop", 0.83, "2008-01-20"),
]
DOCS = [
    (f"s{i}", dict(zip(("title", "artist", "genre", "popularity", "released"), row, strict=True)))
    for i, row in enumerate(_ROWS, start=1)
]

LEXICAL: dict[str, dict[str, Any]] = {
    "match": {"query": {"match": {"title": "love"}}},
    "match_and": {"query": {"match": {"title": {"query": "love story", "operator": "and"}}}},
    "match_or_two_terms": {"query": {"match": {"title": "love you"}}},
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
    "most_fields": {
        "query": {
            "multi_match": {
                "query": "beatles love",
                "fields": ["title", "artist^1.5"],
                "type": "most_fields",
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
    "bool_should": {
        "query": {
            "bool": {
                "should": [{"match": {"artist": "beatles"}}, {"match": {"title": "love"}}],
                "minimum_should_match": 1,
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
    "fuzzy_artist": {
        "query": {"match": {"artist": {"query": "tayler swfit", "fuzziness": "AUTO"}}}
    },
    "dis_max": {
        "query": {
            "dis_max": {
                "queries": [{"match": {"title": "love"}}, {"match": {"artist": "love"}}],
                "tie_breaker": 0.5,
            }
        }
    },
}

NO_BM25: dict[str, dict[str, Any]] = {
    "match_all": {"query": {"match_all": {}}},
    "constant_score": {
        "query": {"constant_score": {"filter": {"term": {"genre": "pop"}}, "boost": 3}}
    },
    "terms_keyword": {"query": {"terms": {"artist.keyword": ["Taylor Swift", "Beyonce"]}}},
    "ids": {"query": {"ids": {"values": ["s2", "s4", "s99"]}}},
    "filter_only": {
        "query": {"bool": {"filter": [{"range": {"popularity": {"gte": 0.8, "lt": 0.95}}}]}}
    },
    "popularity_only": {
        "query": {
            "function_score": {
                "query": {"match_all": {}},
                "field_value_factor": {"field": "popularity", "factor": 2.0, "modifier": "log1p"},
            }
        }
    },
}


def _embedded_engine(data_dir: Path) -> Any:
    try:
        from ltrr_os.engines.embedded import EmbeddedEngine
    except ImportError as exc:
        pytest.skip(f"ltrr_os.engines.embedded is not importable yet: {exc}")
    return EmbeddedEngine(data_dir)


@pytest.fixture
def pair(osmem: str, tmp_path: Path) -> Iterator[tuple[OpenSearchEngine, Any]]:
    """(osmem-server via OpenSearchEngine, embedded engine), both loaded with DOCS."""
    osm = OpenSearchEngine(OpenSearchSettings(hosts=[osmem], max_retries=0))
    emb = _embedded_engine(tmp_path / "embedded")
    load_same([osm, emb], "songs", TEMPLATE, DOCS)
    yield osm, emb
    osm.close()
    emb.close()


LABELS = ("osmem", "embedded")


def test_lexical_match_sets_agree(pair: tuple[OpenSearchEngine, Any]) -> None:
    """Same hits (operator, filters, fuzziness, minimum_should_match) and totals."""
    report = assert_same_topk(
        *pair, "songs", LEXICAL, k=len(DOCS), compare_order=False, labels=LABELS
    )
    assert all(o.a.hits for o in report.outcomes)  # every body matched something on both


def test_lexical_rankings_agree_on_this_catalog(pair: tuple[OpenSearchEngine, Any]) -> None:
    """Top-10 order of the lexical arms. osmem's per-field BM25 differs from Lucene's, so
    order parity is data-dependent: ``bool_should`` below is a known divergence (osmem
    ranks "Love Story" above two Beatles songs; Lucene BM25, which the embedded engine
    reproduces, ranks it below). A new divergence here needs checking by hand."""
    bodies = {n: b for n, b in LEXICAL.items() if n != "bool_should"}
    assert_same_topk(*pair, "songs", bodies, k=10, labels=LABELS)
    known = compare_topk(*pair, "songs", {"bool_should": LEXICAL["bool_should"]}, labels=LABELS)
    assert [p.split(":")[0] for p in known.outcomes[0].problems] == ["order differs"]


def test_scores_agree_where_no_bm25_is_involved(pair: tuple[OpenSearchEngine, Any]) -> None:
    assert_same_topk(*pair, "songs", NO_BM25, k=10, score_rtol=1e-6, labels=LABELS)


def test_rank_feature_scores_agree(osmem: str, tmp_path: Path) -> None:
    osm = OpenSearchEngine(OpenSearchSettings(hosts=[osmem], max_retries=0))
    emb = _embedded_engine(tmp_path / "embedded")
    template = {
        "mappings": {
            "properties": {"q2e": {"type": "rank_features"}, "pop": {"type": "rank_feature"}}
        }
    }
    docs = [
        (f"e{i}", {"q2e": {"love": 0.5 * i, "swift": 10.0 / i}, "pop": 1.5 * i})
        for i in range(1, 9)
    ]
    load_same([osm, emb], "memory", template, docs)
    bodies = {
        "saturation": {
            "query": {"rank_feature": {"field": "q2e.love", "saturation": {"pivot": 2}}}
        },
        "log": {"query": {"rank_feature": {"field": "pop", "log": {"scaling_factor": 1}}}},
        "sigmoid": {
            "query": {
                "rank_feature": {"field": "q2e.swift", "sigmoid": {"pivot": 3, "exponent": 0.7}}
            }
        },
        "inverse": {
            "query": {"rank_feature": {"field": "pop", "saturation": {"pivot": 4}, "boost": 2}}
        },
    }
    # Lucene keeps ~9 significant bits of a feature value: allow 0.5 %
    assert_same_topk(osm, emb, "memory", bodies, k=8, score_rtol=5e-3, labels=LABELS)


def test_bm25_scores_differ_from_lucene_on_osmem(pair: tuple[OpenSearchEngine, Any]) -> None:
    """Characterisation (not a wish): osmem's BM25 is not Lucene's; the embedded one is.

    If this fails because osmem now matches Lucene, update docs/osmem-subset.md and compare
    lexical scores with ``score_rtol``.
    """
    osm, emb = pair
    # Lucene BM25 of "love" in title for "Love Story" (tf=1, dl=2), by hand
    titles = [d["title"].lower().split() for _, d in DOCS]
    n_docs, n_love = len(titles), sum("love" in t for t in titles)
    avgdl = sum(map(len, titles)) / n_docs
    idf = math.log(1 + (n_docs - n_love + 0.5) / (n_love + 0.5))
    lucene = idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * 2 / avgdl))
    body = {"query": {"match": {"title": "love"}}, "size": 20}
    emb_score = {h["_id"]: h["_score"] for h in emb.search("songs", body)["hits"]["hits"]}["s1"]
    osm_score = {h["_id"]: h["_score"] for h in osm.search("songs", body)["hits"]["hits"]}["s1"]
    assert emb_score == pytest.approx(lucene, rel=1e-6)
    assert abs(osm_score / lucene - 1) > 0.01, "osmem now computes Lucene BM25: update the docs"
    report = compare_topk(osm, emb, "songs", LEXICAL, k=10, score_rtol=1e-3, labels=LABELS)
    assert not report.ok


@pytest.mark.xfail(
    strict=True,
    reason="embedded standard tokenizer splits katakana and hangul words into single "
    "characters; Lucene's UAX#29 StandardTokenizer (and osmem) keep them whole",
)
def test_cjk_words_tokenize_alike(osmem: str, tmp_path: Path) -> None:
    osm = OpenSearchEngine(OpenSearchSettings(hosts=[osmem], max_retries=0))
    emb = _embedded_engine(tmp_path / "embedded")
    docs = [
        ("k1", {"title": "スパゲッティー"}),
        ("k2", {"title": "ボイスメモ"}),
        ("h1", {"title": "한국어 노래"}),
    ]
    template = {"mappings": {"properties": {"title": {"type": "text"}}}}
    load_same([osm, emb], "cjk", template, docs)
    bodies = {
        "katakana": {"query": {"match": {"title": "メモ"}}},
        "hangul": {"query": {"match": {"title": "국어"}}},
    }
    assert_same_topk(osm, emb, "cjk", bodies, labels=LABELS)


# -- a real catalog (../shared/data) ---------------------------------------------------------
def _shared_data() -> Path:
    env = os.environ.get("LTRR_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    path = root / "music" / "spotify_songs.csv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path} (set LTRR_SHARED_DATA)")
    return path


@pytest.mark.shared_data
def test_spotify_sample_parity(osmem: str, tmp_path: Path) -> None:
    """2,000 real songs: same match sets; top-10 overlap measured (osmem BM25 differs)."""
    path = _shared_data()
    docs: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["track_id"] in seen:
                continue
            seen.add(row["track_id"])
            docs.append(
                (
                    row["track_id"],
                    {
                        "title": row["track_name"],
                        "artist": row["track_artist"],
                        "genre": row["playlist_genre"],
                        "popularity": float(row["track_popularity"]) / 100.0,
                    },
                )
            )
            if len(docs) == 2000:
                break
    template = {
        "mappings": {
            "properties": {
                "title": {"type": "text"},
                "artist": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "genre": {"type": "keyword"},
                "popularity": {"type": "float"},
            }
        }
    }
    osm = OpenSearchEngine(OpenSearchSettings(hosts=[osmem], max_retries=0))
    emb = _embedded_engine(tmp_path / "embedded")
    load_same([osm, emb], "spotify", template, docs)
    rng = random.Random(7)
    ascii_titles = [d["title"] for _, d in docs if d["title"].isascii() and d["title"].split()]
    bodies: dict[str, dict[str, Any]] = {}
    for title in rng.sample(ascii_titles, 25):
        q = " ".join(title.lower().split()[:2])
        bodies[f"match {q}"] = {"query": {"match": {"title": q}}}
        bodies[f"best {q}"] = {
            "query": {
                "multi_match": {"query": q, "fields": ["title^2", "artist"], "tie_breaker": 0.3}
            }
        }
        bodies[f"pop {q}"] = {
            "query": {
                "function_score": {
                    "query": {
                        "bool": {
                            "must": {"match": {"title": q}},
                            "filter": {"term": {"genre": "pop"}},
                        }
                    },
                    "field_value_factor": {
                        "field": "popularity",
                        "modifier": "log1p",
                        "factor": 2,
                        "missing": 0,
                    },
                }
            }
        }
    report = compare_topk(osm, emb, "spotify", bodies, k=10, labels=LABELS)
    totals = [p for o in report.outcomes for p in o.problems if p.startswith("total")]
    errors = [o.name for o in report.outcomes if o.a.error or o.b.error]
    assert not errors and not totals, report.render()
    # measured 0.95-0.96 with osmem-server 0.1.6; a drop means a real divergence
    assert report.mean_overlap() >= 0.9, report.render()
