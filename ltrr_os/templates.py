"""Index templates: the OpenSearch ``settings`` + ``mappings`` bodies an index is built from.

Bundled templates live in ``ltrr_os/index_templates/*.json`` (also visible as the
top-level ``index_templates/``); a plan names one (``template: music``) or gives a path to
its own. Besides the mapping, a template carries what ltrr-os needs to know about the
catalog in ``mappings._meta.ltrr`` (OpenSearch stores ``_meta`` and ignores it): the id
field, the popularity prior and how the vector field is encoded. Keeping that next to the
mapping means the index and its encoder cannot drift apart.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

_BUNDLED_DIR = "index_templates"
_TEMPLATE_KEYS = {"settings", "mappings", "aliases"}
_NUMERIC = {
    "integer", "long", "short", "byte", "float", "double", "half_float", "scaled_float",
    "unsigned_long",
}  # fmt: skip


def _bundled_root() -> Any:
    return resources.files("ltrr_os").joinpath(_BUNDLED_DIR)


def bundled_templates() -> list[str]:
    """Names of the templates shipped with ltrr-os (``["music", "products"]``)."""
    root = _bundled_root()
    return sorted(p.name[: -len(".json")] for p in root.iterdir() if p.name.endswith(".json"))


def load_template(name_or_path: str | Path) -> dict[str, Any]:
    """A bundled template by name (``"music"``) or a JSON file by path; a fresh dict each call.

    A bare name without ``/`` or ``.json`` is looked up among the bundled templates first,
    so ``template: music`` in a plan works from any directory. Raises :class:`ConfigError`
    for a missing file, invalid JSON (with line and column) or a body that is not a
    ``settings``/``mappings`` object.
    """
    text: str
    where: str
    s = str(name_or_path)
    is_name = isinstance(name_or_path, str) and "/" not in s and "\\" not in s
    if is_name and not s.endswith(".json") and s in bundled_templates():
        where = f"bundled template {s!r}"
        text = _bundled_root().joinpath(f"{s}.json").read_text(encoding="utf-8")
    else:
        path = Path(name_or_path).expanduser()
        where = str(path)
        if not path.is_file():
            hint = ""
            if is_name and not s.endswith(".json"):
                hint = f"; bundled templates: {', '.join(bundled_templates())}"
            raise ConfigError(f"{path}: no such template file{hint}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the template ({exc})") from None
    try:
        template = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    _check_shape(template, where)
    return template


def _check_shape(template: Any, where: str) -> None:
    if not isinstance(template, dict):
        raise ConfigError(f"{where}: a template must be a JSON object with settings and mappings")
    unknown = sorted(set(template) - _TEMPLATE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level keys {unknown} (expected {sorted(_TEMPLATE_KEYS)}; "
            f"this is an index body, not an _index_template with index_patterns)"
        )
    for key in ("settings", "mappings"):
        if key in template and not isinstance(template[key], dict):
            raise ConfigError(f"{where}: {key} must be an object")
    props = (template.get("mappings") or {}).get("properties", {})
    if not isinstance(props, dict):
        raise ConfigError(f"{where}: mappings.properties must be an object")


def template_fields(template: dict[str, Any]) -> dict[str, str]:
    """Every queryable field path -> its type, sub-fields and object children included.

    ``{"title": "text", "title.keyword": "keyword", "year": "integer", ...}``. Object
    fields themselves are not listed, only their leaves (``"a.b"``), because a query can
    only name a leaf.
    """
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str, where: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if not isinstance(spec, dict):
                raise ConfigError(f"{where}.{name}: a field mapping must be an object")
            if "properties" in spec:  # object or nested
                walk(spec["properties"], f"{path}.", f"{where}.{name}.properties")
                continue
            ftype = spec.get("type")
            if not isinstance(ftype, str):
                raise ConfigError(f"{where}.{name}: missing field type")
            out[path] = ftype
            for sub, subspec in (spec.get("fields") or {}).items():
                stype = subspec.get("type") if isinstance(subspec, dict) else None
                if not isinstance(stype, str):
                    raise ConfigError(f"{where}.{name}.fields.{sub}: missing field type")
                out[f"{path}.{sub}"] = stype

    walk((template.get("mappings") or {}).get("properties") or {}, "", "mappings.properties")
    return out


def ltrr_meta(template: dict[str, Any]) -> dict[str, Any]:
    """``mappings._meta.ltrr`` checked against the mapping (a copy; ``{}`` when absent).

    Checks that catch a template edited by hand: the id field exists, the popularity
    field is numeric, the vector field is a ``knn_vector`` whose ``dimension`` equals the
    encoder's ``dim`` and its source fields exist.
    """
    meta = ((template.get("mappings") or {}).get("_meta") or {}).get("ltrr")
    if meta is None:
        return {}
    where = "mappings._meta.ltrr"
    if not isinstance(meta, dict):
        raise ConfigError(f"{where} must be an object")
    meta = copy.deepcopy(meta)
    fields = template_fields(template)
    id_field = meta.get("id_field")
    if id_field is not None and id_field not in fields:
        raise ConfigError(f"{where}.id_field: {id_field!r} is not a field of the mapping")
    pop = meta.get("popularity_field")
    if pop is not None and fields.get(pop) not in _NUMERIC:
        raise ConfigError(
            f"{where}.popularity_field: {pop!r} must be a numeric field "
            f"(it is {fields.get(pop, 'not in the mapping')})"
        )
    vector = meta.get("vector")
    if vector is not None:
        if not isinstance(vector, dict):
            raise ConfigError(f"{where}.vector must be an object")
        vfield = vector.get("field")
        if fields.get(vfield) != "knn_vector":
            raise ConfigError(f"{where}.vector.field: {vfield!r} is not a knn_vector field")
        sources = vector.get("source_fields")
        if not isinstance(sources, list) or not sources:
            raise ConfigError(f"{where}.vector.source_fields must be a non-empty list of fields")
        for f in sources:
            if f not in fields:
                raise ConfigError(f"{where}.vector.source_fields: {f!r} is not a field")
        encoder = vector.get("encoder") or {}
        if not isinstance(encoder, dict) or not isinstance(encoder.get("type"), str):
            raise ConfigError(f"{where}.vector.encoder must be an object with a type")
        dim = _dimension(template, vfield)
        if "dim" in encoder and encoder["dim"] != dim:
            raise ConfigError(
                f"{where}.vector.encoder.dim is {encoder['dim']} but {vfield} has "
                f"dimension {dim}: they must be equal"
            )
    return meta


def _dimension(template: dict[str, Any], path: str) -> Any:
    node: Any = template["mappings"]
    try:
        for part in path.split("."):
            node = node["properties"][part]
    except (KeyError, TypeError):
        return None  # a sub-field: OpenSearch does not allow knn_vector there anyway
    return node.get("dimension")
