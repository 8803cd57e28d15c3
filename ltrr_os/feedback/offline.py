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
from ..bandit.policy import RetrievalPolicy
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
        loaded = store.load(feat.names)
        arms = plan.active_arms()
        if loaded is not None:
            return cls(plan, cfg, feat, store, loaded.policy, loaded.version)
        sizes = {a: plan.strategies[a].size for a in arms}
        return cls(plan, cfg, feat, store, RetrievalPolicy(arms, cfg, feat.dim, sizes), None)

    def save(self) -> str:
        self.version = self.store.save(
            self.policy, feature_names=self.featurizer.names, plan_hash=plan_hash(self.plan)
        )
        return self.version
