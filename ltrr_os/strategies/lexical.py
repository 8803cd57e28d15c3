"""Lexical BM25 arm: ``multi_match`` with field boosts, optional fuzziness and popularity."""

from __future__ import annotations

from typing import Any

from opensearchpy.helpers.query import Q

from ..plan.models import LexicalArm, PopularityBias
from .base import ArmInput, Compiled, Skip, register, with_source


def popularity_wrap(query: Any, bias: PopularityBias | None) -> Any:
    """Wrap a query in ``function_score`` ``field_value_factor`` (popularity bias)."""
    if bias is None:
        return query
    fvf = {"field": bias.field, "factor": bias.factor, "modifier": bias.modifier,
           "missing": bias.missing}  # fmt: skip
    return Q("function_score", query=query, field_value_factor=fvf, boost_mode=bias.boost_mode)


def fields_with_boosts(fields: dict[str, float]) -> list[str]:
    return [f if b == 1 else f"{f}^{b:g}" for f, b in fields.items()]


def multi_match(text: str, fields: dict[str, float], arm: Any) -> Any:
    params: dict[str, Any] = {"query": text, "fields": fields_with_boosts(fields)}
    match_type = getattr(arm, "match_type", "best_fields")
    if match_type != "best_fields":
        params["type"] = match_type
    if getattr(arm, "tie_breaker", 0):
        params["tie_breaker"] = arm.tie_breaker
    if getattr(arm, "operator", "or") != "or":
        params["operator"] = arm.operator
    if getattr(arm, "minimum_should_match", None):
        params["minimum_should_match"] = arm.minimum_should_match
    if getattr(arm, "fuzziness", None) is not None:
        params["fuzziness"] = arm.fuzziness
    return Q("multi_match", **params)


@register("lexical")
def compile_lexical(arm: LexicalArm, inp: ArmInput, size: int) -> Compiled:
    text = inp.understanding.without_intent or inp.text
    if not text.strip():
        return Skip("no text to match")
    query = popularity_wrap(multi_match(text, arm.fields, arm), arm.popularity)
    return with_source({"query": query.to_dict()}, inp, size)
