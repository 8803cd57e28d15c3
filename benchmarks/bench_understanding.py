"""Benchmark of query understanding on the real music catalog.

    .venv/bin/python benchmarks/bench_understanding.py [--spacy-fuzzy] [--out PATH]

Reads ``<shared data>/music/spotify_songs.csv`` (``LTRR_SHARED_DATA`` or
``../shared/data``) with the csv module and measures, with the ``understanding``
section of ``query_plans/music.yaml``:

- gazetteer build time (``fit_values`` on every artist, album and genre), and ``fit``
  through the per-index cache (first fit writes it, second reads it);
- ``analyze`` latency p50/p90/p99 over 1,000 queries (500 misspelled artist + title
  queries, 500 free-text queries: title words and generic phrases);
- tagging accuracy: the share of the 200 seeded typo queries (``make_typo_queries``,
  seed 0) whose intended artist is tagged, the same on 2,000 queries, and on queries
  with the exact artist name;
- false positives: the share of title-only queries given a fuzzy artist/any fuzzy slot;
- with ``--spacy-fuzzy``: spaCy's ``Matcher`` with ``FUZZY`` token patterns for the
  artists alone (build time and per-query time), the alternative we measured and did
  not take.

Writes ``benchmarks/results/understanding.json`` (machine, versions, config, figures)
and prints a short table. Not a pytest test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rapidfuzz  # noqa: E402
import spacy  # noqa: E402
import yaml  # noqa: E402

from ltrr_os.datasets.locate import shared_data  # noqa: E402
from ltrr_os.plan.models import UnderstandingConfig  # noqa: E402
from ltrr_os.understanding import QueryUnderstanding, make_typo_queries  # noqa: E402
from ltrr_os.understanding.typos import title_words  # noqa: E402

_GENERIC = (
    "love songs", "best of the 80s", "relaxing music for a rainy day", "songs to dance to",
    "workout playlist", "sad songs", "summer hits 2019", "chill rock", "hip hop 90s",
    "music like the weekend", "play something new", "top latin songs", "edm remix",
    "acoustic covers of pop songs", "the night we met", "white christmas", "i will survive",
)  # fmt: skip


def load_catalog(path: Path) -> list[dict[str, Any]]:
    """One dict per track_id (the file repeats a track once per playlist)."""
    tracks: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            t = tracks.get(row["track_id"])
            if t is None:
                t = tracks[row["track_id"]] = {
                    "track_id": row["track_id"],
                    "title": "" if row["track_name"] == "NA" else row["track_name"],
                    "artist": "" if row["track_artist"] == "NA" else row["track_artist"],
                    "album": "" if row["track_album_name"] == "NA" else row["track_album_name"],
                    "genre": [],
                }
            if row["playlist_genre"] and row["playlist_genre"] not in t["genre"]:
                t["genre"].append(row["playlist_genre"])
    return list(tracks.values())


def gazetteer_values(docs: list[dict[str, Any]]) -> dict[str, list[tuple[str, int]]]:
    """slot -> (value, doc count), what ``Engine.terms`` returns for each field."""
    artists = Counter(d["artist"] for d in docs if d["artist"])
    albums = Counter(d["album"] for d in docs if d["album"])
    genres = Counter(g for d in docs for g in d["genre"])
    return {
        "artist": artists.most_common(),
        "album": albums.most_common(),
        "genre": genres.most_common(),
    }


def music_config() -> UnderstandingConfig:
    plan = yaml.safe_load((ROOT / "query_plans" / "music.yaml").read_text(encoding="utf-8"))
    return UnderstandingConfig.model_validate(plan["understanding"])


class _TermsEngine:
    """The two Engine methods ``QueryUnderstanding.fit`` calls, over in-memory values."""

    def __init__(self, values: dict[str, list[tuple[str, int]]], fields: dict[str, str]):
        self.by_field = {fields[slot]: v for slot, v in values.items()}

    def get_alias(self, alias: str) -> list[str]:
        return [f"{alias}-v1"]

    def terms(self, index: str, field: str, size: int = 10_000) -> list[tuple[str, int]]:
        return self.by_field.get(field, [])[:size]


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def tag_rate(qu: QueryUnderstanding, queries: list[dict[str, Any]]) -> dict[str, Any]:
    ok = Counter()
    total = Counter()
    for q in queries:
        hit = q["artist"] in qu.analyze(q["query"]).slot_values("artist")
        total[q["edits"]] += 1
        ok[q["edits"]] += hit
    n = sum(total.values())
    return {
        "queries": n,
        "tagged": sum(ok.values()),
        "rate": sum(ok.values()) / n if n else 0.0,
        "by_edits": {str(k): {"queries": total[k], "tagged": ok[k]} for k in sorted(total)},
    }


def spacy_fuzzy_matcher(artists: list[str], queries: list[str]) -> dict[str, float]:
    """spaCy's Matcher with one FUZZY pattern per artist (long words fuzzy, short exact)."""
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    t = time.perf_counter()
    matcher = Matcher(nlp.vocab)
    for i, doc in enumerate(nlp.tokenizer.pipe(artists)):
        pattern = [
            {"LOWER": {"FUZZY": tok.lower_}} if len(tok) >= 5 else {"LOWER": tok.lower_}
            for tok in doc
        ]
        matcher.add(f"a{i}", [pattern])
    build = time.perf_counter() - t
    docs = [nlp.make_doc(q) for q in queries]
    t = time.perf_counter()
    for d in docs:
        matcher(d)
    per_query = (time.perf_counter() - t) / len(docs)
    return {"patterns": len(artists), "build_s": build, "ms_per_query": per_query * 1000}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/understanding.json")
    ap.add_argument("--spacy-fuzzy", action="store_true", help="also time spaCy FUZZY patterns")
    args = ap.parse_args(argv)

    path = shared_data("music", "spotify_songs.csv")
    if path is None:
        print("spotify_songs.csv not found: set LTRR_SHARED_DATA or put ../shared/data beside")
        return 2
    t = time.perf_counter()
    docs = load_catalog(path)
    read_s = time.perf_counter() - t
    values = gazetteer_values(docs)
    config = music_config()

    t = time.perf_counter()
    qu = QueryUnderstanding(config)
    init_s = time.perf_counter() - t
    builds = []
    for _ in range(3):
        t = time.perf_counter()
        qu.fit_values(values)
        builds.append(time.perf_counter() - t)
    gaz = qu.gazetteer_
    assert gaz is not None

    fields = {name: spec.field for name, spec in config.slots.items()}
    engine = _TermsEngine(values, fields)
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = QueryUnderstanding(config, cache_dir=cache_dir)
        t = time.perf_counter()
        cold.fit(engine, "music")  # type: ignore[arg-type]
        fit_miss = time.perf_counter() - t
        warm = QueryUnderstanding(config, cache_dir=cache_dir)
        t = time.perf_counter()
        warm.fit(engine, "music")  # type: ignore[arg-type]
        fit_hit = time.perf_counter() - t
        assert warm.cache_status_ == "hit", warm.cache_status_
        cache_bytes = sum(p.stat().st_size for p in Path(cache_dir).iterdir())

    typo200 = make_typo_queries(docs, 200, seed=0)
    typo2000 = make_typo_queries(docs, 2000, seed=1)
    rng = random.Random(0)
    sample = rng.sample([d for d in docs if d["artist"] and title_words(d["title"])], 1500)
    exact = [
        {
            "query": f"{d['artist'].lower()} {' '.join(title_words(d['title'])[:2])}",
            "artist": d["artist"],
            "edits": 0,
        }
        for d in sample[:500]
    ]
    title_only = [" ".join(title_words(d["title"])[: rng.randint(1, 3)]) for d in sample[500:]]
    free = [*title_only[: 500 - len(_GENERIC) * 5], *(list(_GENERIC) * 5)]
    mixed = [q["query"] for q in make_typo_queries(docs, 500, seed=2)] + free
    rng.shuffle(mixed)

    for q in mixed[:200]:  # warm-up
        qu.analyze(q)
    lat: list[float] = []
    for q in mixed:
        t = time.perf_counter()
        qu.analyze(q)
        lat.append((time.perf_counter() - t) * 1000)

    fuzzy_artist = fuzzy_any = 0
    for q in title_only:
        u = qu.analyze(q)
        fuzzy_artist += any(s.fuzzy and s.slot == "artist" for s in u.slots)
        fuzzy_any += any(s.fuzzy for s in u.slots)

    results: dict[str, Any] = {
        "benchmark": "understanding",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "rapidfuzz": rapidfuzz.__version__,
        },
        "config": config.model_dump(mode="json"),
        "params": {
            "max_tokens": qu.max_tokens,
            "max_chars": qu.max_chars,
            "anchor_max_df": qu.anchor_max_df,
            "common_df": qu._common_df,
            "facet_max_values": qu.facet_max_values,
            "topic_slots": sorted(qu.topic_slot_names),
        },
        "catalog": {
            "file": path.name,
            "tracks": len(docs),
            "values": {k: len(v) for k, v in values.items()},
            "gazetteer_entries": gaz.n_entries,
            "anchor_words": len(gaz.postings),
            "deletion_keys": len(gaz.deletes),
            "read_csv_s": round(read_s, 3),
        },
        "build": {
            "init_s": round(init_s, 3),
            "fit_values_s": [round(b, 3) for b in builds],
            "fit_values_median_s": round(statistics.median(builds), 3),
            "fit_cache_miss_s": round(fit_miss, 3),
            "fit_cache_hit_s": round(fit_hit, 3),
            "cache_file_bytes": cache_bytes,
        },
        "analyze_ms": {
            "queries": len(lat),
            "p50": round(percentile(lat, 50), 4),
            "p90": round(percentile(lat, 90), 4),
            "p99": round(percentile(lat, 99), 4),
            "max": round(max(lat), 4),
            "mean": round(statistics.fmean(lat), 4),
        },
        "tagging": {
            "typo_200_seed0": tag_rate(qu, typo200),
            "typo_2000_seed1": tag_rate(qu, typo2000),
            "exact_500": tag_rate(qu, exact),
        },
        "false_positives": {
            "title_only_queries": len(title_only),
            "fuzzy_artist_rate": fuzzy_artist / len(title_only),
            "any_fuzzy_slot_rate": fuzzy_any / len(title_only),
        },
    }
    if args.spacy_fuzzy:
        artists = [v for v, _ in values["artist"]]
        results["spacy_fuzzy_matcher"] = spacy_fuzzy_matcher(artists, mixed[:100])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    b, a, tg = results["build"], results["analyze_ms"], results["tagging"]
    fp = results["false_positives"]
    rows = [
        ("gazetteer build (fit_values, median of 3)", f"{b['fit_values_median_s']:.2f} s"),
        ("fit, cache miss / hit", f"{b['fit_cache_miss_s']:.2f} s / {b['fit_cache_hit_s']:.2f} s"),
        ("analyze p50 / p90 / p99", f"{a['p50']:.3f} / {a['p90']:.3f} / {a['p99']:.3f} ms"),
        ("typo queries tagged (200, seed 0)", f"{tg['typo_200_seed0']['rate']:.1%}"),
        ("typo queries tagged (2000, seed 1)", f"{tg['typo_2000_seed1']['rate']:.1%}"),
        ("exact artist queries tagged (500)", f"{tg['exact_500']['rate']:.1%}"),
        ("title-only queries with a fuzzy artist", f"{fp['fuzzy_artist_rate']:.1%}"),
        ("title-only queries with any fuzzy slot", f"{fp['any_fuzzy_slot_rate']:.1%}"),
    ]
    if "spacy_fuzzy_matcher" in results:
        s = results["spacy_fuzzy_matcher"]
        rows.append(
            (f"spaCy FUZZY Matcher, {s['patterns']} artists",
             f"build {s['build_s']:.1f} s, {s['ms_per_query']:.1f} ms/query")
        )  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"understanding on {path.name}: {len(docs)} tracks, {gaz.n_entries} names")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
