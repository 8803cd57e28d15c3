"""``ltrr bandit``: what the retrieval policy does, and what another would do."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from ..errors import ConfigError, DataError
from .common import data_dir_option, load_plan_for_cli

plan_option = click.option("--plan", "plan_path", required=True,
                           type=click.Path(dir_okay=False), help="A plan with a bandit.")  # fmt: skip


@click.group()
def bandit() -> None:
    """Inspect and evaluate a plan's retrieval bandit (docs/bandit.md)."""


@bandit.command()
@plan_option
@click.option("--last", default=5000, show_default=True, help="Searches to summarise.")
@data_dir_option
def status(plan_path: str, last: int, data_dir: str | None) -> None:
    """Policy version, arm selection rates and recent reward.

    \b
    Example:
      ltrr bandit status --plan query_plans/music-bandit.yaml
    """
    from rich.console import Console
    from rich.table import Table

    from ..feedback.log import EventLog, SearchLog
    from ..feedback.offline import PlanBandit, log_dir

    plan = load_plan_for_cli(plan_path, data_dir)
    ddir = Path(data_dir) if data_dir else None
    b = PlanBandit.open(plan, ddir)
    console = Console()
    console.print(f"policy {b.version or '(untrained)'} | learner {b.config.learner} | "
                  f"{b.policy.n_updates} updates | versions {b.store.versions()}")  # fmt: skip
    logs = log_dir(plan, ddir)
    recs = list(SearchLog(logs / "searches.jsonl"))[-last:]
    if not recs:
        console.print(f"no searches logged in {logs} yet")
        return
    engaged = {e.get("search_id") for e in EventLog(logs / "events.jsonl")
               if e.get("type") in ("click", "play", "purchase")}  # fmt: skip
    chosen = Counter(a for r in recs for a in r.get("chosen", ()))
    table = Table(title=f"last {len(recs)} searches")
    for col in ("arm", "chosen", "rate", "mean candidates"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm in b.policy.arms:
        budgets = [r["budgets"][arm] for r in recs if arm in r.get("budgets", {})]
        table.add_row(arm, str(chosen[arm]), f"{chosen[arm] / len(recs):.1%}",
                      f"{sum(budgets) / len(budgets):.0f}" if budgets else "-")  # fmt: skip
    console.print(table)
    rate = sum(r["search_id"] in engaged for r in recs) / len(recs)
    console.print(f"searches with engagement: {rate:.1%}")


@bandit.command()
@plan_option
@click.option("--events", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Events (default: the plan's ingested event log).")  # fmt: skip
@click.option("--searches", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Search log (default: the plan's).")  # fmt: skip
@click.option("--target", "targets", multiple=True, required=True,
              help="fixed:ARM+ARM (repeatable): a policy to evaluate from the logs.")  # fmt: skip
@click.option("--bootstrap", default=200, show_default=True)
@data_dir_option
def ope(plan_path: str, events: Path | None, searches: Path | None, targets: tuple[str, ...],
        bootstrap: int, data_dir: str | None) -> None:  # fmt: skip
    """Estimate other policies' value from the bandit's logs (IPS, SNIPS, DR).

    The value is the expected sum of per-arm rewards over the arms the target runs
    (an arm is rewarded when an engaged item was in its candidates). Logged searches
    without engagement count as observed zero rewards.

    \b
    Example:
      ltrr bandit ope --plan query_plans/music-bandit.yaml --target fixed:lexical+popular
    """
    from rich.console import Console
    from rich.table import Table

    from ..bandit.ope import estimate_all, fixed_target
    from ..feedback.events import read_events
    from ..feedback.log import SearchLog
    from ..feedback.offline import PlanBandit, log_dir
    from ..feedback.rewards import attribute

    plan = load_plan_for_cli(plan_path, data_dir)
    ddir = Path(data_dir) if data_dir else None
    cfg = PlanBandit.open(plan, ddir).config
    logs = log_dir(plan, ddir)
    search_path = searches or logs / "searches.jsonl"
    event_path = events or logs / "events.jsonl"
    for p in (search_path, event_path):
        if not p.is_file():
            raise DataError(f"{p}: not found")
    by_search: dict[str, list[dict]] = {}
    for _, ev in read_events(event_path):
        if not isinstance(ev, str) and ev.type != "impression":
            by_search.setdefault(ev.search_id, []).append(ev.to_reward_event())
    records = []
    for rec in SearchLog(search_path):
        rewards = attribute(rec, by_search.get(rec.get("search_id"), []),
                            weights=cfg.reward.weights, rank_discount=cfg.reward.rank_discount,
                            cost_per_candidate=cfg.reward.cost_per_candidate)  # fmt: skip
        records.append({**rec, "arm_rewards": rewards})
    table = Table(title=f"off-policy estimates from {len(records)} logged searches")
    for col in ("target", "IPS", "SNIPS", "DR (95% CI)"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for t in targets:
        if not t.startswith("fixed:"):
            raise ConfigError(f"--target {t!r}: use fixed:ARM+ARM")
        arms = t[6:].split("+")
        unknown = [a for a in arms if a not in plan.strategies]
        if unknown:
            raise ConfigError(f"--target {t!r}: unknown arms {unknown}")
        est = estimate_all(records, fixed_target(arms), n_boot=bootstrap)
        lo, hi = est["dr"]["ci95"]
        table.add_row(t, f"{est['ips']['value']:.4f}", f"{est['snips']['value']:.4f}",
                      f"{est['dr']['value']:.4f} [{lo:.4f}, {hi:.4f}]")  # fmt: skip
    Console().print(table)


@bandit.command()
@plan_option
@data_dir_option
def versions(plan_path: str, data_dir: str | None) -> None:
    """List saved policy versions (the current one is marked)."""
    from ..feedback.offline import PlanBandit

    plan = load_plan_for_cli(plan_path, data_dir)
    b = PlanBandit.open(plan, Path(data_dir) if data_dir else None)
    current = b.store.current()
    for v in b.store.versions():
        click.echo(("* " if v == current else "  ") + v)


@bandit.command()
@plan_option
@click.argument("version")
@data_dir_option
def rollback(plan_path: str, version: str, data_dir: str | None) -> None:
    """Make VERSION the current policy again (running Searchers reload it)."""
    from ..engines.embedded.store import atomic_write_text
    from ..feedback.offline import PlanBandit

    plan = load_plan_for_cli(plan_path, data_dir)
    b = PlanBandit.open(plan, Path(data_dir) if data_dir else None)
    if version not in b.store.versions():
        raise ConfigError(f"no policy version {version!r}; have {b.store.versions()}")
    atomic_write_text(b.store.dir / "CURRENT", version)
    click.echo(f"current policy: {version}")
