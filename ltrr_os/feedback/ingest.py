"""Batch feedback: join an event file to logged searches and train the bandit once.

Nothing in an event file can crash training. Every line ends in exactly one bucket of
the :class:`IngestReport`: used, impression (shown, not engaged), malformed, unknown
search id, duplicate (event id seen before, in the log or earlier in the file), late
(more than ``late_after_s`` after its search), or before its search. Events out of time
order in the file are still used, and counted. A logged search whose record cannot be
learned from (features of another width, a damaged record) is counted as a bad record.

A search is learned from once: engagement for a search that already has engagement in
the event log (from an earlier batch) is stored but counted as ``already_rewarded`` and
does not update the bandit again, so one search is one observation per chosen arm, as
its logged propensities assume.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..bandit.config import BanditRetrieval, RewardSpec
from .events import Event, read_events
from .log import EventLog, SearchLog
from .rewards import attribute

#: clock skew tolerated between the search server and the event source
SKEW_S = 60.0

#: the outcome counters of a report, in the order they are printed
OUTCOMES = ("used", "impressions", "already_rewarded", "malformed", "unknown_search",
            "duplicate", "late", "before_search", "out_of_order", "bad_record")  # fmt: skip


@dataclass
class IngestReport:
    lines: int = 0
    used: int = 0
    impressions: int = 0
    already_rewarded: int = 0
    malformed: int = 0
    unknown_search: int = 0
    duplicate: int = 0
    late: int = 0
    before_search: int = 0
    out_of_order: int = 0
    bad_record: int = 0
    searches_rewarded: int = 0
    arm_updates: int = 0
    mean_reward: float = 0.0
    policy_updated: bool = False
    seconds: float = 0.0
    problems: list[tuple[int, str]] = field(default_factory=list)  # first (line, why)
    #: the (arm, reward, context) triples learned from, in order
    updates: list[tuple[str, float, np.ndarray]] = field(default_factory=list, repr=False)

    def note(self, line: int, why: str) -> None:
        if len(self.problems) < 20:
            self.problems.append((line, why))

    def problem_lines(self) -> list[str]:
        """``line N: why`` for event lines; record problems (line 0) as they are."""
        return [f"line {n}: {w}" if n else w for n, w in self.problems]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "updates"}
        d["problems"] = self.problem_lines()
        return d


def _source(
    source: Any,
) -> tuple[Mapping[str, Mapping[str, Any]], Any | None, RewardSpec | None, int | None]:
    """Records, policy, reward spec and feature width from whatever the caller has."""
    if isinstance(source, SearchLog):
        return source.records(), None, None, None
    if isinstance(source, str | Path):
        return SearchLog(source).records(), None, None, None
    if isinstance(source, Mapping):
        return source, None, None, None
    from ..search.searcher import Searcher  # late: spaCy & co. are only paid by its users

    if isinstance(source, Searcher):
        records: dict[str, Mapping[str, Any]] = {}
        if source.search_log is not None:
            records.update(source.search_log.records())
        records.update(dict(source._records))  # the ones still in memory win
        cfg = source.plan.retrieval
        reward = cfg.reward if isinstance(cfg, BanditRetrieval) else None
        policy = source.policy
        return records, policy, reward, policy.n_features if policy is not None else None
    raise TypeError(
        "ingest needs a Searcher, a SearchLog, a search-log path or {search_id: record}, "
        f"got {type(source).__name__}"
    )


def ingest(
    events_path: str | Path,
    source: Any,
    *,
    reward: RewardSpec | None = None,
    event_log: EventLog | None = None,
    late_after_s: float = 7 * 86400,
    policy: Any | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Read ``events_path``, attribute rewards per search, update the policy in one batch.

    ``source`` holds the logged searches: a :class:`~ltrr_os.search.Searcher` (its
    search log and the records still in memory; its policy and reward spec are the
    defaults), a :class:`SearchLog` or its path, or a mapping search id -> record.
    ``policy`` (any object with ``update(arms, rewards, X)``) is updated once, with every
    attributed reward. ``event_log`` makes ingestion idempotent across runs: its ids
    count as seen, and the accepted events are appended to it. ``dry_run`` reports
    (duplicates included) without updating the policy or appending to the event log.
    """
    t0 = time.perf_counter()
    records, src_policy, src_reward, n_features = _source(source)
    policy = policy if policy is not None else src_policy
    if n_features is None and policy is not None:
        n_features = getattr(policy, "n_features", None)
    reward = reward or src_reward or RewardSpec()
    rep = IngestReport()
    seen: set[str] = set(event_log.seen()) if event_log is not None else set()
    rewarded = event_log.engaged_searches() if event_log is not None else set()
    by_search: dict[str, list[Event]] = defaultdict(list)
    accepted: list[Event] = []
    last_ts = float("-inf")
    for line, ev in read_events(events_path):
        rep.lines += 1
        if isinstance(ev, str):
            rep.malformed += 1
            rep.note(line, ev)
            continue
        if ev.event_id in seen:
            rep.duplicate += 1
            continue
        seen.add(ev.event_id)
        if ev.ts < last_ts:
            rep.out_of_order += 1
        last_ts = max(last_ts, ev.ts)
        rec = records.get(ev.search_id)
        if rec is None:
            rep.unknown_search += 1
            rep.note(line, f"unknown search id {ev.search_id!r}")
            continue
        try:
            search_ts = float(rec.get("ts", ev.ts))
        except (TypeError, ValueError):
            search_ts = ev.ts
        if ev.ts < search_ts - SKEW_S:
            rep.before_search += 1
            rep.note(line, "event before its search")
            continue
        if ev.ts - search_ts > late_after_s:
            rep.late += 1
            continue
        accepted.append(ev)
        if ev.type == "impression":
            rep.impressions += 1
        elif ev.search_id in rewarded:
            rep.already_rewarded += 1
        else:
            rep.used += 1
            by_search[ev.search_id].append(ev)
    updates: list[tuple[str, float, np.ndarray]] = []
    total = 0.0
    for sid, evs in by_search.items():
        rec = records[sid]
        try:
            rewards = attribute(rec, [e.to_reward_event() for e in evs], weights=reward.weights,
                                rank_discount=reward.rank_discount,
                                cost_per_candidate=reward.cost_per_candidate)  # fmt: skip
            x = np.asarray(rec.get("features") or [], dtype=float)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            rep.bad_record += 1
            rep.note(0, f"search {sid!r}: unusable record ({exc.__class__.__name__}: {exc})")
            continue
        if n_features is not None and rewards and x.shape != (n_features,):
            rep.bad_record += 1
            rep.note(0, f"search {sid!r}: {x.size} features, the policy has {n_features}")
            continue
        if not rewards:
            continue
        rep.searches_rewarded += 1
        for arm, r in rewards.items():
            updates.append((arm, r, x))
            total += r
    rep.updates = updates
    rep.arm_updates = len(updates)
    rep.mean_reward = total / len(updates) if updates else 0.0
    if policy is not None and updates and not dry_run:
        # the learners' small ridge solves lose to OpenBLAS's thread start-up (measured
        # 40x slower in a busy process on 2 cores: benchmarks/bench_feedback.py)
        with threadpool_limits(1, user_api="blas"):
            policy.update([u[0] for u in updates], [u[1] for u in updates],
                          np.stack([u[2] for u in updates]))  # fmt: skip
        rep.policy_updated = True
    if event_log is not None and not dry_run:
        event_log.append_new(accepted)
    rep.seconds = time.perf_counter() - t0
    return rep
