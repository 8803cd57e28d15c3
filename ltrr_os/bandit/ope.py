"""Off-policy evaluation of retrieval policies from logged searches: IPS, SNIPS, DR.

The logging policy chooses a *set* of arms, and each chosen arm's reward is observed
separately (was an engaged item in its candidates, :mod:`ltrr_os.feedback.rewards`).
Every search logs each arm's exact marginal inclusion probability ``p_a(x)``
(:mod:`ltrr_os.bandit.policy`). A target policy is given by the probability ``pi_a(x)``
that it includes arm ``a``; its value is the expected sum of the per-arm rewards over
the arms it runs:

    V(pi) = E_x [ sum_a pi_a(x) r_a(x) ]

This decomposition is what lets a combinatorial choice be evaluated with per-arm
propensities instead of the (much smaller) probability of one exact set. Estimators,
following Open Bandit Pipeline's definitions (Saito et al., 2021) arm by arm:

- IPS:   mean over searches of  sum_a pi_a 1[a chosen] r_a / p_a
- SNIPS: per arm, the IPS sum divided by the sum of its weights ``1[a chosen] pi_a / p_a``,
         times the mean of ``pi_a`` over searches (known exactly): a little bias for
         much less variance
- DR:    a reward model r^_a(x) (ridge regression on the logged context, cross-fitted in
         two folds so a search never scores with a model trained on itself) plus the IPS
         correction of its residual: sum_a pi_a [ r^_a + 1[a chosen] (r_a - r^_a) / p_a ]

Confidence intervals: percentile bootstrap over searches. OBP itself depends on torch,
which the base install must not pull; these few lines of numpy are the same formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Target = Callable[[Mapping[str, Any]], Mapping[str, float]]
ESTIMATORS = ("ips", "snips", "dr")


def _matrices(
    records: Sequence[Mapping[str, Any]], target: Target
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arms, and per (search, arm): target prob, logging prob, chosen, reward; contexts."""
    usable = [r for r in records if _observed(r)]
    arms = sorted({a for r in usable for a in r.get("propensities", {})})
    n, k = len(usable), len(arms)
    col = {a: j for j, a in enumerate(arms)}
    pi = np.zeros((n, k))
    p = np.ones((n, k))
    chosen = np.zeros((n, k), dtype=bool)
    reward = np.zeros((n, k))
    for i, r in enumerate(usable):
        for a, prob in r.get("propensities", {}).items():
            p[i, col[a]] = float(prob)
        for a, prob in target(r).items():
            if a in col:
                pi[i, col[a]] = float(prob)
        rewards = r.get("arm_rewards") or {}
        for a in r.get("chosen", ()):
            if a in col and a in rewards:
                chosen[i, col[a]] = True
                reward[i, col[a]] = float(rewards[a])
    # an arm the logging policy could not run (not applicable) is one the target cannot
    # run either: its probability is 0 there, so it contributes nothing
    pi[p <= 0] = 0.0
    p[p <= 0] = 1.0
    dims = {len(r.get("features") or ()) for r in usable}
    x = (
        np.asarray([r["features"] for r in usable], dtype=float)
        if len(dims) == 1 and 0 not in dims
        else np.ones((n, 1))
    )
    return arms, pi, p, chosen, reward, x


def _observed(r: Mapping[str, Any]) -> bool:
    rewards = r.get("arm_rewards")
    if rewards is None or not r.get("propensities"):
        return False
    return all(np.isfinite(float(v)) for v in rewards.values())


