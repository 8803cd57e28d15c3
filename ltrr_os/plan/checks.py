"""Checks of a loaded plan against an index mapping: does every field it names exist, and
does it have a type that works where it is used?

The mapping is a flat ``{field path: type}`` map, e.g. ``{"title": "text",
"title.keyword": "keyword", "embedding": "knn_vector"}`` (what
``ltrr_os.templates.template_fields`` returns for a template). Messages carry
``file:line:col`` when the plan came from :func:`~ltrr_os.plan.load_plan`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import LtrrError
from .loader import PlanSource, format_path, plan_source
from .models import DslArm, KnnArm, LexicalArm, Plan, PopularArm, StructuredArm

__all__ = ["check_dsl", "check_fields", "check_plan", "check_template", "template_fields_for"]

NUMERIC = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
     "unsigned_long"}
)  # fmt: skip
TEXTUAL = frozenset(
    {"text", "match_only_text", "search_as_you_type", "keyword", "constant_keyword", "wildcard"}
)
#: types an exact ``term``/``terms`` filter works on (not analysed text, not vectors)
EXACT = NUMERIC | {"keyword", "constant_keyword", "boolean", "date", "date_nanos", "ip"}

# role -> (allowed types or None for any, what the role needs in words)
_ROLES: dict[str, tuple[frozenset[str] | None, str]] = {
    "returned": (None, ""),
    "id": (EXACT, "an id field must be keyword or numeric"),
    "numeric": (NUMERIC, "this needs a numeric field (long, integer, float, ...)"),
    "text": (TEXTUAL, "lexical search needs a text or keyword field"),
    "exact": (EXACT, "slots and filters match exact values (terms): use keyword or numeric"),
    "knn": (frozenset({"knn_vector"}), "k-NN needs a knn_vector field"),
}


def _plan_fields(plan: Plan) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """(JSON path, field name, role) of every field the plan names."""
    idx = plan.index
    for i, f in enumerate(idx.fields):
        yield ("index", "fields", i), f, "returned"
    yield ("index", "id_field"), idx.id_field, "id"
    if idx.popularity_field:
        yield ("index", "popularity_field"), idx.popularity_field, "numeric"
    for name, slot in plan.understanding.slots.items():
        yield ("understanding", "slots", name, "field"), slot.field, "exact"
    for arm_name, arm in plan.strategies.items():
        base: tuple[str | int, ...] = ("strategies", arm_name)
        pop = getattr(arm, "popularity", None)
        if pop is not None:
            yield (*base, "popularity", "field"), pop.field, "numeric"
        if isinstance(arm, LexicalArm):
            for f in arm.fields:
                yield (*base, "fields", f), f, "text"
        elif isinstance(arm, StructuredArm):
            for slot, use in arm.slots.items():
                yield (*base, "slots", slot, "field"), use.field, "exact"
            for f in arm.text_fields:
                yield (*base, "text_fields", f), f, "text"
        elif isinstance(arm, KnnArm):
            yield (*base, "field"), arm.field, "knn"
            for slot, f in arm.filter_slots.items():
                yield (*base, "filter_slots", slot), f, "exact"
        elif isinstance(arm, PopularArm):
            for slot, f in arm.slots.items():
                yield (*base, "slots", slot), f, "exact"
            yield (*base, "popularity_field"), arm.popularity_field, "numeric"


def _where(source: PlanSource | None, path: tuple[str | int, ...]) -> str:
    if source is not None:
        return source.where(path)
    return format_path(path)


def check_fields(
    plan: Plan, fields: Mapping[str, str], *, mapping_name: str = "the index mapping"
) -> list[str]:
    """Problems with the fields ``plan`` names, one ``file:line:col: path: message`` each.

    ``fields`` is a flat ``{field path: type}`` map of the index mapping. Checks that each
    field exists and fits its use: lexical fields are text/keyword, popularity fields
    numeric, slot and filter fields exact (keyword/numeric, not analysed text), the knn
    field a ``knn_vector``, the id field keyword or numeric. An empty list means fine.
    """
    source = plan_source(plan)
    problems: list[str] = []
    for path, name, role in _plan_fields(plan):
        where = _where(source, path)
        ftype = fields.get(name)
        if ftype is None:
            close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: unknown field {name!r} in {mapping_name}{hint}")
            continue
        allowed, need = _ROLES[role]
        if allowed is None or ftype in allowed:
            continue
        hint = ""
        if role in ("exact", "id") and ftype in TEXTUAL:
            sub = f"{name}.keyword"
            hint = f"; use {sub!r}" if fields.get(sub) == "keyword" else ""
        elif role == "knn":
            vectors = sorted(f for f, t in fields.items() if t == "knn_vector")
            hint = f"; vector fields: {', '.join(vectors)}" if vectors else ""
        problems.append(f"{where}: {name!r} is a {ftype} field; {need}{hint}")
    return problems


# -- against the plan's index template ----------------------------------------------
def _templates_module() -> Any | None:
    try:
        from .. import templates
    except ModuleNotFoundError as exc:  # not available in this build
        if exc.name == "ltrr_os.templates":
            return None
        raise
    return templates


def _template_ref(plan: Plan, source: PlanSource | None) -> str:
    """``index.template``; a relative path is taken relative to the file that set it."""
    ref = plan.index.template
    looks_like_path = "/" in ref or os.sep in ref or ref.endswith(".json")
    if looks_like_path and not os.path.isabs(ref) and source is not None:
        pos = source.pos(("index", "template"))
        if pos is not None:
            return os.path.join(os.path.dirname(pos.file), ref)
    return ref


def template_fields_for(plan: Plan) -> dict[str, str] | None:
    """The flat field map of the plan's ``index.template`` (None when the templates module
    is not available). Raises ``ConfigError`` for a template that cannot be loaded."""
    mod = _templates_module()
    if mod is None:
        return None
    return dict(mod.template_fields(mod.load_template(_template_ref(plan, plan_source(plan)))))


def check_template(plan: Plan) -> list[str]:
    """:func:`check_fields` against the plan's own ``index.template``.

    An unknown template name is one problem listing the bundled templates. Returns []
    when the templates module is not available (nothing to check against).
    """
    source = plan_source(plan)
    where = _where(source, ("index", "template"))
    mod = _templates_module()
    if mod is None:
        return []
    ref = plan.index.template
    is_name = not ("/" in ref or os.sep in ref or ref.endswith(".json"))
    bundled = list(mod.bundled_templates())
    if is_name and ref not in bundled:
        close = difflib.get_close_matches(ref, bundled, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [
            f"{where}: unknown template {ref!r}; bundled templates: "
            f"{', '.join(bundled) or 'none'} (or give a path to a JSON file){hint}"
        ]
    try:
        fields = template_fields_for(plan)
    except LtrrError as exc:
        return [f"{where}: cannot load template: {str(exc).splitlines()[0]}"]
    if fields is None:
        return []
    return check_fields(plan, fields, mapping_name=f"template {ref!r}")


def check_dsl(plan: Plan) -> list[str]:
    """``dsl`` arms: the template is JSON with a ``query`` and declares its params (the
    checks the Searcher makes at start-up, here with file:line)."""
    arms = {n: a for n, a in plan.strategies.items() if isinstance(a, DslArm)}
    if not arms:
        return []
    from ..strategies.dsl import parse_template  # heavy imports: only when needed

    source = plan_source(plan)
    problems = []
    for name, arm in arms.items():
        try:
            parse_template(arm, name)
        except LtrrError as exc:
            msg = str(exc)
            head = msg.split(":", 1)[0].split(" ", 1)[0]
            path = tuple(head.split(".")) if head.startswith(f"strategies.{name}") else ()
            pos = source.pos(path or ("strategies", name, "template")) if source else None
            problems.append(f"{pos}: {msg}" if pos else msg)
    return problems


def check_plan(plan: Plan, *, fields: bool = True) -> list[str]:
    """Everything ``ltrr plan validate`` checks beyond the schema: DSL templates and
    (unless ``fields=False``) field names and types against the index template."""
    return check_dsl(plan) + (check_template(plan) if fields else [])
