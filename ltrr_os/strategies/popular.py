"""Popular arm: the most popular entities within the tagged slot (e.g. an artist's hits)."""

from __future__ import annotations

from opensearchpy.helpers.query import Q

from ..plan.models import PopularArm
from .base import ArmInput, Compiled, Skip, register, typed_value, with_source


@register("popular")
def compile_popular(arm: PopularArm, inp: ArmInput, size: int) -> Compiled:
    filters = [
        Q("terms", **{field: [typed_value(v) for v in inp.slot_values(slot)]})
        for slot, field in arm.slots.items()
        if inp.slot_values(slot)
    ]
    if not filters:
        return Skip(f"none of the slots {sorted(arm.slots)} was tagged")
    fvf = {"field": arm.popularity_field, "modifier": "ln2p", "missing": 0}
    query = Q("function_score", query=Q("bool", filter=filters), field_value_factor=fvf,
              boost_mode="replace")  # fmt: skip
    return with_source({"query": query.to_dict()}, inp, size)
