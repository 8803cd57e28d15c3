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
    click_rng = np.random.default_rng(seed + 1_000_003)
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
