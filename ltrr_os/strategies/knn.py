"""Semantic arm: OpenSearch ``knn`` query with the encoder's vector and slot filters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..plan.models import KnnArm
from .base import ArmInput, Compiled, Skip, register, typed_value, with_source


@register("knn")
def compile_knn(arm: KnnArm, inp: ArmInput, size: int) -> Compiled:
    vec = inp.vector
    if vec is None:
        return Skip("no query vector (no encoder for this index)")
    if not np.any(vec):
        return Skip("the query has no terms the encoder knows (zero vector)")
    knn: dict[str, Any] = {"vector": [float(x) for x in vec], "k": max(arm.k, size)}
    filters = []
    for slot, field in arm.filter_slots.items():
        values = inp.slot_values(slot)
        if values:
            filters.append({"terms": {field: [typed_value(v) for v in values]}})
    if filters:
        knn["filter"] = {"bool": {"filter": filters}}
    return with_source({"query": {"knn": {arm.field: knn}}}, inp, size)
