"""``ltrr bandit``: what the retrieval policy does, and what another would do."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, DataError
from .common import data_dir_option, load_plan_for_cli

plan_option = click.option("--plan", "plan_path", required=True,
                           type=click.Path(dir_okay=False), help="A plan with a bandit.")  # fmt: skip


class TargetPolicy(BaseModel):
    """A policy to evaluate off-policy (``--policy FILE``, YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    policy: Literal["fixed", "bandit"]
    arms: list[str] = Field(default_factory=list, description="fixed: the arms it always runs")
    version: str | None = Field(None, description="bandit: a saved version (default: current)")
    max_arms: int | None = Field(None, ge=1, le=20, description="bandit: override")
    exploration: float | None = Field(None, ge=0, le=1, description="bandit: override")
    config: dict[str, Any] | None = Field(
        None, description="bandit: another retrieval config (overrides of the plan's), "
        "trained on the first train_share of the logs and evaluated on the rest",
    )  # fmt: skip
    train_share: float = Field(0.5, gt=0, lt=1)


def _read_target(path: Path) -> TargetPolicy:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        obj = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}: a target policy is a mapping (policy: fixed|bandit, ...)")
    try:
        t = TargetPolicy.model_validate(obj)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}"
                        for e in exc.errors())  # fmt: skip
        raise ConfigError(f"{path}: {why}") from None
    if t.policy == "fixed" and not t.arms:
        raise ConfigError(f"{path}: a fixed policy needs arms: [...]")
    if t.policy == "bandit" and t.arms:
        raise ConfigError(f"{path}: arms is for fixed policies (a bandit chooses its own)")
    if t.config is not None and t.version:
        raise ConfigError(f"{path}: give a saved version or a config to train, not both")
    if t.config and "context" in t.config:
        raise ConfigError(f"{path}: config.context cannot change: the logs hold the plan's "
                          "context features")  # fmt: skip
    return t


