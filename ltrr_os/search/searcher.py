"""The library entry point: ``Searcher.from_plan(path).search(query, context)``.

One search = understand the query, compile every applicable arm to a DSL body (pure
functions), run them in ONE ``msearch`` round trip, merge the candidates with per-arm
provenance, fuse, and return hits plus a trace of every decision and timing.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bandit.config import BanditRetrieval
from ..bandit.features import ContextFeaturizer
from ..bandit.policy import RetrievalPolicy, arm_descriptor
from ..bandit.store import PolicyStore
from ..engines.base import Engine
from ..engines.factory import open_engine
from ..errors import ConfigError, DataError, IndexNotFoundError, LtrrError
from ..feedback.offline import plan_hash
from ..plan.models import DslArm, KnnArm, Plan
from ..strategies import ArmInput, Skip, compiler_for
from ..strategies.dsl import compile_dsl, parse_template
from .merge import fuse, merge
from .result import ArmTrace, SearchResult, Trace

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")


def clean_query(query: Any, max_chars: int) -> tuple[str, str]:
    """Normalise user text: NFC, control characters dropped, whitespace collapsed, capped.

    Returns ``(text, note)``; an empty ``text`` means the query is empty (the documented
    rule: an empty or whitespace-only query returns no hits and runs no arm).
    """
    if not isinstance(query, str):
        raise LtrrError(f"a query must be a string, got {type(query).__name__}")
    text = unicodedata.normalize("NFC", query)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = _WS.sub(" ", text).strip()
    note = ""
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
        note = f"query cut to {max_chars} characters (output.max_query_chars)"
    return text, note


@dataclass(frozen=True)
class _IndexState:
    """What depends on the index version behind the alias (reloaded after a reindex)."""

    index: str
    understanding: Any
    encoder: Any | None


class Searcher:
    """Runs a query plan against an engine. Thread-safe for concurrent ``search`` calls."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine | None = None,
        *,
        understanding: Any | None = None,
        encoder: Any | None = None,
        data_dir: Path | None = None,
        reload_interval_s: float = 10.0,
        online_learning: bool = True,
        max_records: int = 100_000,
        search_log: str | Path | None = None,
    ) -> None:
        self.plan = plan
        self.engine = engine if engine is not None else open_engine(plan.engine)
        self.data_dir = Path(data_dir) if data_dir else plan.engine.resolved_data_dir()
        self.reload_interval_s = reload_interval_s
        self._templates = {
            name: parse_template(arm, name)
            for name, arm in plan.strategies.items()
            if isinstance(arm, DslArm)
        }
        self._fixed_understanding = understanding
        self._fixed_encoder = encoder
        self._lock = threading.Lock()
        self._state = self._load_state()
        self._checked_at = time.monotonic()
        self.plan_hash = plan_hash(plan)
        self.online_learning = online_learning
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._max_records = max_records
        # every decision to a durable JSONL log, for `ltrr feedback ingest` later
        self.search_log = None
        if search_log is not None:
            from ..feedback.log import SearchLog

            self.search_log = SearchLog(search_log)
        self._pending: list[tuple[str, float, np.ndarray]] = []
        self.policy: RetrievalPolicy | None = None
        self.policy_version: str | None = None
        if isinstance(plan.retrieval, BanditRetrieval):
            self._init_policy(plan.retrieval)

    @classmethod
    def from_plan(cls, path: str | Path, engine: Engine | None = None, **kwargs: Any) -> Searcher:
        from ..plan import load_plan

        return cls(load_plan(path), engine, **kwargs)

    # -- index-version state -----------------------------------------------------------
    def _resolve_index(self) -> str:
        alias = self.plan.index.alias
        targets = self.engine.get_alias(alias)
        if targets:
            return targets[0]
        if self.engine.exists(alias):
            return alias
        raise IndexNotFoundError(alias)

    def _load_state(self) -> _IndexState:
        index = self._resolve_index()
        qu = self._fixed_understanding
        if qu is None:
            from ..understanding import QueryUnderstanding

            qu = QueryUnderstanding(
                self.plan.understanding, cache_dir=self.data_dir / "understanding"
            ).fit(self.engine, self.plan.index.alias)
        enc = self._fixed_encoder
        if enc is None and any(isinstance(a, KnnArm) for a in self.plan.strategies.values()):
            enc = self._load_encoder(index)
        return _IndexState(index, qu, enc)

    def _load_encoder(self, index: str) -> Any | None:
        from ..encoders import load_encoder

        path = self.data_dir / "encoders" / index
        if not path.exists():
            log.warning("no encoder at %s: knn arms will be skipped", path)
            return None
        try:
            return load_encoder(path)
        except (LtrrError, OSError, ValueError) as exc:
            log.warning("cannot load encoder at %s (%s): knn arms will be skipped", path, exc)
            return None

    def reload(self) -> None:
        """Re-read the alias; rebuild understanding/encoder if it moved (after a reindex)."""
        index = self._resolve_index()
        if index != self._state.index:
            state = self._load_state()
            with self._lock:
                self._state = state
        self._checked_at = time.monotonic()

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._checked_at > self.reload_interval_s:
            try:
                self.reload()
            except LtrrError as exc:  # keep serving the version we have
                log.warning("reload failed, keeping %s: %s", self._state.index, exc)
                self._checked_at = time.monotonic()

    # -- learning to retrieve ----------------------------------------------------------
    def _init_policy(self, cfg: BanditRetrieval) -> None:
        u = self.plan.understanding
        self.featurizer = ContextFeaturizer(cfg.context, list(u.slots), [i.name for i in u.intents])
        name = self.plan.name or self.plan.index.alias
        self.policy_store = PolicyStore(self.data_dir / "models" / "bandit" / name)
        self._policy_mtime = self.policy_store.current_mtime()
        loaded = self.policy_store.load(self.featurizer.names)
        arms = self.plan.active_arms()
        sizes = {a: self.plan.strategies[a].size for a in arms}
        if loaded is not None:
            self.policy, self.policy_version = loaded.policy, loaded.version
            if loaded.policy.arms != arms:  # the plan gained or lost arms: keep what was learned
                feats = {a: arm_descriptor(self.plan.strategies[a]) for a in arms}
                change = self.policy.set_arms(arms, feats, sizes)
                log.info("bandit policy %s: arms changed %s", self.policy_version, change)
        else:
            self.policy = RetrievalPolicy(arms, cfg, self.featurizer.dim, sizes)
        self._rng = np.random.default_rng(cfg.seed)
        self._rng_lock = threading.Lock()

    def save_policy(self) -> str:
        """Flush pending feedback and write a new policy version (atomic)."""
        if self.policy is None:
            raise ConfigError("this plan has no bandit policy (retrieval.policy: bandit)")
        self._flush_updates()
        self.policy_version = self.policy_store.save(
            self.policy, feature_names=self.featurizer.names, plan_hash=self.plan_hash
        )
        self._policy_mtime = self.policy_store.current_mtime()
        return self.policy_version

    def _maybe_reload_policy(self) -> None:
        if self.policy is None or self.online_learning:
            return
        mtime = self.policy_store.current_mtime()
        if mtime != self._policy_mtime:
            loaded = self.policy_store.load(self.featurizer.names)
            if loaded is not None:
                self.policy, self.policy_version = loaded.policy, loaded.version
            self._policy_mtime = mtime

    def record(self, search_id: str) -> dict[str, Any] | None:
        """The logged decision of a recent search (for feedback), if still held."""
        return self._records.get(search_id)

    def feedback(
        self,
        search_id: str,
        clicked: Sequence[str] = (),
        played: Sequence[str] = (),
        purchased: Sequence[str] = (),
    ) -> dict[str, float]:
        """Reward the arms of a search whose candidates held an engaged item.

        Returns the reward given to each chosen arm ({} when the plan has no bandit).
        Unknown (or expired) search ids raise :class:`DataError`.
        """
        rec = self._records.get(search_id)
        if rec is None:
            raise DataError(f"unknown or expired search id {search_id!r}")
        if self.policy is None:
            return {}
        from ..feedback.rewards import attribute

        events = [{"type": t, "item_id": i} for t, items in
                  (("click", clicked), ("play", played), ("purchase", purchased)) for i in items]  # fmt: skip
        cfg = self.plan.retrieval
        assert isinstance(cfg, BanditRetrieval)
        rewards = attribute(rec, events, weights=cfg.reward.weights,
                            rank_discount=cfg.reward.rank_discount,
                            cost_per_candidate=cfg.reward.cost_per_candidate)  # fmt: skip
        if self.online_learning:
            x = np.asarray(rec["features"])
            with self._lock:
                self._pending.extend((a, r, x) for a, r in rewards.items())
                flush = len(self._pending) >= cfg.update_every
            if flush:
                self._flush_updates()
        return rewards

    def _flush_updates(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending and self.policy is not None:
            self.policy.update([p[0] for p in pending], [p[1] for p in pending],
                               np.stack([p[2] for p in pending]))  # fmt: skip

    def _remember(self, record: dict[str, Any]) -> None:
        if self.search_log is not None:
            self.search_log.append_many([record])
        with self._lock:
            self._records[record["search_id"]] = record
            while len(self._records) > self._max_records:
                self._records.popitem(last=False)

    # -- search ------------------------------------------------------------------------
    def compile(
        self, query: str, context: Mapping[str, Any] | None = None
    ) -> tuple[Any, list[ArmTrace]]:
        """Understanding and every arm's body (or why it is skipped), without running it."""
        state = self._state
        text, _ = clean_query(query, self.plan.output.max_query_chars)
        u = state.understanding.analyze(text)
        inp = self._arm_input(state, text, u, context or {}, {})
        return u, [self._compile_one(name, inp, None)[0] for name in self.plan.active_arms()]

    def _arm_input(
        self, state: _IndexState, text: str, u: Any, context: Mapping[str, Any],
        timings: dict[str, float],
    ) -> ArmInput:  # fmt: skip
        plan = self.plan
        vector = None
        knn = any(isinstance(plan.strategies[a], KnnArm) for a in plan.active_arms())
        if state.encoder is not None and knn:
            t = time.perf_counter()
            vector = state.encoder.encode([u.without_intent or text])[0]
            timings["encode"] = (time.perf_counter() - t) * 1000
        return ArmInput(text, u, context, vector, plan.index.fields or None)

    def _compile_one(
        self, name: str, inp: ArmInput, size: int | None
    ) -> tuple[ArmTrace, dict[str, Any] | None]:
        arm = self.plan.strategies[name]
        size = size or arm.size
        u = inp.understanding
        if arm.requires_slots and not any(u.has_slot(s) for s in arm.requires_slots):
            why = f"needs one of slots {arm.requires_slots}"
            return ArmTrace(name, arm.type, "skipped", why), None
        if isinstance(arm, DslArm):
            out = compile_dsl(arm, inp, size, parsed=self._templates[name])
        else:
            out = compiler_for(arm.type)(arm, inp, size)
        if isinstance(out, Skip):
            return ArmTrace(name, arm.type, "skipped", out.reason), None
        return ArmTrace(name, arm.type, "run", body=out), out

    def search(
        self,
        query: str,
        context: Mapping[str, Any] | None = None,
        size: int | None = None,
        *,
        arms: Sequence[str] | None = None,
    ) -> SearchResult:
        """Run the plan for one query. ``context`` carries caller facts (device, user...).

        ``arms`` forces a set of arms for this search (bypassing the policy), e.g. for
        A/B tests or evaluation; unknown names raise :class:`ConfigError`.
        """
        t0 = time.perf_counter()
        self._maybe_reload()
        self._maybe_reload_policy()
        state = self._state
        size = size or self.plan.output.size
        if size < 1:
            raise ConfigError("size must be at least 1")
        context = dict(context or {})
        timings: dict[str, float] = {}
        text, note = clean_query(query, self.plan.output.max_query_chars)
        search_id = uuid.uuid4().hex
        fusion = self.plan.rerank.method
        if not text:
            timings["total"] = (time.perf_counter() - t0) * 1000
            trace = Trace({}, [], fusion, timings, state.index, "empty query: no arm was run")
            return SearchResult(search_id, text, [], trace)
        t = time.perf_counter()
        u = state.understanding.analyze(text)
        timings["understanding"] = (time.perf_counter() - t) * 1000

        # compile every arm (cheap), let the policy choose among the applicable ones
        t = time.perf_counter()
        inp = self._arm_input(state, text, u, context, timings)
        names = self.plan.active_arms()
        if arms is not None:
            unknown = [a for a in arms if a not in self.plan.strategies]
            if unknown:
                raise ConfigError(
                    f"unknown arms {unknown}; plan arms: {list(self.plan.strategies)}"
                )
            names = list(arms)
        compiled = {name: self._compile_one(name, inp, None) for name in names}
        applicable = [n for n, (_, body) in compiled.items() if body is not None]
        decision, x = None, None
        if self.policy is not None and arms is None:
            tp = time.perf_counter()
            x = self.featurizer.transform(u, context)
            with self._rng_lock:
                decision = self.policy.choose(x, applicable, self._rng)
            timings["policy"] = (time.perf_counter() - tp) * 1000
            for name in applicable:
                if name in decision.budgets:
                    compiled[name] = self._compile_one(name, inp, decision.budgets[name])
                else:
                    p = decision.propensities.get(name, 0.0)
                    why = f"not chosen by the policy (p={p:.3f})"
                    compiled[name] = (
                        ArmTrace(name, self.plan.strategies[name].type, "skipped", why),
                        None,
                    )
        traces = [tr for tr, _ in compiled.values()]
        requests = [(n, body) for n, (_, body) in compiled.items() if body is not None]
        spent = timings.get("encode", 0.0) + timings.get("policy", 0.0)
        timings["compile"] = (time.perf_counter() - t) * 1000 - spent

        # one round trip for all chosen arms; a failed arm never hides the others
        responses: dict[str, dict[str, Any]] = {}
        failed: list[str] = []
        if requests:
            t = time.perf_counter()
            alias = self.plan.index.alias
            results = self.engine.msearch([(alias, body) for _, body in requests])
            timings["engine"] = (time.perf_counter() - t) * 1000
            by_name = {tr.name: tr for tr in traces}
            for (name, _), resp in zip(requests, results, strict=True):
                tr = by_name[name]
                if "error" in resp:
                    err = resp["error"]
                    tr.status = "error"
                    tr.reason = err.get("reason", str(err)) if isinstance(err, dict) else str(err)
                    failed.append(name)
                else:
                    responses[name] = resp
                    tr.hits = len(resp["hits"]["hits"])
                    tr.took_ms = resp.get("took")
        t = time.perf_counter()
        arm_weights = None
        if decision is not None and self.plan.rerank.policy_weights:
            # floor: an arm the policy expects nothing from still counts a little
            arm_weights = {a: max(decision.expectations.get(a, 0.0), 0.05)
                           for a in decision.chosen}  # fmt: skip
        hits = fuse(merge(responses), self.plan.rerank, arm_weights)[:size]
        timings["merge"] = (time.perf_counter() - t) * 1000

        policy_info = None
        if decision is not None and self.policy is not None:
            policy_info = {
                "learner": self.policy.config.learner,
                "version": self.policy_version,
                "chosen": decision.chosen,
                "budgets": decision.budgets,
                "propensities": decision.propensities,
                "set_propensity": decision.set_propensity,
                "expectations": decision.expectations,
                "explored": decision.explored,
                "exact_propensities": decision.exact,
            }
        self._remember(
            {
                "search_id": search_id,
                "ts": time.time(),
                "query": text,
                "plan_hash": self.plan_hash,
                "policy_version": self.policy_version,
                "context": context,
                "features": x.tolist() if x is not None else [],
                "applicable": applicable,
                "chosen": [n for n, _ in requests],
                "budgets": {n: int(b.get("size", 0)) for n, b in requests},
                "propensities": decision.propensities
                if decision
                else {n: 1.0 for n, _ in requests},
                "set_propensity": decision.set_propensity if decision else 1.0,
                "expectations": decision.expectations if decision else {},
                "candidates": {
                    n: [h["_id"] for h in r["hits"]["hits"]] for n, r in responses.items()
                },
                "failed": failed,
                "shown": [h.id for h in hits],
            }
        )
        timings["total"] = (time.perf_counter() - t0) * 1000
        trace = Trace(u.to_dict(), traces, fusion, timings, state.index, note, policy_info)
        return SearchResult(search_id, text, hits, trace)
