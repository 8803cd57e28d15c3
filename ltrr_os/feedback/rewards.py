"""Reward attribution: which chosen arms found what the user engaged with.

A chosen arm earns the weight of each engaged item that was in its candidate set
(optionally discounted by the item's rank in that arm), minus a cost per candidate it
fetched. Arms that were not chosen (or that failed) get no reward at all: the bandit
learns only from what it actually did, which keeps the logged propensities meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

#: event types that count as engagement, with their default weight
DEFAULT_WEIGHTS = {"click": 1.0, "play": 1.0, "purchase": 2.0}


def engagement(
    events: Iterable[Mapping[str, Any]],
    weights: Mapping[str, float] | None = None,
    dwell_min_s: float | None = None,
) -> dict[str, float]:
    """The strongest engagement weight per item id (a click and a purchase → purchase)."""
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    out: dict[str, float] = {}
    for ev in events:
        kind = ev.get("type")
        item = ev.get("item_id")
        if kind not in w or item is None:
            continue
        if dwell_min_s is not None and kind in ("click", "play"):
            dwell = ev.get("dwell_s")
            if dwell is not None and float(dwell) < dwell_min_s:
                continue
        out[str(item)] = max(out.get(str(item), 0.0), float(w[kind]))
    return out


def attribute(
    record: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    *,
    weights: Mapping[str, float] | None = None,
    dwell_min_s: float | None = None,
    rank_discount: bool = False,
    cost_per_candidate: float = 0.0,
) -> dict[str, float]:
    """Reward per chosen arm of one logged search.

    ``record`` is a search record (``Searcher.record``): ``chosen``, ``candidates``
    (arm -> ids in rank order), ``budgets`` and ``failed``. Returns ``{arm: reward}`` for
    every chosen arm that ran (0.0 when it found nothing engaged).
    """
    engaged = engagement(events, weights, dwell_min_s)
    candidates: Mapping[str, list[str]] = record.get("candidates", {})
    budgets: Mapping[str, int] = record.get("budgets", {})
    failed = set(record.get("failed", ()))
    rewards: dict[str, float] = {}
    for arm in record.get("chosen", ()):
        if arm in failed or arm not in candidates:
            continue
        gain = 0.0
        cands = candidates[arm]
        for doc, g in engaged.items():  # list.index: a C scan per engaged item
            try:
                rank = cands.index(doc) + 1
            except ValueError:
                continue
            gain = max(gain, g / math.log2(1 + rank) if rank_discount else g)
        rewards[arm] = gain - cost_per_candidate * float(budgets.get(arm, 0))
    return rewards
