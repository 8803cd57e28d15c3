"""The retrieval policy: exact propensities, budgets, learning, warm start of new arms."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from pydantic import ValidationError

from ltrr_os.bandit.config import BanditRetrieval
from ltrr_os.bandit.policy import (
    RetrievalPolicy,
    arm_descriptor,
    rank_arms,
    set_probability,
    slot_probabilities,
)
from ltrr_os.feedback.rewards import attribute, engagement
from ltrr_os.plan.models import KnnArm, LexicalArm

ARMS = ["lexical", "fuzzy", "structured", "semantic", "popular"]


def cfg(**kw) -> BanditRetrieval:
    return BanditRetrieval(policy="bandit", **kw)


def test_slot_probabilities_by_hand():
    ranking = ["a", "b", "c", "d"]
    p = slot_probabilities(ranking, 2, 0.1)
    # slot 2 is contested by b, c, d (R = 3): b keeps 0.9 + 0.1/3
    assert p == pytest.approx({"a": 1.0, "b": 0.9 + 0.1 / 3, "c": 0.1 / 3, "d": 0.1 / 3})
    assert sum(p.values()) == pytest.approx(2.0)  # two arms are always chosen
    assert slot_probabilities(["a", "b"], 2, 0.5) == {"a": 1.0, "b": 1.0}


def test_set_probabilities_sum_to_one_over_all_sets():
    ranking = ["a", "b", "c", "d", "e"]
    total = sum(set_probability(ranking, 3, 0.2, s) for s in combinations(ranking, 3))
    assert total == pytest.approx(1.0)
    assert set_probability(ranking, 3, 0.2, ["c", "d", "e"]) == 0.0  # a, b always run


@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_logged_propensities_match_empirical_frequencies(eps):
    policy = RetrievalPolicy(ARMS, cfg(max_arms=2, exploration=eps), n_features=1)
    rng = np.random.default_rng(0)
    x = np.ones(1)
    n = 20_000
    counts: Counter[str] = Counter()
    decisions = [policy.choose(x, ARMS, rng) for _ in range(n)]
    for d in decisions:
        counts.update(d.chosen)
        assert len(d.chosen) == 2
        assert d.set_propensity == pytest.approx(d.propensities[d.chosen[-1]])
    props = decisions[0].propensities
    for arm in ARMS:  # binomial standard error at most ~0.0035
        assert counts[arm] / n == pytest.approx(props[arm], abs=0.015)


def test_only_applicable_arms_are_chosen_and_budgets_respect_sizes():
    policy = RetrievalPolicy(
        ARMS, cfg(max_arms=2, budget=200, allocation="fixed"), 1, arm_sizes={"popular": 50}
    )
    d = policy.choose(np.ones(1), ["popular", "semantic"], np.random.default_rng(1))
    assert set(d.chosen) == {"popular", "semantic"}
    assert d.budgets == {"popular": 50, "semantic": 100}
    assert d.propensities == {"semantic": 1.0, "popular": 1.0}
    empty = policy.choose(np.ones(1), [], np.random.default_rng(1))
    assert empty.chosen == [] and empty.budgets == {}


def test_proportional_allocation_follows_expectations():
    policy = RetrievalPolicy(ARMS, cfg(budget=200, allocation="proportional"), 1)
    b = policy.allocate(["lexical", "fuzzy"], {"lexical": 0.75, "fuzzy": 0.25})
    assert b["lexical"] == pytest.approx(150, abs=1) and b["fuzzy"] == pytest.approx(50, abs=1)


def test_budget_that_cannot_feed_every_arm_is_rejected():
    with pytest.raises(ValidationError, match="cannot give 3 arms"):
        cfg(max_arms=3, budget=20, min_candidates=10)


def test_linucb_learns_which_arm_pays_in_which_context():
    policy = RetrievalPolicy(
        ["typo", "exact"], cfg(learner="linucb", alpha=0.1, max_arms=1, exploration=0.0), 2
    )
    rng = np.random.default_rng(0)
    for _ in range(30):  # context [1, mobile]: the typo arm pays on mobile only
        X = np.array([[1.0, float(rng.random() < 0.5)] for _ in range(40)])
        arms = list(rng.choice(["typo", "exact"], size=40))
        rewards = [float((a == "typo") == bool(x[1])) for a, x in zip(arms, X, strict=True)]
        policy.update(arms, rewards, X)
    mobile = policy.choose(np.array([1.0, 1.0]), ["typo", "exact"], rng)
    desktop = policy.choose(np.array([1.0, 0.0]), ["typo", "exact"], rng)
    assert mobile.chosen == ["typo"] and desktop.chosen == ["exact"]
    assert rank_arms(mobile.expectations, ["exact", "typo"])[0] == "typo"


def test_new_arm_is_warm_started_from_the_most_similar_trained_arm():
    policy = RetrievalPolicy(["lexical", "semantic"], cfg(learner="linucb", alpha=0.1), 2)
    rng = np.random.default_rng(0)
    X = rng.random((400, 2))
    arms = ["lexical", "semantic"] * 200
    policy.update(arms, [1.0 if a == "lexical" else 0.0 for a in arms], X)
    lexical = LexicalArm(type="lexical", fields={"title": 2})
    fuzzy = LexicalArm(type="lexical", fields={"title": 2}, fuzziness="AUTO")
    knn = KnnArm(type="knn", field="embedding")
    feats = {"lexical": arm_descriptor(lexical), "semantic": arm_descriptor(knn),
             "fuzzy": arm_descriptor(fuzzy)}  # fmt: skip
    change = policy.set_arms(["lexical", "semantic", "fuzzy"], feats)
    assert change == {"added": ["fuzzy"], "removed": [], "warm_started": ["fuzzy"]}
    exp = policy.expectations(X[0])
    assert exp["fuzzy"] == pytest.approx(exp["lexical"])
    assert exp["fuzzy"] > exp["semantic"]
    change = policy.set_arms(["fuzzy", "semantic"], feats)
    assert change["removed"] == ["lexical"] and policy.arms == ["fuzzy", "semantic"]


def test_reward_attribution_per_arm():
    record = {
        "chosen": ["lexical", "popular", "semantic"],
        "failed": ["semantic"],
        "budgets": {"lexical": 100, "popular": 50, "semantic": 50},
        "candidates": {"lexical": ["a", "b", "c"], "popular": ["c", "d"], "semantic": ["b"]},
    }
    events = [{"type": "click", "item_id": "c"}, {"type": "purchase", "item_id": "d"}]
    assert engagement(events, {"click": 1.0, "purchase": 2.0}, 0.0) == {"c": 1.0, "d": 2.0}
    r = attribute(record, events, weights={"click": 1.0, "purchase": 2.0})
    assert r == {"lexical": 1.0, "popular": 2.0}  # a failed arm gets no update
    r = attribute(record, events, weights={"click": 1.0, "purchase": 2.0}, rank_discount=True,
                  cost_per_candidate=0.001)  # fmt: skip
    assert r["lexical"] == pytest.approx(1.0 / np.log2(1 + 3) - 0.1)
    assert r["popular"] == pytest.approx(max(1.0, 2.0 / np.log2(1 + 2)) - 0.05)
