"""Bandit learning curves from simulated users: every policy through the real Searcher.

Each policy (a fixed single arm, all arms, a random subset, each bandit learner) answers
the same seeded stream of searches; simulated users click by a position-based model and
the bandit learns from those clicks through ``Searcher.feedback``. A memoising engine
serves repeated identical bodies (needs repeat, like a real log's head queries), which
changes no result: the embedded engine is deterministic for a fixed index.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..bandit.config import BanditRetrieval
from ..engines.base import Engine
from ..engines.caching import CachingEngine
from ..feedback.rewards import attribute
from ..plan.models import AllArms, FixedArms, Plan
from ..search import Searcher
from .users import UserModel, clicks


def simulation_env(engine: Engine, plan: Plan, data_dir: str | Path) -> dict[str, Any]:
    """What every simulated Searcher shares: a memoising engine over the plan's index,
    understanding fitted once, the index's encoder, and a scratch dir for policies.

    Policies are kept in a fresh temporary directory so a simulation never reads or
    overwrites a policy learned elsewhere.
    """
    from ..encoders import load_encoder
    from ..understanding import QueryUnderstanding

    data_dir = Path(data_dir)
    alias = plan.index.alias
    index = (engine.get_alias(alias) or [alias])[0]
    qu = QueryUnderstanding(plan.understanding, cache_dir=data_dir / "understanding")
    qu.fit(engine, alias)
    enc_dir = data_dir / "encoders" / index
    encoder = load_encoder(enc_dir) if enc_dir.exists() else None
    scratch = Path(tempfile.mkdtemp(prefix="ltrr-sim-"))
    return {"engine": CachingEngine(engine), "understanding": qu, "encoder": encoder,
            "data_dir": scratch, "index": index}  # fmt: skip


@dataclass
class PolicyRun:
    name: str
    rewards: np.ndarray
    candidates: np.ndarray
    chosen: list[list[str]]
    seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)
    searcher: Searcher | None = None

    def summary(self, last: int) -> dict[str, Any]:
        tail = slice(-last, None)
        return {
            "mean_reward": float(np.nanmean(self.rewards)),
            f"mean_reward_last_{last}": float(np.nanmean(self.rewards[tail])),
            "mean_candidates": float(np.nanmean(self.candidates)),
            f"mean_candidates_last_{last}": float(np.nanmean(self.candidates[tail])),
            "seconds": round(self.seconds, 2),
        }


def bandit_config(plan: Plan, learner: str | None = None, **overrides: Any) -> BanditRetrieval:
    """The plan's bandit section (or defaults) with another learner."""
    base = (
        plan.retrieval
        if isinstance(plan.retrieval, BanditRetrieval)
        else BanditRetrieval(policy="bandit")
    )
    update: dict[str, Any] = dict(overrides)
    if learner:
        update["learner"] = learner
    return base.model_copy(update=update)


def make_searcher(plan: Plan, policy: str, env: dict[str, Any], seed: int, **kw: Any) -> Searcher:
    """A Searcher for ``policy``: ``bandit:<learner>``, ``fixed:a+b``, or anything else
    (``all``, ``arm:X``, ``random``: arms are then forced per search)."""
    if policy.startswith("bandit:"):
        cfg = bandit_config(plan, policy.split(":", 1)[1], seed=seed, **kw)
        p = plan.model_copy(update={"retrieval": cfg})
    elif policy.startswith("fixed:"):
        p = plan.model_copy(update={"retrieval": FixedArms(policy="fixed",
                                                           arms=policy[6:].split("+"))})  # fmt: skip
    else:
        p = plan.model_copy(update={"retrieval": AllArms(policy="all")})
    scratch = Path(env["data_dir"]) / f"{policy.replace(':', '_')}-{seed}"
    return Searcher(p, env["engine"], understanding=env["understanding"], encoder=env["encoder"],
                    data_dir=scratch, online_learning=True, max_records=1000)  # fmt: skip


