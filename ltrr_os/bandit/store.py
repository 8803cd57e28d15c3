"""Versioned, checksummed persistence of retrieval policies, with hot reload.

Layout under a model directory::

    v000003/policy.pkl      the pickled RetrievalPolicy (written by this library only)
    v000003/meta.json       arms, feature names, plan hash, learner, sha256 of policy.pkl
    CURRENT                 the name of the version in use, replaced atomically

Save writes a complete new version directory, then swaps ``CURRENT``. Load verifies the
checksum and the feature schema; a corrupt or mismatched version is skipped with a
warning and the newest good one is used. Multi-process rule: exactly one process (the
learner: ``ltrr bandit train`` or a designated worker) saves; any number of searchers
load, and a reader sees a whole version or the previous one, never a torn file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..engines.embedded.store import atomic_write_text
from .policy import RetrievalPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedPolicy:
    policy: RetrievalPolicy
    version: str
    meta: dict[str, Any]


class PolicyStore:
    def __init__(self, directory: Path | str, keep: int = 5) -> None:
        self.dir = Path(directory).expanduser()
        self.keep = keep

    def versions(self) -> list[str]:
        if not self.dir.exists():
            return []
        return sorted(p.name for p in self.dir.glob("v[0-9]*") if p.is_dir())

    def current(self) -> str | None:
        try:
            return (self.dir / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def current_mtime(self) -> int:
        try:
            return (self.dir / "CURRENT").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def save(self, policy: RetrievalPolicy, *, feature_names: list[str], plan_hash: str) -> str:
        """Write a new version and make it current; returns its name."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.dir / ".lock")):
            existing = self.versions()
            n = int(existing[-1][1:]) + 1 if existing else 1
            name = f"v{n:06d}"
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.dir))
            try:
                blob = pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL)
                (tmp / "policy.pkl").write_bytes(blob)
                meta = {
                    "version": name,
                    "arms": policy.arms,
                    "learner": policy.config.learner,
                    "feature_names": feature_names,
                    "plan_hash": plan_hash,
                    "n_updates": policy.n_updates,
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
                (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
                os.replace(tmp, self.dir / name)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            atomic_write_text(self.dir / "CURRENT", name)
            for old in self.versions()[: -self.keep]:
                shutil.rmtree(self.dir / old, ignore_errors=True)
        return name

    def _read(self, name: str, feature_names: list[str] | None) -> LoadedPolicy:
        d = self.dir / name
        meta = json.loads((d / "meta.json").read_text())
        blob = (d / "policy.pkl").read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise ValueError("checksum mismatch")
        if feature_names is not None and meta.get("feature_names") != feature_names:
            raise ValueError("feature schema differs from the plan's (the plan changed)")
        policy = pickle.loads(blob)  # noqa: S301 - our own checksummed file
        if not isinstance(policy, RetrievalPolicy):
            raise ValueError("not a RetrievalPolicy")
        return LoadedPolicy(policy, name, meta)

    def load(self, feature_names: list[str] | None = None) -> LoadedPolicy | None:
        """The current version, else the newest good one (with a warning); None if none."""
        current = self.current()
        candidates = ([current] if current else []) + [
            v for v in reversed(self.versions()) if v != current
        ]
        for name in candidates:
            try:
                loaded = self._read(name, feature_names)
            except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError) as exc:
                log.warning(
                    "policy %s in %s is unusable (%s); trying an older one", name, self.dir, exc
                )
                continue
            if name != current:
                log.warning("using policy %s instead of %s", name, current)
            return loaded
        return None
