"""Batch feedback: join an event file to logged searches and train the bandit once.

Nothing in an event file can crash training. Every line ends in exactly one bucket of
the :class:`IngestReport`: used, impression (shown, not engaged), malformed, unknown
search id, duplicate (event id seen before, in the log or earlier in the file), late
(more than ``late_after_s`` after its search), or before its search. Events out of time
order in the file are still used, and counted.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..bandit.config import RewardSpec
from .events import Event, read_events
from .log import EventLog
from .rewards import attribute

#: clock skew tolerated between the search server and the event source
SKEW_S = 60.0


@dataclass
class IngestReport:
    lines: int = 0
    used: int = 0
    impressions: int = 0
    malformed: int = 0
    unknown_search: int = 0
    duplicate: int = 0
    late: int = 0
    before_search: int = 0
    out_of_order: int = 0
    searches_rewarded: int = 0
    arm_updates: int = 0
    mean_reward: float = 0.0
    seconds: float = 0.0
    problems: list[tuple[int, str]] = field(default_factory=list)  # first (line, why)

    def note(self, line: int, why: str) -> None:
        if len(self.problems) < 20:
            self.problems.append((line, why))

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["problems"] = [f"line {n}: {w}" for n, w in self.problems]
        return d


def ingest(
    events_path: str | Path,
    records: Mapping[str, Mapping[str, Any]],
    *,
    reward: RewardSpec | None = None,
    event_log: EventLog | None = None,
    late_after_s: float = 7 * 86400,
    policy: Any | None = None,
) -> tuple[IngestReport, list[tuple[str, float, np.ndarray]]]:
    """Read ``events_path``, attribute rewards per search, update ``policy`` in one batch.

    ``records`` maps search id -> logged record (``SearchLog.records()``). Returns the
    report and the (arm, reward, context) updates (applied to ``policy`` when given).
    ``event_log`` makes ingestion idempotent across runs (its ids count as seen).
    """
    t0 = time.perf_counter()
    reward = reward or RewardSpec()
    rep = IngestReport()
    seen: set[str] = set(event_log.seen()) if event_log is not None else set()
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
        search_ts = float(rec.get("ts", ev.ts))
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
        else:
            rep.used += 1
            by_search[ev.search_id].append(ev)
    updates: list[tuple[str, float, np.ndarray]] = []
    total = 0.0
    for sid, evs in by_search.items():
        rec = records[sid]
        rewards = attribute(rec, [e.to_reward_event() for e in evs], weights=reward.weights,
                            rank_discount=reward.rank_discount,
                            cost_per_candidate=reward.cost_per_candidate)  # fmt: skip
        if not rewards:
            continue
        rep.searches_rewarded += 1
        x = np.asarray(rec.get("features") or [], dtype=float)
        for arm, r in rewards.items():
            updates.append((arm, r, x))
            total += r
    rep.arm_updates = len(updates)
    rep.mean_reward = total / len(updates) if updates else 0.0
    if policy is not None and updates:
        policy.update([u[0] for u in updates], [u[1] for u in updates],
                      np.stack([u[2] for u in updates]))  # fmt: skip
    if event_log is not None:
        event_log.append_new(accepted)
    rep.seconds = time.perf_counter() - t0
    return rep, updates