def run_policy(
    plan: Plan,
    policy: str,
    env: dict[str, Any],
    users: UserModel,
    *,
    searches: int,
    seed: int,
    keep_records: bool = False,
    searcher: Searcher | None = None,
    learn: bool = True,
    start: int = 0,
    progress: Callable[[int], None] | None = None,
) -> PolicyRun:
    """Run one policy over ``searches`` searches of the seeded stream.

    Searches before ``start`` are drawn but not run (a policy that does not learn needs
    only the evaluation window); their rewards and candidates are reported as NaN.
    """
    stream = np.random.default_rng(seed)  # the same searches for every policy
    pick_rng = np.random.default_rng(seed + 2_000_003)
    s = searcher or make_searcher(plan, policy, env, seed)
    arms_all = list(plan.strategies)
    rewards = np.full(searches, np.nan)
    cands = np.full(searches, np.nan)
    chosen: list[list[str]] = []
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i in range(searches):
        need, ctx = users.sample(stream)
        if i < start:
            continue
        forced: list[str] | None = None
        if policy.startswith("arm:"):
            forced = [policy[4:]]
        elif policy == "random":
            forced = list(pick_rng.choice(arms_all, size=2, replace=False))
        result = s.search(need.query, ctx, size=10, arms=forced)
        rec = s.record(result.search_id)
        assert rec is not None
        # a click stream per search: a policy run on the window only clicks as it would
        # have in a full run
        click_rng = np.random.default_rng((seed + 1_000_003, i))
        clicked = clicks(result.ids(), need.relevant, click_rng)
        rewards[i] = 1.0 if any(c in need.relevant for c in clicked) else 0.0
        cands[i] = sum(rec["budgets"].values()) if rec["budgets"] else 0
        chosen.append(list(rec["chosen"]))
        if s.policy is not None and learn:
            s.feedback(result.search_id, clicked=clicked)
        if keep_records:
            events = [{"type": "click", "item_id": c} for c in clicked]
            records.append({**rec, "reward": rewards[i], "intent": need.intent,
                            "arm_rewards": attribute(rec, events)})  # fmt: skip
        if progress is not None and (i + 1 - start) % 500 == 0:
            progress(500)
    return PolicyRun(policy, rewards, cands, chosen, time.perf_counter() - t0, records, s)


def default_policies(plan: Plan, learners: Sequence[str]) -> list[str]:
    return [
        *(f"arm:{a}" for a in plan.strategies),
        "all",
        "random",
        *(f"bandit:{lr}" for lr in learners),
    ]


def compare_policies(
    plan: Plan,
    env: dict[str, Any],
    users: UserModel,
    policies: Sequence[str],
    *,
    searches: int,
    seed: int,
    window: int,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, PolicyRun]:
    """Run each policy on the same seeded stream. Learning policies (``bandit:*``) run
    every search; the others only the last ``window`` (they do not change over time)."""
    runs: dict[str, PolicyRun] = {}
    for pol in policies:
        learns = pol.startswith("bandit:")
        start = 0 if learns else max(0, searches - window)
        cb = (lambda n, pol=pol: progress(pol, n)) if progress else None
        runs[pol] = run_policy(
            plan, pol, env, users, searches=searches, seed=seed, start=start, progress=cb
        )
    return runs


def summarise(runs: dict[str, PolicyRun], window: int) -> dict[str, dict[str, Any]]:
    """Per policy: mean reward and candidates over all searches it ran and the last
    ``window``, and for learners the share of searches that ran each arm."""
    out: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        row = run.summary(window)
        if name.startswith("bandit:") and run.chosen:
            tail = run.chosen[-window:]
            arms = sorted({a for c in run.chosen for a in c})
            row["arm_share_last_window"] = {
                a: round(sum(a in c for c in tail) / len(tail), 4) for a in arms
            }
        out[name] = row
    return out


def plot_runs(runs: dict[str, PolicyRun], window: int, out_dir: Path) -> list[Path]:
    """PNG plots: cumulative reward and regret against the best policy over the window,
    candidates per search, and each learner's arm choice over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    n = max(len(r.rewards) for r in runs.values())
    best = max(float(np.nanmean(r.rewards[-window:])) for r in runs.values())
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, r in runs.items():
        ran = ~np.isnan(r.rewards)
        xs = np.arange(n)[ran]
        rw = r.rewards[ran]
        axes[0].plot(xs, np.cumsum(rw), label=name)
        axes[1].plot(xs, np.cumsum(best - rw), label=name)
        c = r.candidates[ran]
        k = min(200, len(c))
        axes[2].plot(xs[k - 1 :], np.convolve(c, np.ones(k) / k, mode="valid"), label=name)
    axes[0].set_title("cumulative reward")
    axes[1].set_title("cumulative regret vs best mean reward")
    axes[2].set_title("candidates per search (rolling mean)")
    for ax in axes:
        ax.set_xlabel("search")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    files.append(out_dir / "simulation_reward.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    for name, r in runs.items():
        if not name.startswith("bandit:") or not r.chosen:
            continue
        arms = sorted({a for c in r.chosen for a in c})
        m = np.array([[a in c for a in arms] for c in r.chosen], dtype=float)
        k = min(250, len(m))
        fig, ax = plt.subplots(figsize=(8, 4))
        for j, a in enumerate(arms):
            ax.plot(np.convolve(m[:, j], np.ones(k) / k, mode="valid"), label=a)
        ax.set_title(f"{name}: share of searches running each arm (rolling mean of {k})")
        ax.set_xlabel("search")
        ax.legend(fontsize=7)
        fig.tight_layout()
        files.append(out_dir / f"simulation_arms_{name.replace(':', '_')}.png")
        fig.savefig(files[-1], dpi=100)
        plt.close(fig)
    return files
