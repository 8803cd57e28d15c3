"""The bandit of a plan outside a running Searcher: its store, logs and features.

Batch jobs (``ltrr feedback ingest``, ``ltrr bandit status|ope``) need the policy and the
logs of a plan without an index or query understanding; the paths here are the ones the
Searcher uses, so both sides meet on disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..bandit.config import BanditRetrieval
from ..bandit.features import ContextFeaturizer
from ..bandit.policy import RetrievalPolicy, arm_descriptor
from ..bandit.store import PolicyStore
from ..errors import ConfigError
from ..plan.models import Plan


def plan_hash(plan: Plan) -> str:
    """The same short hash the Searcher logs with every decision."""
    return hashlib.sha256(plan.model_dump_json().encode()).hexdigest()[:16]


def plan_key(plan: Plan) -> str:
    return plan.name or plan.index.alias


def log_dir(plan: Plan, data_dir: Path | None = None) -> Path:
    """``<data_dir>/logs/<plan name>``: searches.jsonl and events.jsonl."""
    base = Path(data_dir) if data_dir else plan.engine.resolved_data_dir()
    return base / "logs" / plan_key(plan)


@dataclass
class PlanBandit:
    """A plan's policy as a batch job sees it. Learning follows the store's rule::

    with bandit.store.learner():      # one learner at a time, across processes
        bandit.reload()               # start from the version that is current now
        ingest(events, records, policy=bandit.policy, ...)
        bandit.save()                 # refuses if another version appeared meanwhile
    """

    plan: Plan
    config: BanditRetrieval
    featurizer: ContextFeaturizer
    store: PolicyStore
    policy: RetrievalPolicy
    version: str | None

    @classmethod
    def open(cls, plan: Plan, data_dir: Path | None = None) -> PlanBandit:
        cfg = plan.retrieval
        if not isinstance(cfg, BanditRetrieval):
            raise ConfigError(
                "this plan has no bandit (retrieval.policy is "
                f"{plan.retrieval.policy!r}); see docs/bandit.md"
            )
        u = plan.understanding
        feat = ContextFeaturizer(cfg.context, list(u.slots), [i.name for i in u.intents])
        base = Path(data_dir) if data_dir else plan.engine.resolved_data_dir()
        store = PolicyStore(base / "models" / "bandit" / plan_key(plan))
        b = cls(plan, cfg, feat, store, _fresh(plan, cfg, feat.dim), None)
        b.reload()
        return b

    def reload(self) -> None:
        """Load the current version (or start fresh when there is none)."""
        loaded = self.store.load(self.featurizer.names)
        if loaded is None:
            self.policy, self.version = _fresh(self.plan, self.config, self.featurizer.dim), None
            return
        self.policy, self.version = loaded.policy, loaded.version
        arms = self.plan.active_arms()
        if self.policy.arms != arms:  # the plan gained or lost arms: keep what was learned
            feats = {a: arm_descriptor(self.plan.strategies[a]) for a in arms}
            self.policy.set_arms(arms, feats, {a: self.plan.strategies[a].size for a in arms})

    def save(self) -> str:
        """Publish the policy as a new version built on :attr:`version` (see class doc)."""
        self.version = self.store.save(
            self.policy, feature_names=self.featurizer.names, plan_hash=plan_hash(self.plan),
            parent=self.version,
        )  # fmt: skip
        return self.version


def _fresh(plan: Plan, cfg: BanditRetrieval, dim: int) -> RetrievalPolicy:
    arms = plan.active_arms()
    return RetrievalPolicy(arms, cfg, dim, {a: plan.strategies[a].size for a in arms})