def _trained_target(spec: TargetPolicy, b: Any, records: list[dict[str, Any]], label: str):
    """A fresh policy of another config, trained on the head of the logs; the tail."""
    from ..bandit.config import BanditRetrieval
    from ..bandit.ope import fit_on_logs
    from ..bandit.policy import RetrievalPolicy

    merged = {**b.config.model_dump(), **(spec.config or {}), "policy": "bandit"}
    try:
        cfg = BanditRetrieval.model_validate(merged)
    except ValidationError as exc:
        why = "; ".join(f"config.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors())  # fmt: skip
        raise ConfigError(f"{label}: {why}") from None
    cut = int(len(records) * spec.train_share)
    if cut < 1 or cut >= len(records):
        raise DataError(f"{label}: {len(records)} logged searches are too few to split")
    arms = b.policy.arms
    policy = RetrievalPolicy(arms, cfg, b.featurizer.dim,
                             {a: b.plan.strategies[a].size for a in arms})  # fmt: skip
    fit_on_logs(policy, records[:cut])
    return policy, records[cut:]


def _rewarded(records: Iterable[Mapping[str, Any]], events: Path | None,
              reward: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Logged searches with ``arm_rewards``: kept when present, else joined from events."""
    from ..feedback.events import read_events
    from ..feedback.rewards import attribute

    records = list(records)
    if all("arm_rewards" in r for r in records):
        return [dict(r) for r in records]
    if events is None or not events.is_file():
        raise DataError(
            f"the logged searches carry no arm_rewards and there is no event log "
            f"({events}); pass --events or run ltrr feedback ingest first"
        )
    by_search: dict[str, list[dict[str, Any]]] = {}
    for _, ev in read_events(events):
        if not isinstance(ev, str) and ev.type != "impression":
            by_search.setdefault(ev.search_id, []).append(ev.to_reward_event())
    out = []
    for rec in records:
        if "arm_rewards" in rec:
            out.append(dict(rec))
            continue
        rewards = attribute(rec, by_search.get(rec.get("search_id"), []),
                            weights=reward.weights, rank_discount=reward.rank_discount,
                            cost_per_candidate=reward.cost_per_candidate)  # fmt: skip
        out.append({**rec, "arm_rewards": rewards})
    return out


@click.group()
def bandit() -> None:
    """Inspect, evaluate and roll back a plan's retrieval bandit (docs/feedback.md)."""


@bandit.command()
@plan_option
@click.option("--last", default=5000, show_default=True, help="Searches to summarise.")
@data_dir_option
def status(plan_path: str, last: int, data_dir: str | None) -> None:
    """Policy version, arm selection rates and recent reward.

    Rewards are those of the ingested events (ltrr feedback ingest), attributed per arm
    as the bandit learns them; an arm chosen for a search without engagement earns 0.

    \b
    Example:
      ltrr bandit status --plan query_plans/music-bandit.yaml
    """
    from rich.console import Console
    from rich.table import Table

    from ..feedback.log import SearchLog
    from ..feedback.offline import PlanBandit, log_dir

    plan = load_plan_for_cli(plan_path, data_dir)
    ddir = Path(data_dir) if data_dir else None
    b = PlanBandit.open(plan, ddir)
    console = Console(highlight=False)
    console.print(f"policy {b.version or '(untrained)'} | learner {b.config.learner} | "
                  f"{b.policy.n_updates} updates | versions {b.store.versions()}")  # fmt: skip
    logs = log_dir(plan, ddir)
    recs = list(SearchLog(logs / "searches.jsonl"))[-last:]
    if not recs:
        console.print(f"no searches logged in {logs} yet")
        return
    events = logs / "events.jsonl"
    recs = _rewarded(recs, events, b.config.reward) if events.is_file() else recs
    chosen = Counter(a for r in recs for a in r.get("chosen", ()))
    table = Table(title=f"last {len(recs)} searches")
    for col in ("arm", "chosen", "rate", "mean candidates", "mean reward"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    arms = list(dict.fromkeys([*b.policy.arms, *chosen]))
    for arm in arms:
        budgets = [r["budgets"][arm] for r in recs if arm in r.get("budgets", {})]
        rewards = [r["arm_rewards"][arm] for r in recs if arm in (r.get("arm_rewards") or {})]
        table.add_row(arm, str(chosen[arm]), f"{chosen[arm] / len(recs):.1%}",
                      f"{sum(budgets) / len(budgets):.0f}" if budgets else "-",
                      f"{sum(rewards) / len(rewards):.3f}" if rewards else "-")  # fmt: skip
    console.print(table)
    if "arm_rewards" in recs[0]:
        per_search = [sum((r.get("arm_rewards") or {}).values()) for r in recs]
        engaged = sum(any(v > 0 for v in (r.get("arm_rewards") or {}).values()) for r in recs)
        console.print(f"recent reward per search: {sum(per_search) / len(recs):.3f} | "
                      f"searches with engagement: {engaged / len(recs):.1%}")  # fmt: skip
    else:
        console.print("no events ingested yet (ltrr feedback ingest)")


@bandit.command()
@plan_option
@click.option("--logs", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Logged searches, JSONL (default: the plan's search log).")  # fmt: skip
@click.option("--policy", "policies", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A target policy file, YAML/JSON (repeatable).")  # fmt: skip
@click.option("--target", "targets", multiple=True,
              help="Shorthand for a fixed policy: fixed:ARM+ARM (repeatable).")  # fmt: skip
@click.option(
    "--events",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Events joined to logs without arm_rewards (default: the plan's event log).",
)
@click.option("--bootstrap", default=200, show_default=True, help="Bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@data_dir_option
def ope(plan_path: str, logs: Path | None, policies: tuple[Path, ...], targets: tuple[str, ...],
        events: Path | None, bootstrap: int, as_json: bool, data_dir: str | None) -> None:  # fmt: skip
    """Estimate other policies' value from the bandit's logs (IPS, SNIPS, DR).

    The value of a policy is the expected sum, per search, of the rewards of the arms it
    runs (an arm is rewarded when an engaged item was in its candidates). A target
    policy file is either a fixed set of arms or a saved bandit version, optionally with
    another selection rule:

    \b
      policy: fixed                 policy: bandit
      arms: [lexical, fuzzy]        version: v000003   # default: the current one
                                    max_arms: 1        # optional overrides
                                    exploration: 0.0

    or another bandit configuration, trained on the first half of the logs (the logged
    per-arm rewards) and evaluated on the second half:

    \b
      policy: bandit
      config: {learner: epsilon_greedy, max_arms: 1}
      train_share: 0.5

    \b
    Example:
      ltrr bandit ope --plan query_plans/music-bandit.yaml --policy lexical-only.yaml
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..bandit.ope import estimate_all, fixed_target, policy_target
    from ..feedback.log import SearchLog
    from ..feedback.offline import PlanBandit, log_dir

    if not policies and not targets:
        raise ConfigError("give a target policy: --policy FILE or --target fixed:ARM+ARM")
    if bootstrap < 0:
        raise ConfigError("--bootstrap must be >= 0")
    plan = load_plan_for_cli(plan_path, data_dir)
    ddir = Path(data_dir) if data_dir else None
    b = PlanBandit.open(plan, ddir)
    plan_logs = log_dir(plan, ddir)
    search_path = logs or plan_logs / "searches.jsonl"
    if not search_path.is_file():
        raise DataError(f"{search_path}: no such search log")
    records = _rewarded(SearchLog(search_path), events or plan_logs / "events.jsonl",
                        b.config.reward)  # fmt: skip
    if not records:
        raise DataError(f"{search_path}: no logged search")

    named: list[tuple[str, Any]] = []
    for t in targets:
        if not t.startswith("fixed:"):
            raise ConfigError(f"--target {t!r}: use fixed:ARM+ARM (or --policy FILE)")
        named.append((t, TargetPolicy(policy="fixed", arms=t[6:].split("+"))))
    named += [(p.stem, _read_target(p)) for p in policies]
    rows = []
    for label, spec in named:
        label = spec.name or label
        if spec.policy == "fixed":
            unknown = [a for a in spec.arms if a not in plan.strategies]
            if unknown:
                raise ConfigError(f"{label}: unknown arms {unknown}; plan arms "
                                  f"{list(plan.strategies)}")  # fmt: skip
            target, evaluated = fixed_target(spec.arms), records
        else:
            policy, evaluated = b.policy, records
            if spec.config is not None:
                policy, evaluated = _trained_target(spec, b, records, label)
            elif spec.version:
                if spec.version not in b.store.versions():
                    raise ConfigError(f"{label}: no policy version {spec.version!r}; have "
                                      f"{b.store.versions()}")  # fmt: skip
                try:
                    policy = b.store.read(spec.version, b.featurizer.names).policy
                except (OSError, ValueError, KeyError, EOFError) as exc:
                    raise ConfigError(f"{label}: version {spec.version} unusable: {exc}") from None
            target = policy_target(policy, max_arms=spec.max_arms, exploration=spec.exploration)
        try:
            est = estimate_all(evaluated, target, n_boot=bootstrap)
        except ValueError as exc:
            raise DataError(f"{label}: {exc}") from None
        rows.append({"target": label, **est})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"off-policy estimates from {len(records)} logged searches")
    for col in ("target", "estimator", "value", "95% CI", "searches", "min ESS"):
        table.add_column(col, justify="left" if col in ("target", "estimator") else "right")
    for row in rows:
        ess = row["meta"]["effective_sample_size"]
        for n, k in enumerate(("ips", "snips", "dr")):
            lo, hi = row[k]["ci95"]
            first = n == 0
            table.add_row(row["target"] if first else "", k.upper(), f"{row[k]['value']:.4f}",
                          f"{lo:.4f} – {hi:.4f}", str(row["meta"]["searches"]) if first else "",
                          (f"{min(ess.values()):.0f}" if ess else "-") if first else "",
                          end_section=n == 2)  # fmt: skip
    console = Console(highlight=False)
    console.print(table)
    console.print("value = expected sum of per-arm rewards per search (95% CI: bootstrap)")
    for row in rows:
        blind = [a for a, v in row["meta"]["effective_sample_size"].items() if v == 0]
        if blind:
            msg = (f"{row['target']}: the logs never ran {blind}, which it runs: its "
                   "estimates miss those arms' rewards")  # fmt: skip
            console.print(f"[yellow]{escape(msg)}[/yellow]")


@bandit.command()
@plan_option
@data_dir_option
def versions(plan_path: str, data_dir: str | None) -> None:
    """List saved policy versions (the current one is marked with *)."""
    from ..feedback.offline import PlanBandit

    plan = load_plan_for_cli(plan_path, data_dir)
    b = PlanBandit.open(plan, Path(data_dir) if data_dir else None)
    current = b.store.current()
    if not b.store.versions():
        click.echo(f"no saved policy in {b.store.dir}")
    for v in b.store.versions():
        try:
            meta = b.store.meta(v)
            info = f"{meta.get('created', '?')}  {meta.get('n_updates', '?')} updates"
        except (OSError, ValueError):
            info = "(unreadable metadata)"
        click.echo(("* " if v == current else "  ") + f"{v}  {info}")


@bandit.command()
@plan_option
@click.argument("version")
@data_dir_option
def rollback(plan_path: str, version: str, data_dir: str | None) -> None:
    """Make VERSION the current policy again (running Searchers reload it)."""
    from ..feedback.offline import PlanBandit

    plan = load_plan_for_cli(plan_path, data_dir)
    b = PlanBandit.open(plan, Path(data_dir) if data_dir else None)
    b.store.rollback(version)
    click.echo(f"current policy: {version}")
