"""``ltrr demo``: the whole loop on a generated catalog, with no server and no download."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError

#: the plan the demo runs, next to the package in a checkout
DEMO_PLAN = Path(__file__).resolve().parents[2] / "query_plans" / "music.yaml"


def demo_queries(docs: list[dict[str, Any]], seed: int) -> list[tuple[str, str]]:
    """(what it shows, query) picked from the generated catalog so they always match."""
    from ..understanding.typos import misspell

    rng = random.Random(seed)
    by_artist = Counter(d["artist"] for d in docs)
    artist = next(a for a, _ in by_artist.most_common() if len(a) >= 8)
    typo = None
    for _ in range(50):
        typo = misspell(artist, 1, rng, keep_first=True)
        if typo and typo.lower() != artist.lower():
            break
    top = max((d for d in docs if d["artist"] == artist), key=lambda d: d["popularity"])
    title_word = top["title"].split()[0]
    slices = Counter(
        (g, d["decade"]) for d in docs for g in (d.get("genre") or []) if d.get("decade")
    )
    (genre, decade), _ = slices.most_common(1)[0]
    return [
        ("an artist, exactly", artist),
        ("the same artist with a typo, plus a title word", f"{typo or artist} {title_word}"),
        ("a genre and a decade", f"{genre} {decade}s"),
        ("a track title", top["title"]),
        ("free text (k-NN helps)", f"{title_word.lower()} songs"),
    ]


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="./demo-data",
    show_default=True,
    help="Where the embedded engine keeps the demo index.",
)
@click.option(
    "--tracks",
    type=click.IntRange(50, 200_000),
    default=3000,
    show_default=True,
    help="Size of the generated catalog.",
)
@click.option("--seed", default=0, show_default=True, help="Catalog and query seed.")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"Query plan (default: {DEMO_PLAN.relative_to(DEMO_PLAN.parents[1])}).",
)
def demo(data_dir: str, tracks: int, seed: int, plan_path: str | None) -> None:
    """Index a generated music catalog into the embedded engine and run searches.

    Generates a deterministic catalog (artists, albums, genres, years, Zipf popularity,
    names that invite typos), builds a versioned index with vectors from the default
    encoder (TF-IDF + SVD, no torch), swaps the alias onto it, then runs a few queries
    through query_plans/music.yaml and prints each ranked list with the arms that found
    every hit. Re-running rebuilds cleanly (older versions are pruned).

    \b
    Examples:
      ltrr demo
      ltrr demo --tracks 20000 --data-dir /tmp/ltrr-demo
    """
    from rich.console import Console

    from ..datasets import generate_music_catalog
    from ..engines.embedded import EmbeddedEngine
    from ..indexing.pipeline import build_index
    from ..search import Searcher
    from .common import load_plan_for_cli
    from .search import print_result

    console = Console(width=max(Console().width, 120))
    path = Path(plan_path) if plan_path else DEMO_PLAN
    if not path.is_file():
        raise ConfigError(f"{path}: plan not found (run from a checkout, or pass --plan)")
    plan = load_plan_for_cli(str(path), data_dir)
    t0 = time.perf_counter()
    docs = generate_music_catalog(n_tracks=tracks, seed=seed)
    console.print(f"[bold]1. generated[/bold] {len(docs):,} tracks by "
                  f"{len({d['artist'] for d in docs}):,} artists")  # fmt: skip
    engine = EmbeddedEngine(data_dir)
    report = build_index(engine, plan.index.alias, docs, template=plan.index.template,
                         data_dir=data_dir, progress=True)  # fmt: skip
    console.print(
        f"[bold]2. indexed[/bold] {report.loaded:,} docs into {report.index} "
        f"({report.seconds:.1f} s, encoder {report.encoder['type'] if report.encoder else '-'}); "
        f"alias {plan.index.alias!r} -> {report.index}"
        + (f"; pruned {', '.join(report.pruned)}" if report.pruned else "")
    )
    searcher = Searcher(plan, engine, data_dir=data_dir)
    fields = ["title", "artist", "year", "popularity"]
    console.print("[bold]3. searches[/bold] (plan: every arm runs, fused by RRF)\n")
    for what, query in demo_queries(docs, seed):
        console.print(f"[cyan]{what}[/cyan]")
        print_result(searcher.search(query, {"device": "desktop"}, 5), fields, console)
        console.print()
    console.print(
        f"done in {time.perf_counter() - t0:.1f} s. Next: "
        f'ltrr search {path} "<query>" --data-dir {data_dir}   |   '
        "ltrr plan explain  |  ltrr simulate query_plans/music-bandit.yaml"
    )
