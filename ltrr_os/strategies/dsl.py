"""Template arm: a JSON query body with ``{{param}}`` placeholders, filled structurally.

The template is parsed as JSON once. A string that is exactly ``"{{name}}"`` is replaced
by the parameter's JSON value (string, number, list); ``{{name}}`` inside a longer string
is replaced inside that string. Values are never spliced into JSON text, so quotes,
braces or backslashes in a query cannot change the structure of the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigError
from ..plan.models import DslArm
from .base import ArmInput, Compiled, Skip, register, with_source

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SOURCES = ("query", "free_text", "slot:", "ctx:")


def parse_template(arm: DslArm, arm_name: str) -> dict[str, Any]:
    """Parse and check a template once (at Searcher start): valid JSON, declared params."""
    try:
        body = json.loads(arm.template)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"strategies.{arm_name}.template: invalid JSON at line {exc.lineno} column "
            f'{exc.colno}: {exc.msg} (placeholders go inside strings: "{{{{query}}}}")'
        ) from None
    if not isinstance(body, dict) or "query" not in body:
        raise ConfigError(f"strategies.{arm_name}.template: must be an object with a 'query'")
    used = set(_PLACEHOLDER.findall(arm.template))
    undeclared = used - set(arm.params)
    if undeclared:
        raise ConfigError(
            f"strategies.{arm_name}.template uses undeclared params {sorted(undeclared)}; "
            f"declare them under strategies.{arm_name}.params"
        )
    for name, src in arm.params.items():
        if not (src in ("query", "free_text") or src.startswith(("slot:", "ctx:"))):
            raise ConfigError(
                f"strategies.{arm_name}.params.{name}: source {src!r} must be query, "
                "free_text, slot:NAME or ctx:KEY"
            )
    return body


def _param_value(src: str, inp: ArmInput) -> Any:
    if src == "query":
        return inp.text
    if src == "free_text":
        return inp.understanding.free_text
    if src.startswith("slot:"):
        return inp.slot_values(src[5:])
    return inp.context.get(src[4:])


def render(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: render(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [render(v, values) for v in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _as_text(values[m.group(1)]), node)
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


@register("dsl")
def compile_dsl(
    arm: DslArm, inp: ArmInput, size: int, *, parsed: dict[str, Any] | None = None
) -> Compiled:
    body = parsed if parsed is not None else parse_template(arm, "dsl")
    values = {name: _param_value(src, inp) for name, src in arm.params.items()}
    missing = [n for n, v in values.items() if v in (None, [], "")]
    if missing:
        return Skip(f"no value for params {missing}")
    return with_source(render(body, values), inp, size)
