"""Fusion of arm candidates: RRF and normalised scores, with per-search arm weights."""

from __future__ import annotations

import pytest

from ltrr_os.plan.models import RrfFusion, ScoreFusion
from ltrr_os.search.merge import fuse, merge


def resp(*pairs: tuple[str, float]) -> dict:
    return {"hits": {"hits": [{"_id": i, "_score": s, "_source": {"id": i}} for i, s in pairs]}}


RESPONSES = {
    "fuzzy": resp(("a", 9.0), ("b", 5.0), ("c", 1.0)),
    "popular": resp(("c", 80.0), ("d", 60.0)),
}


def test_rrf_by_hand():
    hits = fuse(merge(RESPONSES), RrfFusion(method="rrf", k=20))
    scores = {h.id: h.score for h in hits}
    assert scores["a"] == pytest.approx(1 / 21)
    assert scores["c"] == pytest.approx(1 / 23 + 1 / 21)
    # b and d tie at 1/22 and at best rank 2: the id breaks the tie
    assert [h.id for h in hits] == ["c", "a", "b", "d"]
    assert hits[3].arms["popular"].rank == 2


def test_arm_weights_let_the_trusted_arm_lead():
    plain = [h.id for h in fuse(merge(RESPONSES), RrfFusion(method="rrf", k=20))]
    weighted = fuse(
        merge(RESPONSES), RrfFusion(method="rrf", k=20), arm_weights={"fuzzy": 0.9, "popular": 0.05}
    )
    assert plain[0] == "c"
    # a: 0.9/21 = 0.0429 > c: 0.9/23 + 0.05/21 = 0.0415
    assert [h.id for h in weighted][:2] == ["a", "c"]
    assert weighted[0].score == pytest.approx(0.9 / 21)


def test_arm_weights_multiply_plan_weights_in_score_fusion():
    method = ScoreFusion(method="score", weights={"popular": 2.0})
    hits = fuse(merge(RESPONSES), method, arm_weights={"fuzzy": 1.0, "popular": 0.25})
    scores = {h.id: h.score for h in hits}
    # c: fuzzy min-max 0 (lowest), popular 1.0 x 2.0 x 0.25
    assert scores["c"] == pytest.approx(0.5)
    assert scores["a"] == pytest.approx(1.0)
    assert scores["d"] == pytest.approx(0.0)
