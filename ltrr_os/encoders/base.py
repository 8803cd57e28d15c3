"""The text-encoder contract behind the ``knn_vector`` field, its registry and persistence.

An encoder turns the text of a document (its ``vector.source_fields``, see
:func:`doc_text`) and the text of a query into vectors of the same space. The same fitted
encoder must serve both sides, so it is saved next to the index version it encoded
(``<data_dir>/encoders/<index>``) and loaded by the searcher.

Zero vectors: a query made only of terms the encoder never saw encodes to an all-zero
row (nothing crashes). OpenSearch rejects a zero query vector for ``cosinesimil``, so a
caller must check ``np.any(vec)`` before sending a knn query (the knn arm skips then).

Persistence is JSON + ``.npy`` (``allow_pickle=False``), never pickle: a saved encoder is
data, safe to load from anywhere, and readable without the Python class that wrote it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._io import atomic_write_bytes
from ..errors import ConfigError

MANIFEST = "encoder.json"
FORMAT = "ltrr-encoder"
FORMAT_VERSION = 1
_STATE_FILE = re.compile(r"^[A-Za-z0-9_]+-[0-9a-f]{16}\.(npy|json)$")

#: encoder type -> "module:Class"; imported on first use so that e.g. torch is only
#: imported by whoever asks for the neural encoder.
_REGISTRY: dict[str, str] = {
    "tfidf_svd": "ltrr_os.encoders.tfidf_svd:TfidfSvdEncoder",
    "sentence_transformer": "ltrr_os.encoders.sentence:SentenceTransformerEncoder",
}


class Encoder(ABC):
    """Text -> float32 rows of shape ``(n, dim)``, L2-normalised (or all zero)."""

    #: the ``type`` of ``make_encoder({"type": ...})`` and of the saved manifest
    type_name: ClassVar[str] = ""

    @abstractmethod
    def fit(self, texts: Iterable[str]) -> Encoder:
        """Learn from the catalog's texts; returns ``self``. A no-op for pretrained models."""

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32; each row unit length, or zero when nothing is known."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector size; must equal the ``dimension`` of the index's ``knn_vector`` field."""

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (JSON values): ``make_encoder({"type": t, **params})``."""

    # -- persistence: subclasses provide their state, the base writes it atomically ------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted state as named arrays and named JSON values (empty when stateless)."""
        return {}, {}

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray], data: dict[str, Any]
    ) -> Encoder:
        return cls(**params)

    def spec(self) -> dict[str, Any]:
        """``{"type": ..., **params}``, the input of :func:`make_encoder`."""
        return {"type": self.type_name, **self.get_params()}

    def save(self, directory: str | Path) -> Path:
        """Write the encoder to ``directory`` so :func:`load_encoder` restores it exactly.

        Each state file has a content hash in its name and the manifest (``encoder.json``)
        is replaced last, atomically: a concurrent reader sees the old encoder or the new
        one, never a mix. Files the new manifest does not name are removed afterwards.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays, data = self._state()
        files: dict[str, dict[str, str]] = {"arrays": {}, "data": {}}
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
            raw = buf.getvalue()
            fname = f"{name}-{hashlib.sha256(raw).hexdigest()[:16]}.npy"
            atomic_write_bytes(directory / fname, raw)
            files["arrays"][name] = fname
        for name, value in data.items():
            raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            fname = f"{name}-{hashlib.sha256(raw).hexdigest()[:16]}.json"
            atomic_write_bytes(directory / fname, raw)
            files["data"][name] = fname
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "type": self.type_name,
            "dim": self.dim,
            "params": self.get_params(),
            **files,
        }
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(directory / MANIFEST, text.encode("utf-8"))
        keep = {MANIFEST, *files["arrays"].values(), *files["data"].values()}
        for p in directory.iterdir():  # only our own hashed state files, never a user's
            if p.name not in keep and _STATE_FILE.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
        return directory


def register_encoder(type_name: str, target: str) -> None:
    """Make ``make_encoder({"type": type_name})`` build ``target`` (``"module:Class"``)."""
    if ":" not in target:
        raise ValueError(f"target must be 'module:Class', got {target!r}")
    _REGISTRY[type_name] = target


def encoder_types() -> list[str]:
    return sorted(_REGISTRY)


def encoder_class(type_name: str) -> type[Encoder]:
    """The class registered for ``type_name`` (imports its module on first use)."""
    target = _REGISTRY.get(type_name)
    if target is None:
        raise ConfigError(
            f"unknown encoder type {type_name!r}; known: {', '.join(encoder_types())}"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def make_encoder(spec: Mapping[str, Any]) -> Encoder:
    """An unfitted encoder from ``{"type": "tfidf_svd", "dim": 64, ...}``.

    This is the ``vector.encoder`` object of a template's ``_meta.ltrr``; unknown
    parameters are a :class:`ConfigError` listing the accepted ones.
    """
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ConfigError(f"an encoder spec must be an object with a 'type', got {spec!r}")
    params = {k: v for k, v in spec.items() if k != "type"}
    cls = encoder_class(spec["type"])
    accepted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"encoder {spec['type']!r}: unknown parameters {unknown}; accepted: {accepted}"
        )
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"encoder {spec['type']!r}: {exc}") from None


def load_encoder(directory: str | Path) -> Encoder:
    """The encoder saved by :meth:`Encoder.save` in ``directory``."""
    directory = Path(directory)
    mpath = directory / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{mpath}: no saved encoder here") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{mpath}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{mpath}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{mpath}: not an ltrr encoder manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise ConfigError(
            f"{mpath}: encoder format version {manifest.get('version')!r} is not supported "
            f"(this ltrr-os reads version {FORMAT_VERSION}); refit the encoder"
        )
    cls = encoder_class(str(manifest.get("type")))
    arrays: dict[str, np.ndarray] = {}
    data: dict[str, Any] = {}
    try:
        for name, fname in (manifest.get("arrays") or {}).items():
            arrays[name] = np.load(directory / fname, allow_pickle=False)
        for name, fname in (manifest.get("data") or {}).items():
            data[name] = json.loads((directory / fname).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory}: incomplete or corrupt encoder files ({exc})") from None
    enc = cls._from_state(dict(manifest.get("params") or {}), arrays, data)
    if enc.dim != manifest.get("dim"):
        raise ConfigError(f"{mpath}: dim {manifest.get('dim')} does not match the state")
    return enc


def doc_text(doc: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The text an encoder sees for a document: ``fields`` in order, lists flattened.

    One function on both the indexing side and in tests, so "what the vector of a
    document is made from" is defined once (the template's ``vector.source_fields``).
    """
    parts: list[str] = []
    for f in fields:
        v = doc.get(f)
        if v is None:
            continue
        if isinstance(v, list | tuple):
            parts.extend(str(x) for x in v if x is not None and str(x))
        elif str(v):
            parts.append(str(v))
    return " ".join(parts)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero (no division by zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