def _reward_model(
    x: np.ndarray, chosen: np.ndarray, reward: np.ndarray, lam: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Cross-fitted ridge predictions r^_a(x_i) for every search and arm."""
    n, k = chosen.shape
    out = np.zeros((n, k))
    fold = np.random.default_rng(seed).integers(0, 2, size=n)
    eye = lam * np.eye(x.shape[1])
    for f in (0, 1):
        train, test = fold != f, fold == f
        for j in range(k):
            m = train & chosen[:, j]
            if m.sum() == 0:
                continue
            xa = x[m]
            w = np.linalg.solve(xa.T @ xa + eye, xa.T @ reward[m, j])
            out[test, j] = x[test] @ w
    return out


def _point(pi: np.ndarray, p: np.ndarray, chosen: np.ndarray, reward: np.ndarray,
           rhat: np.ndarray) -> dict[str, float]:  # fmt: skip
    n = len(pi)
    w = chosen * pi / p
    ips = float((w * reward).sum() / n)
    # per arm: the weighted mean reward where the target runs it, times how often it does
    # (the target's own probabilities, known exactly for every logged search)
    wsum = w.sum(axis=0)
    mean_r = np.where(wsum > 0, (w * reward).sum(axis=0) / np.maximum(wsum, 1e-12), 0.0)
    snips = float(np.sum(mean_r * pi.mean(axis=0)))
    dr = float((pi * rhat + w * (reward - rhat)).sum() / n)
    return {"ips": ips, "snips": snips, "dr": dr}


def estimate_all(
    records: Sequence[Mapping[str, Any]],
    target: Target,
    *,
    n_boot: int = 200,
    seed: int = 0,
    ridge: float = 1.0,
) -> dict[str, dict[str, Any]]:
    """IPS, SNIPS and DR estimates of ``target``'s value with bootstrap 95% intervals.

    ``records`` are logged searches (``Searcher.record``) with ``arm_rewards`` (arm ->
    reward of each chosen arm; searches without it are skipped). ``target(record)``
    returns ``{arm: probability that the target policy runs it}`` for that search.
    """
    arms, pi, p, chosen, reward, x = _matrices(records, target)
    n = len(pi)
    if n == 0:
        raise ValueError("no logged search with observed rewards and propensities")
    rhat = _reward_model(x, chosen, reward, ridge, seed)
    est = _point(pi, p, chosen, reward, rhat)
    rng = np.random.default_rng(seed)
    boots = {k: [] for k in ESTIMATORS}
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        b = _point(pi[idx], p[idx], chosen[idx], reward[idx], rhat[idx])
        for k in ESTIMATORS:
            boots[k].append(b[k])
    out: dict[str, dict[str, Any]] = {}
    for k in ESTIMATORS:
        lo, hi = np.percentile(boots[k], [2.5, 97.5]) if n_boot else (np.nan, np.nan)
        out[k] = {"value": est[k], "ci95": [float(lo), float(hi)], "n": n}
    out["meta"] = {"arms": arms, "searches": n,
                   "effective_sample_size": _ess(chosen * pi / p, pi, arms)}  # fmt: skip
    return out


def _ess(w: np.ndarray, pi: np.ndarray, arms: Sequence[str]) -> dict[str, float]:
    """Kish's effective sample size per arm the target runs: how many searches the
    weights are worth (0: the logs never ran an arm the target needs)."""
    s, s2 = w.sum(axis=0), (w**2).sum(axis=0)
    used = pi.sum(axis=0) > 0
    return {a: round(float(s[j] ** 2 / s2[j]), 1) if s2[j] > 0 else 0.0
            for j, a in enumerate(arms) if used[j]}  # fmt: skip


def fixed_target(arms: Sequence[str]) -> Target:
    """The target policy that always runs ``arms`` (where applicable)."""
    chosen = tuple(arms)

    def target(record: Mapping[str, Any]) -> dict[str, float]:
        applicable = record.get("applicable", chosen)
        return {a: 1.0 for a in chosen if a in applicable}

    return target


def policy_target(
    policy: Any, *, max_arms: int | None = None, exploration: float | None = None
) -> Target:
    """The inclusion probabilities of a (trained) :class:`RetrievalPolicy`'s selection rule.

    For each logged search, the policy ranks the arms that were applicable by its
    expectation for the logged context and takes the top ``max_arms - 1`` plus an
    exploring last slot, exactly as :meth:`RetrievalPolicy.choose` does; the marginal
    probabilities are :func:`~ltrr_os.bandit.policy.slot_probabilities`. (For LinTS the
    expectations are sampled, so the target is one draw of a random policy.)
    """
    from .policy import rank_arms, slot_probabilities

    m_cfg = policy.config.max_arms if max_arms is None else max_arms
    eps = policy.config.exploration if exploration is None else exploration

    def target(record: Mapping[str, Any]) -> dict[str, float]:
        applicable = [a for a in policy.arms if a in set(record.get("applicable") or policy.arms)]
        if not applicable:
            return {}
        x = np.asarray(record.get("features") or [], dtype=float)
        if x.shape != (policy.n_features,):
            raise ValueError(
                f"a logged search has {x.size} features, the target policy {policy.n_features}"
            )
        ranking = rank_arms(policy.expectations(x, applicable), policy.arms)
        return slot_probabilities(ranking, min(m_cfg, len(ranking)), eps)

    return target


def fit_on_logs(policy: Any, records: Sequence[Mapping[str, Any]]) -> int:
    """Train ``policy`` on logged searches: each chosen arm with its observed reward.

    Used to evaluate *another bandit configuration* off-policy: train it on one part of
    the logs, estimate its value on the rest (never on the searches it learned from).
    Returns the number of (arm, reward) updates.
    """
    arms: list[str] = []
    rewards: list[float] = []
    xs: list[Any] = []
    for r in records:
        if not _observed(r):
            continue
        x = r.get("features") or []
        if len(x) != policy.n_features:
            continue
        for a, v in (r.get("arm_rewards") or {}).items():
            if a in r.get("chosen", ()):
                arms.append(a)
                rewards.append(float(v))
                xs.append(x)
    if arms:
        policy.update(arms, rewards, np.asarray(xs, dtype=float))
    return len(arms)
