"""What a strategy compiler receives, and the registry of compilers.

A compiler is a pure function ``(arm config, ArmInput, size) -> body | None``: no I/O, no
global state. ``None`` means the arm does not apply to this query (a required slot was
not tagged, no usable query vector...); the reason is kept for the trace. The query text
only ever enters a body as a JSON *value* of a dict, never by string concatenation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..understanding.result import Understanding


@dataclass(frozen=True)
class ArmInput:
    """Everything a compiler may read about one search."""

    text: str  # the query as searched (cleaned, length-capped)
    understanding: Understanding
    context: Mapping[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None  # query embedding for knn arms, when available
    source_fields: list[str] | None = None  # _source filter for hits (None = all)

    def slot_values(self, slot: str) -> list[str]:
        return self.understanding.slot_values(slot)


@dataclass(frozen=True)
class Skip:
    """An arm that does not apply, and why (shown in traces and `plan explain`)."""

    reason: str


Compiled = dict[str, Any] | Skip
Compiler = Callable[[Any, ArmInput, int], Compiled]

_REGISTRY: dict[str, Compiler] = {}


def register(type_name: str) -> Callable[[Compiler], Compiler]:
    def deco(fn: Compiler) -> Compiler:
        _REGISTRY[type_name] = fn
        return fn

    return deco


def compiler_for(type_name: str) -> Compiler:
    return _REGISTRY[type_name]


def with_source(body: dict[str, Any], inp: ArmInput, size: int) -> dict[str, Any]:
    body["size"] = size
    if inp.source_fields is not None:
        body["_source"] = list(inp.source_fields)
    return body


def typed_value(value: str) -> Any:
    """Slot values are strings; numeric ones (years, decades) go to the DSL as numbers."""
    try:
        return int(value)
    except ValueError:
        return value
