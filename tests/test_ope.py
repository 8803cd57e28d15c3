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


def logs(n: int, seed: int, eps: float = 0.3, d_share: float = 1.0) -> list[dict]:
    """A logging policy that ranks a > b > c > d always and explores the second slot;
    arm d is applicable in ``d_share`` of the searches only (like a slot-bound arm)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = float(rng.random())
        arms = ARMS if rng.random() < d_share else ARMS[:3]
        probs = slot_probabilities(arms, 2, eps)
        last = "b" if rng.random() >= eps else arms[1 + int(rng.integers(len(arms) - 1))]
        chosen = ["a", last]
        rewards = {arm: float(rng.random() < true_rate(arm, x)) for arm in chosen}
        out.append({"features": [1.0, x], "propensities": dict(probs), "chosen": chosen,
                    "applicable": arms, "arm_rewards": rewards})  # fmt: skip
    return out


def truth(pair: tuple[str, ...]) -> float:
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


def test_an_arm_applicable_to_some_searches_only_counts_where_it_runs():
    est = estimate_all(logs(30_000, seed=4, d_share=0.5), fixed_target(("c", "d")), n_boot=0)
    t = truth(("c",)) + 0.5 * truth(("d",))
    for k in ("ips", "snips", "dr"):
        assert est[k]["value"] == pytest.approx(t, rel=0.08), (k, est[k], t)


def switching(record: dict) -> dict[str, float]:
    """A context-dependent target: the better of a/b for the context, plus c."""
    x = record["features"][1]
    return {"a": 1.0, "c": 1.0} if x < 0.5 else {"b": 1.0, "c": 1.0}


def switching_truth() -> float:
    xs = np.linspace(0, 1, 200_001)
    return float(np.mean(np.where(xs < 0.5, 0.6 - 0.4 * xs, 0.2 + 0.6 * xs)) + 0.3)


def test_intervals_cover_the_truth_and_dr_beats_ips_on_a_contextual_target():
    t = switching_truth()
    vals = {k: [] for k in ("ips", "snips", "dr")}
    covered = {k: 0 for k in vals}
    seeds = 25
    for seed in range(seeds):
        est = estimate_all(logs(1000, 100 + seed), switching, n_boot=100, seed=seed)
        for k in vals:
            vals[k].append(est[k]["value"])
            lo, hi = est[k]["ci95"]
            covered[k] += lo <= t <= hi
    for k in vals:
        # nominal 95%: allow for the bootstrap's optimism on 25 draws
        assert covered[k] >= 0.8 * seeds, (k, covered[k])
        se = np.std(vals[k]) / np.sqrt(seeds)
        assert abs(np.mean(vals[k]) - t) < 3 * se + 0.01, k
    assert np.std(vals["dr"]) < np.std(vals["ips"])


def test_policy_target_reproduces_the_policys_own_marginals():
    from ltrr_os.bandit.config import BanditRetrieval
    from ltrr_os.bandit.ope import policy_target
    from ltrr_os.bandit.policy import RetrievalPolicy

    cfg = BanditRetrieval(policy="bandit", max_arms=2, exploration=0.2, learner="linucb")
    policy = RetrievalPolicy(ARMS, cfg, 2)
    records = logs(400, seed=7)
    policy.update([a for r in records for a in r["chosen"]],
                  [r["arm_rewards"][a] for r in records for a in r["chosen"]],
                  np.array([r["features"] for r in records for _ in r["chosen"]]))  # fmt: skip
    rng = np.random.default_rng(0)
    for rec in records[:20]:
        probs = policy_target(policy)(rec)
        decision = policy.choose(np.array(rec["features"]), ARMS, rng)
        assert probs == pytest.approx(decision.propensities)
        assert sum(probs.values()) == pytest.approx(2.0)
    greedy = policy_target(policy, max_arms=1, exploration=0.0)(records[0])
    assert sorted(greedy.values()) == [0.0, 0.0, 0.0, 1.0]
    # evaluating the logging policy's own rule on its logs gives a finite, sane value
    est = estimate_all(records, policy_target(policy), n_boot=20)
    assert 0.0 < est["snips"]["value"] < 2.0
    with pytest.raises(ValueError, match="features"):
        policy_target(policy)({"features": [1.0], "applicable": ARMS})


def test_another_config_trained_on_half_the_logs_is_estimated_on_the_other_half():
    from ltrr_os.bandit.config import BanditRetrieval
    from ltrr_os.bandit.ope import fit_on_logs, policy_target
    from ltrr_os.bandit.policy import RetrievalPolicy

    records = logs(6000, seed=11)
    train, held_out = records[:3000], records[3000:]
    cfg = BanditRetrieval(policy="bandit", max_arms=1, exploration=0.0, learner="linucb",
                          alpha=0.1)  # fmt: skip
    policy = RetrievalPolicy(ARMS, cfg, 2)
    assert fit_on_logs(policy, train) == 6000  # two chosen arms per search
    target = policy_target(policy)
    # its true value on the held-out contexts (the rates are known)
    truth = np.mean([sum(p * true_rate(a, r["features"][1]) for a, p in target(r).items())
                     for r in held_out])  # fmt: skip
    assert truth > 0.45  # it learned to switch between a and b (either alone: 0.4 / 0.5)
    est = estimate_all(held_out, target, n_boot=100)
    for k in ("snips", "dr"):
        assert est[k]["value"] == pytest.approx(truth, rel=0.1), (k, est[k], truth)
