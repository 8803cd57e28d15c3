"""Structured arm: tagged slots become filters or boosted clauses; the rest is text."""

from __future__ import annotations

from opensearchpy.helpers.query import Q

from ..plan.models import StructuredArm
from .base import ArmInput, Compiled, Skip, register, typed_value, with_source
from .lexical import multi_match, popularity_wrap


@register("structured")
def compile_structured(arm: StructuredArm, inp: ArmInput, size: int) -> Compiled:
    filters, shoulds = [], []
    for slot, use in arm.slots.items():
        values = inp.slot_values(slot)
        if not values:
            continue
        clause = Q("terms", **{use.field: [typed_value(v) for v in values]})
        if use.mode == "filter":
            filters.append(clause)
        else:
            shoulds.append(
                Q("terms", **{use.field: [typed_value(v) for v in values]}, boost=use.boost)
            )
    if not filters and not shoulds:
        return Skip(f"none of the slots {sorted(arm.slots)} was tagged")
    free = inp.understanding.free_text.strip()
    if free and arm.text_fields:
        shoulds.append(multi_match(free, arm.text_fields, arm))
    if filters:
        # every document in the slot matches; the words left over and boosted slots rank
        query = Q("bool", must=[Q("match_all")], filter=filters, should=shoulds)
    else:
        # boost-only slots: a document must match a boosted slot or the words
        query = Q("bool", should=shoulds, minimum_should_match=1)
    query = popularity_wrap(query, arm.popularity)
    return with_source({"query": query.to_dict()}, inp, size)
