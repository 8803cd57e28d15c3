"""Context featurisation for the retrieval bandit: understanding + caller context -> vector.

The column layout (``names``) is fixed by the plan at construction, stored with every
saved model, and checked on load, so a model never reads features it was not trained on.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from .config import ContextFeature

QUERY_TYPES = ("entity", "misspelled_entity", "topic", "long_tail", "free_text")
LANGUAGES = ("en", "es", "fr", "de", "pt")


class ContextFeaturizer:
    """Turns one search's understanding and context into a float vector."""

    def __init__(
        self, features: Sequence[ContextFeature], slots: Sequence[str], intents: Sequence[str]
    ) -> None:
        self.features = list(features)
        self.slots = list(slots)
        self.intents = list(intents)
        self.names: list[str] = []
        for f in self.features:
            self.names.extend(self._columns(f))
        self.dim = len(self.names)

    def _columns(self, f: ContextFeature) -> list[str]:
        n = f.name
        if n == "bias":
            return ["bias"]
        if n == "query_length":
            return ["query_length"]
        if n == "query_type":
            return [f"query_type={t}" for t in QUERY_TYPES]
        if n == "slots":
            return [f"slot={s}" for s in self.slots]
        if n == "fuzzy":
            return ["fuzzy_slot"]
        if n == "intent":
            return [f"intent={i}" for i in [*self.intents, "none"]]
        if n == "language":
            return [f"language={lang}" for lang in [*LANGUAGES, "other"]]
        if n == "hour":
            return ["hour_sin", "hour_cos"]
        if n == "weekend":
            return ["weekend"]
        key = n[4:]
        kind = f.kind or ("onehot" if f.values else "hashed")
        if kind == "onehot":
            return [f"{key}={v}" for v in [*f.values, "other"]]
        if kind == "hashed":
            return [f"{key}#h{i}" for i in range(f.buckets)]
        return [key]

    def transform(self, understanding: Any, context: Mapping[str, Any] | None = None) -> np.ndarray:
        ctx = context or {}
        out: list[float] = []
        u = understanding
        for f in self.features:
            n = f.name
            if n == "bias":
                out.append(1.0)
            elif n == "query_length":
                out.append(min(len(getattr(u, "tokens", []) or []), 10) / 10.0)
            elif n == "query_type":
                out.extend(1.0 if u.query_type == t else 0.0 for t in QUERY_TYPES)
            elif n == "slots":
                out.extend(1.0 if u.has_slot(s) else 0.0 for s in self.slots)
            elif n == "fuzzy":
                out.append(1.0 if any(s.fuzzy for s in u.slots) else 0.0)
            elif n == "intent":
                out.extend(1.0 if u.intent == i else 0.0 for i in self.intents)
                out.append(1.0 if u.intent not in self.intents else 0.0)
            elif n == "language":
                lang = u.language if u.language in LANGUAGES else "other"
                out.extend(1.0 if lang == x else 0.0 for x in [*LANGUAGES, "other"])
            elif n in ("hour", "weekend"):
                when = _when(ctx)
                if n == "hour":
                    h = float(ctx["hour"]) if "hour" in ctx else when.hour + when.minute / 60
                    out.extend([math.sin(2 * math.pi * h / 24), math.cos(2 * math.pi * h / 24)])
                else:
                    wk = ctx.get("weekend")
                    out.append(float(bool(wk)) if wk is not None else float(when.weekday() >= 5))
            else:
                out.extend(self._ctx_feature(f, ctx.get(n[4:])))
        return np.asarray(out, dtype=np.float64)

    @staticmethod
    def _ctx_feature(f: ContextFeature, value: Any) -> list[float]:
        kind = f.kind or ("onehot" if f.values else "hashed")
        if kind == "onehot":
            v = None if value is None else str(value)
            row = [1.0 if v == x else 0.0 for x in f.values]
            return [*row, 0.0 if any(row) else 1.0]
        if kind == "hashed":
            row = [0.0] * f.buckets
            if value is not None:
                row[zlib.crc32(str(value).encode()) % f.buckets] = 1.0
            return row
        if kind == "binary":
            return [1.0 if value else 0.0]
        try:
            return [float(value) / f.scale] if value is not None else [0.0]
        except (TypeError, ValueError):
            return [0.0]


def _when(ctx: Mapping[str, Any]) -> datetime:
    ts = ctx.get("ts")
    if isinstance(ts, int | float):
        return datetime.fromtimestamp(ts)
    return datetime.now()
