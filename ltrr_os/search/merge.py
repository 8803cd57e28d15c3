"""Union of the arms' candidates with provenance, and score fusion.

Fusion is the reranker until the LTR model exists: reciprocal rank fusion (robust, needs
no score calibration) or min-max normalised scores. Both are deterministic: ties are
broken by best rank in any arm, then by id.
"""

from __future__ import annotations

from typing import Any

from ..plan.models import RrfFusion, ScoreFusion
from .result import ArmHit, Hit


def merge(responses: dict[str, dict[str, Any]]) -> dict[str, Hit]:
    """Union of hits over arms; each hit remembers its rank and score in every arm."""
    out: dict[str, Hit] = {}
    for arm, resp in responses.items():
        for rank, h in enumerate(resp["hits"]["hits"], start=1):
            hit = out.get(h["_id"])
            if hit is None:
                hit = out[h["_id"]] = Hit(h["_id"], 0.0, h.get("_source"))
            elif hit.source is None and h.get("_source") is not None:
                hit.source = h["_source"]
            hit.arms[arm] = ArmHit(rank, float(h["_score"] or 0.0))
    return out


def fuse(
    hits: dict[str, Hit],
    method: RrfFusion | ScoreFusion,
    arm_weights: dict[str, float] | None = None,
) -> list[Hit]:
    """Score every candidate and sort (score desc, best rank asc, id asc).

    ``arm_weights`` (per search, e.g. the bandit's expectations) multiply the plan's.
    """
    weights = method.weights
    if arm_weights:
        weights = {a: weights.get(a, 1.0) * w for a, w in arm_weights.items()}
    if isinstance(method, RrfFusion):
        for h in hits.values():
            h.score = sum(weights.get(a, 1.0) / (method.k + ah.rank) for a, ah in h.arms.items())
    else:
        bounds: dict[str, tuple[float, float]] = {}
        for h in hits.values():
            for a, ah in h.arms.items():
                lo, hi = bounds.get(a, (ah.score, ah.score))
                bounds[a] = (min(lo, ah.score), max(hi, ah.score))
        for h in hits.values():
            total = 0.0
            for a, ah in h.arms.items():
                lo, hi = bounds[a]
                norm = 1.0 if hi == lo else (ah.score - lo) / (hi - lo)
                total += weights.get(a, 1.0) * norm
            h.score = total
    return sorted(
        hits.values(), key=lambda h: (-h.score, min(ah.rank for ah in h.arms.values()), h.id)
    )
