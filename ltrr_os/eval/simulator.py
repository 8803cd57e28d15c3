"""Bandit learning curves from simulated users: every policy through the real Searcher.

Each policy (a fixed single arm, all arms, a random subset, each bandit learner) answers
the same seeded stream of searches; simulated users click by a position-based model and
the bandit learns from those clicks through ``Searcher.feedback``. A memoising engine
serves repeated identical bodies (needs repeat, like a real log's head queries), which
changes no result: the embedded engine is deterministic for a fixed index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bandit.config import BanditRetrieval
from ..plan.models import AllArms, Plan
from ..search import Searcher
from .users import UserModel, clicks


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
            "mean_reward": float(self.rewards.mean()),
            f"mean_reward_last_{last}": float(self.rewards[tail].mean()),
            "mean_candidates": float(self.candidates.mean()),
            f"mean_candidates_last_{last}": float(self.candidates[tail].mean()),
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
    if policy.startswith("bandit:"):
        cfg = bandit_config(plan, policy.split(":", 1)[1], seed=seed, **kw)
        p = plan.model_copy(update={"retrieval": cfg})
    else:
        p = plan.model_copy(update={"retrieval": AllArms(policy="all")})
    return Searcher(p, env["engine"], understanding=env["understanding"], encoder=env["encoder"],
                    data_dir=env["data_dir"], online_learning=True, max_records=1000)  # fmt: skip


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
    progress: Callable[[int], None] | None = None,
) -> PolicyRun:
    """Run one policy over ``searches`` searches of the seeded stream."""
    stream = np.random.default_rng(seed)  # the same searches for every policy
    click_rng = np.random.default_rng(seed + 1_000_003)
    pick_rng = np.random.default_rng(seed + 2_000_003)
    s = searcher or make_searcher(plan, policy, env, seed)
    arms_all = list(plan.strategies)
    rewards = np.zeros(searches)
    cands = np.zeros(searches)
    chosen: list[list[str]] = []
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i in range(searches):
        need, ctx = users.sample(stream)
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
            records.append({**rec, "reward": rewards[i], "intent": need.intent})
        if progress is not None and (i + 1) % 500 == 0:
            progress(500)
    return PolicyRun(policy, rewards, cands, chosen, time.perf_counter() - t0, records, s)


def default_policies(plan: Plan, learners: Sequence[str]) -> list[str]:
    return [
        *(f"arm:{a}" for a in plan.strategies),
        "all",
        "random",
        *(f"bandit:{lr}" for lr in learners),
    ]
