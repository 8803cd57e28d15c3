"""``ltrr simulate``: policies against simulated users, before any real traffic."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, DataError
from .common import load_plan_for_cli


def _load_catalog(catalog: str, tracks: int, seed: int) -> list[dict[str, Any]]:
    """``sample`` (generated), the real catalog's CSV format, or a CSV/JSONL file."""
    from ..datasets import generate_music_catalog, load_spotify

    if catalog == "sample":
        return generate_music_catalog(n_tracks=tracks, seed=seed)
    path = Path(catalog)
    if not path.is_file():
        raise DataError(f"{catalog}: no such catalog file (or use --catalog sample)")
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline()
        if "track_name" in header:  # the Spotify songs format of ../shared/data/music
            docs, _ = load_spotify(path)
            return docs
    from ..indexing.readers import read_documents

    return list(read_documents(path, template="music"))


def _build(engine: Any, alias: str, docs: list[dict[str, Any]], data_dir: Path) -> None:
    from ..indexing.pipeline import build_index

    build_index(engine, alias, docs, template="music", data_dir=data_dir, progress=True)


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--catalog",
    default="sample",
    show_default=True,
    help="'sample' (generated), or a catalog file: the Spotify CSV, CSV or JSONL.",
)
@click.option("--tracks", default=3000, show_default=True, help="Size of the generated sample.")
@click.option("--searches", default=5000, show_default=True, help="Searches per policy and seed.")
@click.option(
    "--window",
    default=None,
    type=int,
    help="Evaluation window: the last N searches (default: a quarter).",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=int,
    default=(0,),
    show_default=True,
    help="Repeat for several seeds.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    help="arm:NAME, all, random, fixed:A+B or bandit:LEARNER (repeatable). "
    "Default: every single arm, all, random and the plan's learner.",
)
@click.option("--needs", default=2000, show_default=True, help="Distinct information needs.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="simulation",
    show_default=True,
    help="Where the JSON summary and PNG plots go.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Embedded data dir for the catalog index (default: a temporary one).",
)
def simulate(
    plan_path: str,
    catalog: str,
    tracks: int,
    searches: int,
    window: int | None,
    seeds: tuple[int, ...],
    policies: tuple[str, ...],
    needs: int,
    out_dir: str,
    data_dir: str | None,
) -> None:
    """Compare retrieval policies on simulated users of a music catalog.

    Simulated users search for known tracks (by title, misspelled artist, partial title),
    artists and genre/decade slices, from mobile or desktop, and click by a position-based
    model. Every policy answers the same seeded stream through the real Searcher; the
    bandit learns online from the clicks. Writes summary.json and plots to --out.

    \b
    Examples:
      ltrr simulate query_plans/music-bandit.yaml --searches 3000
      ltrr simulate query_plans/music-bandit.yaml --catalog spotify_songs.csv \\
          --searches 20000 --seed 0 --seed 1 --policy bandit:linucb --policy all
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ..engines.embedded import EmbeddedEngine
    from ..eval.simulator import compare_policies, default_policies, simulation_env, summarise
    from ..eval.users import UserModel

    if searches < 10:
        raise ConfigError("--searches must be at least 10")
    window = window or max(1, searches // 4)
    if window > searches:
        raise ConfigError(f"--window ({window}) exceeds --searches ({searches})")
    plan = load_plan_for_cli(plan_path)
    learners = [plan.retrieval.learner] if plan.retrieval.policy == "bandit" else []  # type: ignore[union-attr]
    pols = list(policies) or default_policies(plan, learners or ["linucb"])
    for p in pols:
        ok = p in ("all", "random") or p.split(":", 1)[0] in ("arm", "fixed", "bandit")
        if not ok:
            raise ConfigError(f"--policy {p!r}: use arm:NAME, all, random, fixed:A+B, bandit:L")
        if p.startswith("arm:") and p[4:] not in plan.strategies:
            raise ConfigError(f"--policy {p!r}: the plan has no arm {p[4:]!r}")
    console = Console()
    docs = _load_catalog(catalog, tracks, seeds[0])
    ddir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="ltrr-simulate-"))
    engine = EmbeddedEngine(ddir)
    _build(engine, plan.index.alias, docs, ddir)
    env = simulation_env(engine, plan, ddir)
    out = Path(out_dir)
    report: dict[str, Any] = {"plan": plan_path, "catalog": catalog, "docs": len(docs),
                              "searches": searches, "window": window, "seeds": {}}  # fmt: skip
    last_runs = None
    for seed in seeds:
        users = UserModel(docs, n_needs=needs, seed=seed)
        with Progress(console=console, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def step(pol: str, n: int, tasks: dict[str, Any] = tasks, seed: int = seed) -> None:
                if pol not in tasks:
                    total = searches if pol.startswith("bandit:") else window
                    tasks[pol] = bar.add_task(f"seed {seed} {pol}", total=total)
                bar.advance(tasks[pol], n)

            runs = compare_policies(plan, env, users, pols, searches=searches, seed=seed,
                                    window=window, progress=step)  # fmt: skip
        summary = summarise(runs, window)
        report["seeds"][str(seed)] = summary
        last_runs = runs
        table = Table(title=f"seed {seed}: last {window} searches")
        for col in ("policy", "reward", "candidates/search", "seconds"):
            table.add_column(col, justify="left" if col == "policy" else "right")
        for name, row in sorted(
            summary.items(), key=lambda kv: -kv[1][f"mean_reward_last_{window}"]
        ):
            table.add_row(name, f"{row[f'mean_reward_last_{window}']:.3f}",
                          f"{row[f'mean_candidates_last_{window}']:.0f}", f"{row['seconds']:.1f}")  # fmt: skip
        console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    try:
        from ..eval.simulator import plot_runs

        report["plots"] = [str(p) for p in plot_runs(last_runs or {}, window, out)]
    except ImportError:
        report["plots"] = []
        console.print("[yellow]matplotlib is not installed: no plots (pip install .[eval])")
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out / "summary.json")
    console.print(f"wrote {out / 'summary.json'}" + (f" and {len(report['plots'])} plots"))
