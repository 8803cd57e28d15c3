"""Load a YAML query plan into a :class:`~ltrr_os.plan.models.Plan`, with errors that
name the file, line and column of the mistake.

Steps, in order:

1. **Parse** with PyYAML's node API (``yaml.compose``, safe loader) so that every key and
   value keeps its position; build plain Python data and a map from JSON path (a tuple of
   keys and list indices) to :class:`Loc`. Duplicate keys are an error (PyYAML would keep
   the last one silently). Mapping keys are always strings (``on:`` stays ``"on"``).
2. **extends**: a top-level ``extends: other.yaml`` (relative to the extending file) is
   loaded first and deep-merged under this file: mappings merge key by key, lists and
   scalars are replaced. Chains are fine; a cycle is an error naming the chain.
3. **${ENV}**: ``${VAR}`` and ``${VAR:-default}`` inside string values (never keys) are
   replaced from the environment; ``$${`` is a literal ``${``. Resolved values are never
   shown in messages, the ``${VAR}`` text is shown instead.
4. **Validate** with pydantic; each problem becomes one line
   ``FILE:LINE:COL: dotted.path: message`` in a :class:`PlanError`.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..errors import ConfigError
from .models import Boost, Plan

__all__ = [
    "Loc",
    "PlanError",
    "PlanProblem",
    "PlanSource",
    "Pos",
    "format_path",
    "load_plan",
    "load_plan_with_positions",
    "plan_source",
]

#: problems shown in one PlanError (the rest are counted)
MAX_PROBLEMS = 5

JsonPath = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


# -- positions and problems ------------------------------------------------------------
class Pos(NamedTuple):
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Loc(NamedTuple):
    """Where a value came from: its key (None for list items and the root) and itself."""

    key: Pos | None
    value: Pos

    @property
    def best(self) -> Pos:
        """The key when there is one (what an editor should jump to), else the value."""
        return self.key or self.value


def format_path(path: Sequence[str | int]) -> str:
    """``("strategies", "lexical", "fields", 0)`` -> ``strategies.lexical.fields[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class PlanProblem:
    """One problem: where, which key, what is wrong."""

    message: str
    pos: Pos | None = None
    path: JsonPath = ()
    file: str | None = None  # when there is no position

    def __str__(self) -> str:
        where = str(self.pos) if self.pos else (self.file or "")
        dotted = format_path(self.path)
        parts = [p for p in (where, dotted, self.message) if p]
        return ": ".join(parts)


class PlanError(ConfigError):
    """A plan could not be loaded: one line per problem (the first few), first one first.

    ``problems`` holds every :class:`PlanProblem` (also those not shown in the message).
    """

    def __init__(self, problems: str | PlanProblem | Sequence[PlanProblem]) -> None:
        if isinstance(problems, str):
            problems = [PlanProblem(problems)]
        elif isinstance(problems, PlanProblem):
            problems = [problems]
        self.problems: list[PlanProblem] = list(problems)
        lines = [str(p) for p in self.problems[:MAX_PROBLEMS]]
        hidden = len(self.problems) - MAX_PROBLEMS
        if hidden > 0:
            lines.append(f"({hidden} more problem{'s' if hidden > 1 else ''} not shown)")
        super().__init__("\n".join(lines))

    @property
    def lines(self) -> list[str]:
        return str(self).splitlines()


@dataclass
class PlanSource:
    """Where every part of a loaded plan came from.

    ``locs`` maps a JSON path of the merged plan data (before pydantic defaults) to its
    :class:`Loc`; ``raw`` maps paths of interpolated strings to their ``${VAR}`` source
    text (show that, never the value); ``files`` is the extends chain, this file first.
    """

    path: str
    files: list[str] = field(default_factory=list)
    locs: dict[JsonPath, Loc] = field(default_factory=dict)
    raw: dict[JsonPath, str] = field(default_factory=dict)

    def loc(self, path: Sequence[str | int]) -> Loc | None:
        """The Loc of ``path`` or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            found = self.locs.get(p)
            if found is not None or not p:
                return found
            p = p[:-1]

    def pos(self, path: Sequence[str | int]) -> Pos | None:
        loc = self.loc(path)
        return loc.best if loc else None

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line:col: dotted.path`` (or just the dotted path when unknown)."""
        pos = self.pos(path)
        dotted = format_path(path)
        return f"{pos}: {dotted}" if pos and dotted else str(pos or dotted)

    def shown(self, path: Sequence[str | int], value: Any) -> str:
        """``repr(value)``, or the ``${VAR}`` source text when the value was interpolated."""
        raw = self.raw.get(tuple(path))
        return repr(raw) if raw is not None else _short_repr(value)


def plan_source(plan: Plan) -> PlanSource | None:
    """The :class:`PlanSource` of a plan returned by :func:`load_plan` (None otherwise)."""
    src = getattr(plan, "_source", None)
    return src if isinstance(src, PlanSource) else None


# -- public entry points --------------------------------------------------------------
def load_plan(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Plan:
    """Load, merge (``extends``), interpolate (``${ENV}``) and validate a plan.

    ``env`` defaults to ``os.environ``. Raises :class:`PlanError` (a ``ConfigError``) with
    one ``FILE:LINE:COL: path: message`` line per problem. The returned plan carries its
    positions (see :func:`plan_source`) for later checks such as
    :func:`ltrr_os.plan.checks.check_fields`.
    """
    return load_plan_with_positions(path, env)[0]


def load_plan_with_positions(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> tuple[Plan, PlanSource]:
    """Like :func:`load_plan`, also returning the :class:`PlanSource`."""
    display = os.fspath(path)
    source = PlanSource(path=display)
    data, locs = _load_tree(Path(display), display, [], None, source.files)
    source.locs = locs
    data, resolved = _interpolate(data, source, os.environ if env is None else env)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_problems_from_validation(exc, data, source, resolved)) from None
    # Plan is frozen; an underscore attribute bypasses pydantic (kept by model_copy,
    # ignored by == and model_dump).
    plan._source = source
    return plan, source


# -- step 1: YAML nodes -> data + positions ----------------------------------------------
def _pos(file: str, mark: Any) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


def _read(path: Path, display: str, extends_loc: tuple[Pos, str] | None) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            why = f"not UTF-8 text (byte {exc.start})"
        elif isinstance(exc, IsADirectoryError):
            why = "is a directory"
        else:
            why = exc.strerror or type(exc).__name__
        if extends_loc is not None:
            pos, written = extends_loc
            raise PlanError(
                PlanProblem(f"cannot read {written!r} ({display}): {why}", pos, ("extends",))
            ) from None
        raise PlanError(PlanProblem(f"cannot read plan: {why}", file=display)) from None


def _yaml_problem(exc: yaml.YAMLError, display: str) -> PlanProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if "'\\t'" in problem:
        msg = "YAML syntax error: tab character; indent with spaces, not tabs"
    else:
        msg = f"YAML syntax error: {problem}"
        if context:
            msg += f" ({context})"
        if problem.startswith("mapping values are not allowed"):
            msg += "; quote values that contain ': ' and check the indentation"
    if mark is None:
        return PlanProblem(msg, file=display)
    return PlanProblem(msg, _pos(display, mark))


class _Builder:
    """Turns a composed node tree into data + a JsonPath -> Loc map."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locs: dict[JsonPath, Loc] = {}
        self.constructor = yaml.constructor.SafeConstructor()
        self.active: set[int] = set()

    def fail(self, msg: str, node: Any, path: JsonPath) -> PlanError:
        return PlanError(PlanProblem(msg, _pos(self.file, node.start_mark), path))

    def build(self, node: Any, path: JsonPath = (), key: Pos | None = None) -> Any:
        self.locs[path] = Loc(key, _pos(self.file, node.start_mark))
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or "cannot read this value"
                raise self.fail(f"YAML error: {problem}", node, path) from None
        if id(node) in self.active:
            raise self.fail("an alias refers to a node that contains it", node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self.fail(f"unsupported YAML tag {node.tag!r}", node, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if node.tag != _MAP_TAG:
                raise self.fail(f"unsupported YAML tag {node.tag!r}", node, path)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        merges: list[Any] = []
        for knode, vnode in node.value:
            if knode.tag == _MERGE_TAG:
                merges.append(vnode)
                continue
            if not isinstance(knode, yaml.ScalarNode):
                raise self.fail("a key must be a plain name, not a list or mapping", knode, path)
            k = str(knode.value)
            kpath = (*path, k)
            if k in first:
                raise self.fail(
                    f"duplicate key {k!r} (first defined at line {first[k]})", knode, kpath
                )
            first[k] = knode.start_mark.line + 1
            out[k] = self.build(vnode, kpath, _pos(self.file, knode.start_mark))
        # YAML merge keys (<<: *anchor): keys written here win over merged ones
        for vnode in merges:
            sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise self.fail("'<<' needs a mapping or a list of mappings", src, path)
                sub = _Builder(self.file)
                sub.active = self.active
                merged = sub.mapping(src, path)
                for k, v in merged.items():
                    if k in out:
                        continue
                    out[k] = v
                    kpath = (*path, k)
                    for p, loc in sub.locs.items():
                        if p[: len(kpath)] == kpath:
                            self.locs[p] = loc
        return out


def _rel_name(display: str, root_dir: str) -> str:
    rel = os.path.relpath(display, root_dir) if root_dir else display
    return display if rel.startswith("..") else rel


def _load_tree(
    path: Path,
    display: str,
    chain: list[tuple[str, str]],
    extends_loc: tuple[Pos, str] | None,
    files: list[str],
) -> tuple[dict[str, Any], dict[JsonPath, Loc]]:
    """Parse ``path`` and whatever it extends; return merged data and locations."""
    text = _read(path, display, extends_loc)
    files.append(display)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PlanError(_yaml_problem(exc, display)) from None
    if node is None:
        raise PlanError(
            PlanProblem("the plan is empty (expected index:, strategies:, ...)", Pos(display, 1, 1))
        )
    builder = _Builder(display)
    data = builder.build(node)
    if not isinstance(data, dict):
        kind = _kind(data)
        raise PlanError(
            PlanProblem(
                f"a plan must be a mapping of sections (index:, strategies:, ...), not {kind}",
                _pos(display, node.start_mark),
            )
        )
    locs = builder.locs
    if "extends" not in data:
        return data, locs

    parent_written = data.pop("extends")
    eloc = locs.pop(("extends",))
    epos = eloc.best
    if not isinstance(parent_written, str) or not parent_written.strip():
        raise PlanError(
            PlanProblem(
                "extends must name a plan file, e.g. extends: base.yaml", epos, ("extends",)
            )
        )
    parent_display = os.path.normpath(os.path.join(os.path.dirname(display), parent_written))
    here = (os.path.realpath(display), display)
    seen = [*chain, here]
    parent_real = os.path.realpath(parent_display)
    if any(real == parent_real for real, _ in seen):
        root_dir = os.path.dirname(seen[0][1])
        names = [_rel_name(d, root_dir) for _, d in seen]
        names.append(_rel_name(parent_display, root_dir))
        raise PlanError(PlanProblem(f"cycle: {' -> '.join(names)}", epos, ("extends",)))
    parent_data, parent_locs = _load_tree(
        Path(parent_display), parent_display, seen, (epos, parent_written), files
    )
    return _merge(parent_data, parent_locs, data, locs)


def _subpaths(value: Any, path: JsonPath) -> typing.Iterator[JsonPath]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _subpaths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _subpaths(v, (*path, i))


def _merge(
    base: dict[str, Any],
    base_locs: dict[JsonPath, Loc],
    over: dict[str, Any],
    over_locs: dict[JsonPath, Loc],
) -> tuple[dict[str, Any], dict[JsonPath, Loc]]:
    """Deep-merge ``over`` onto ``base``: mappings recursively, anything else replaced.

    Each location comes from the file that supplied the value.
    """
    locs = dict(over_locs)

    def merge(b: Any, o: Any, path: JsonPath) -> Any:
        if not (isinstance(b, dict) and isinstance(o, dict)):
            return o
        out = dict(b)
        for k, bv in b.items():
            if k not in o:
                for p in _subpaths(bv, (*path, k)):
                    if p in base_locs:
                        locs[p] = base_locs[p]
        for k, ov in o.items():
            out[k] = merge(b[k], ov, (*path, k)) if k in b else ov
        return out

    return merge(base, over, ()), locs


# -- step 2: ${ENV} interpolation ------------------------------------------------------
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _EnvProblem(Exception):
    pass


def _substitute(text: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """Resolve ``${VAR}``, ``${VAR:-default}`` and ``$${``; (result, used a variable)."""
    out: list[str] = []
    used = False
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("$${", j):
            out.append("${")
            i = j + 3
            continue
        if not text.startswith("${", j):
            out.append("$")
            i = j + 1
            continue
        end = text.find("}", j + 2)
        if end < 0:
            raise _EnvProblem(
                "unclosed '${': write ${NAME} or ${NAME:-default} ($${ for a literal)"
            )
        inner = text[j + 2 : end]
        name, sep, default = inner.partition(":-")
        if "${" in default:
            raise _EnvProblem("a default cannot contain another ${...} reference")
        if not _NAME.match(name):
            raise _EnvProblem(
                f"malformed reference '${{{inner}}}': write ${{NAME}} or ${{NAME:-default}} "
                "with NAME made of letters, digits and '_'"
            )
        value = env.get(name)
        if not value and sep:  # like the shell: unset or empty -> default
            value = default
        elif value is None:
            raise _EnvProblem(
                f"environment variable {name} is not set "
                f"(set it, or give a default: ${{{name}:-default}})"
            )
        out.append(value)
        used = True
        i = end + 1
    return "".join(out), used


def _interpolate(
    data: Any, source: PlanSource, env: Mapping[str, str]
) -> tuple[Any, dict[str, str]]:
    """Resolve ``${...}`` in every string value; (data, {resolved value: source text}).

    The second map stays local to the loader (it may hold secrets): it is only used to
    keep resolved values out of error messages.
    """
    problems: list[PlanProblem] = []
    resolved: dict[str, str] = {}

    def walk(value: Any, path: JsonPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            try:
                new, used = _substitute(value, env)
            except _EnvProblem as exc:
                loc = source.loc(path)
                problems.append(PlanProblem(str(exc), loc.value if loc else None, path))
                return value
            if used:
                source.raw[path] = value
                resolved[new] = value
            return new
        return value

    out = walk(data, ())
    if problems:
        raise PlanError(_sorted(problems, source))
    return out, resolved


# -- step 3: pydantic errors -> one line each -----------------------------------------
def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _short_repr(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _unwrap(ann: Any, disc: str | None = None) -> tuple[Any, str | None]:
    """Strip Annotated/Optional; return (type, discriminator name or None)."""
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            args = typing.get_args(ann)
            for meta in args[1:]:
                if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
                    disc = meta.discriminator
            ann = args[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(members) == 1:
                ann = members[0]
                continue
        return ann, disc


def _union_members(ann: Any) -> list[Any]:
    if typing.get_origin(ann) in (Union, types.UnionType):
        return [a for a in typing.get_args(ann) if a is not type(None)]
    return []


def _tag_values(model: Any, disc: str) -> tuple[Any, ...]:
    if isinstance(model, type) and issubclass(model, BaseModel) and disc in model.model_fields:
        return typing.get_args(model.model_fields[disc].annotation)
    return ()


class _Resolved(NamedTuple):
    path: JsonPath  # data path (discriminator tags removed)
    owner: type[BaseModel] | None  # model whose field the last key is (or would be)
    leaf: Any  # annotation at the end of the path (None when unknown)


def _resolve(loc: Sequence[str | int]) -> _Resolved:
    """Follow a pydantic ``loc`` through the Plan's types, dropping union tags."""
    ann: Any = Plan
    disc: str | None = None
    path: list[str | int] = []
    owner: type[BaseModel] | None = None
    for el in loc:
        if el == "[key]":
            continue
        if ann is None:
            path.append(el)
            continue
        ann, disc = _unwrap(ann, disc)
        members = _union_members(ann)
        if members and disc:
            match = [m for m in members if el in _tag_values(m, disc)]
            if match:
                ann, disc = match[0], None
                continue
            ann = None
        path.append(el)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            owner = ann
            fi = ann.model_fields.get(str(el))
            ann = fi.annotation if fi else None
            disc = fi.discriminator if fi and isinstance(fi.discriminator, str) else None
        elif typing.get_origin(ann) is dict:
            ann, disc = typing.get_args(ann)[1], None
        elif typing.get_origin(ann) is list:
            ann, disc = typing.get_args(ann)[0], None
        else:
            ann, disc = None, None
    return _Resolved(tuple(path), owner, ann)


def _suggest(word: str, choices: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for the closest choice (a close spelling or a prefix)."""
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    if not close and len(str(word)) >= 3:
        low = str(word).lower()
        close = [c for c in names if c.lower().startswith(low) or low in c.lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _quoted(text: str) -> list[str]:
    return re.findall(r"'((?:[^'\\]|\\.)*)'", text)


def _lookup(data: Any, path: JsonPath) -> tuple[bool, Any]:
    cur = data
    for p in path:
        in_dict = isinstance(cur, dict) and p in cur
        in_list = isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur)
        if not (in_dict or in_list):
            return False, None
        cur = cur[p]
    return True, cur


def _find(data: Any, base: JsonPath, needle: str) -> JsonPath | None:
    """The first key or scalar equal to ``needle`` under ``base`` (depth first)."""
    ok, sub = _lookup(data, base)
    if not ok:
        return None
    for p in _subpaths(sub, base):
        if p == base:
            continue
        if p[-1] == needle:
            return p
        found, v = _lookup(data, p)
        if found and not isinstance(v, dict | list) and str(v) == needle:
            return p
    return None


def _locate_custom(message: str, path: JsonPath, data: Any) -> tuple[JsonPath, str]:
    """Point a validator message at the most specific path it talks about.

    A message may start with a dotted path (``strategies.x uses slot 'y' ...``) and quote
    the offending name; the deepest key or value equal to that name under the path wins.
    """
    head = re.match(r"([A-Za-z_]\w*(?:\.[\w\-]+)+)\s", message)
    if head:
        cand = tuple(head.group(1).split("."))
        for base in (cand, (*path, *cand)):
            if _lookup(data, base)[0] and len(base) >= len(path):
                path = base
                message = message[head.end() :]
                break
    names = _quoted(message)
    if names:
        hit = _find(data, path, names[0])
        if hit is not None:
            path = hit
    return path, message


_PATTERNS = {
    r"^[a-z0-9][a-z0-9_\-]*$": (
        "must be lowercase (OpenSearch names are): a-z, 0-9, '_' or '-', "
        "starting with a letter or digit"
    ),
}

_CUSTOM_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^names unknown arm '(?P<name>[^']*)'; arms: \[(?P<choices>.*)\]$"),
     "unknown arm {name!r}; strategies defines {choices}"),
    (re.compile(r"^uses slot '(?P<name>[^']*)' that understanding\.slots does not declare; "
                r"slots: \[(?P<choices>.*)\]$"),
     "slot {name!r} is not declared in understanding.slots (declared: {choices})"),
    (re.compile(r"^names unknown arm '(?P<name>[^']*)'$"), "unknown arm {name!r}"),
]  # fmt: skip


def _rewrite_custom(message: str, data: Any) -> str:
    for pattern, template in _CUSTOM_REWRITES:
        m = pattern.match(message)
        if not m:
            continue
        parts = m.groupdict()
        choices = _quoted(parts.get("choices") or "")
        shown = ", ".join(choices) if choices else "none"
        text = template.format(name=parts["name"], choices=shown)
        if not choices and "arm" in template and isinstance(data, dict):
            choices = list(data.get("strategies") or {})
            text += f"; strategies defines {', '.join(choices) or 'none'}"
        return text + _suggest(parts["name"], choices)
    # any other "unknown thing 'x' ... ['a', 'b']" message gets a suggestion too
    m = re.search(r"unknown [\w ]*?'([^']*)'.*?\[([^\]]*)\]", message)
    if m and "did you mean" not in message:
        return message + _suggest(m.group(1), _quoted(m.group(2)))
    return message


def _describe(err: Mapping[str, Any], res: _Resolved, data: Any, source: PlanSource) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = source.shown(res.path, value)
    label = "boost " if res.leaf is Boost else ""
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op, limit = {
            "greater_than": (">", "gt"),
            "greater_than_equal": (">=", "ge"),
            "less_than": ("<", "lt"),
            "less_than_equal": ("<=", "le"),
        }[kind]
        bound = ctx.get(limit)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{label}must be {op} {bound} (got {got})"
    if kind in ("float_parsing", "float_type"):
        return f"{label}must be a number (got {got})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number (got {got})"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false (got {got})"
    if kind == "string_type":
        return f"must be a string (got {_kind(value)} {got}); quote it"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of key: value entries (got {_kind(value)})"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"must be a list, e.g. [a, b] (got {_kind(value)})"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return f"{_PATTERNS.get(pattern, f'must match the pattern {pattern}')} (got {got})"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        what = "entry" if n == 1 else "entries"
        return f"needs at least {n} {what} (got {ctx.get('actual_length', 0)})"
    if kind == "too_long":
        return f"has too many entries (at most {ctx.get('max_length')})"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = _quoted(expected) or [s.strip() for s in re.split(r",| or ", expected)]
        return f"must be {expected} (got {got}){_suggest(str(value), choices)}"
    if kind == "path_type":
        return f"must be a file path (got {_kind(value)})"
    return f"{err.get('msg', kind)} (got {got})" if value is not None else str(err.get("msg"))


def _problems_from_validation(
    exc: ValidationError, data: Any, source: PlanSource, resolved: Mapping[str, str]
) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    misspelled: set[tuple[JsonPath, str]] = set()  # (parent, suggested key)
    missing: list[tuple[JsonPath, str, PlanProblem]] = []

    for err in exc.errors(include_url=False):
        kind = err["type"]
        res = _resolve(err["loc"])
        path = res.path
        if kind == "extra_forbidden":
            key = str(path[-1]) if path else "?"
            allowed = list(res.owner.model_fields) if res.owner else []
            hint = _suggest(key, allowed)
            if hint:
                misspelled.add((path[:-1], difflib.get_close_matches(key, allowed, n=1)[0]))
            elif allowed:
                hint = f"; allowed: {', '.join(allowed)}"
            problems.append(PlanProblem(f"unknown key {key!r}{hint}", source.pos(path), path))
        elif kind == "missing":
            parent, key = path[:-1], str(path[-1]) if path else "?"
            prob = PlanProblem(f"missing required key {key!r}", source.pos(parent), parent)
            missing.append((parent, key, prob))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            disc = str(_ctx(err, "discriminator")).strip("'")
            choices = _quoted(str(_ctx(err, "expected_tags"))) or _tags_at(res)
            listed = ", ".join(choices)
            if kind == "union_tag_not_found":
                ok, here = _lookup(data, path)
                if ok and not isinstance(here, dict):
                    msg = f"must be a mapping with a {disc!r} key (got {_kind(here)})"
                else:
                    msg = f"missing {disc!r}; one of: {listed}"
                problems.append(PlanProblem(msg, source.pos(path), path))
            else:
                tpath = (*path, disc)
                tag = _ctx(err, "tag")
                shown = source.shown(tpath, tag)
                msg = f"unknown {disc} {shown}; valid: {listed}{_suggest(str(tag), choices)}"
                problems.append(PlanProblem(msg, source.pos(tpath), tpath))
        elif kind in ("value_error", "assertion_error"):
            raw_msg = re.sub(r"^(Value|Assertion) error, ", "", str(err.get("msg", "")))
            where, stripped = _locate_custom(raw_msg, path, data)
            msg = _rewrite_custom(stripped, data)
            problems.append(PlanProblem(msg, source.pos(where), where))
        else:
            problems.append(PlanProblem(_describe(err, res, data, source), source.pos(path), path))

    for parent, key, prob in missing:
        if (parent, key) not in misspelled:  # 'indx' already says "did you mean 'index'"
            problems.append(prob)
    return _redact(_sorted(problems, source), resolved)


def _ctx(err: Mapping[str, Any], name: str) -> Any:
    return (err.get("ctx") or {}).get(name, "")


def _tags_at(res: _Resolved) -> list[str]:
    ann, disc = _unwrap(res.leaf)
    if not disc:
        return []
    return [str(t) for m in _union_members(ann) for t in _tag_values(m, disc)]


def _sorted(problems: list[PlanProblem], source: PlanSource) -> list[PlanProblem]:
    order = {f: i for i, f in enumerate(source.files)}

    def key(p: PlanProblem) -> tuple[int, int, int]:
        if p.pos is None:
            return (len(order) + 1, 0, 0)
        return (order.get(p.pos.file, len(order)), p.pos.line, p.pos.col)

    return sorted(problems, key=key)


def _redact(problems: list[PlanProblem], resolved: Mapping[str, str]) -> list[PlanProblem]:
    """Replace interpolated values that slipped into a message (e.g. a validator quoting
    its input) by their ``${VAR}`` source text: a resolved value may be a secret."""
    if not resolved:
        return problems
    # longest first, so a value containing another is replaced whole
    pairs = sorted(resolved.items(), key=lambda kv: -len(kv[0]))
    out = []
    for p in problems:
        msg = p.message
        for value, raw in pairs:
            if value:
                msg = msg.replace(repr(value), repr(raw))
            if len(value) >= 6:
                msg = msg.replace(value, raw)
        out.append(PlanProblem(msg, p.pos, p.path, p.file) if msg != p.message else p)
    return out
