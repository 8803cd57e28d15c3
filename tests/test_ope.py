"""Off-policy estimators on a synthetic logging problem whose true values are known."""

from __future__ import annotations

import numpy as np
import pytest

from ltrr_os.bandit.ope import estimate_all, fixed_target
from ltrr_os.bandit.policy import slot_probabilities

ARMS = ["a", "b", "c", "d"]


def true_rate(arm: str, x: float) -> float:
    """Bernoulli reward rate of each arm in context x in [0, 1]."""
    return {"a": 0.6 - 0.4 * x, "b": 0.2 + 0.6 * x, "c": 0.3, "d": 0.1}[arm]


def logs(n: int, seed: int, eps: float = 0.3) -> list[dict]:
    """A logging policy that ranks a > b > c > d always and explores the second slot."""
    rng = np.random.default_rng(seed)
    probs = slot_probabilities(ARMS, 2, eps)
    out = []
    for _ in range(n):
        x = float(rng.random())
        last = "b" if rng.random() >= eps else ARMS[1 + int(rng.integers(3))]
        chosen = ["a", last]
        rewards = {arm: float(rng.random() < true_rate(arm, x)) for arm in chosen}
        out.append({"features": [1.0, x], "propensities": dict(probs), "chosen": chosen,
                    "applicable": ARMS, "arm_rewards": rewards})  # fmt: skip
    return out


def truth(pair: tuple[str, str]) -> float:
    xs = np.linspace(0, 1, 100_001)
    return float(sum(np.mean([true_rate(a, x) for x in xs[::1000]]) for a in pair))


@pytest.mark.parametrize("pair", [("c", "d"), ("b", "c"), ("a", "c")])
def test_estimates_are_close_to_the_truth_and_inside_their_intervals(pair):
    records = logs(20_000, seed=1)
    est = estimate_all(records, fixed_target(pair), n_boot=100)
    t = truth(pair)
    for k in ("ips", "snips", "dr"):
        assert est[k]["value"] == pytest.approx(t, rel=0.08), (k, est[k], t)
        lo, hi = est[k]["ci95"]
        assert lo <= est[k]["value"] <= hi
    assert est["meta"]["searches"] == 20_000


def test_ips_is_unbiased_over_many_logs_and_snips_varies_less():
    pair = ("c", "d")
    ips, snips = [], []
    for seed in range(30):
        est = estimate_all(logs(1500, seed), fixed_target(pair), n_boot=0)
        ips.append(est["ips"]["value"])
        snips.append(est["snips"]["value"])
    t = truth(pair)
    se = np.std(ips) / np.sqrt(len(ips))
    assert abs(np.mean(ips) - t) < 3 * se + 1e-3
    assert np.std(snips) < np.std(ips)


def test_searches_without_observed_rewards_are_skipped():
    records = logs(500, seed=3)
    records.append({"propensities": {"a": 1.0}, "chosen": ["a"], "arm_rewards": None})
    records.append({"propensities": {"a": 1.0}, "chosen": ["a"], "arm_rewards": {"a": np.nan}})
    est = estimate_all(records, fixed_target(("a", "b")), n_boot=10)
    assert est["meta"]["searches"] == 500
    with pytest.raises(ValueError, match="no logged search"):
        estimate_all(records[-2:], fixed_target(("a",)))
