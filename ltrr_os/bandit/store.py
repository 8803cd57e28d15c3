"""Versioned, checksummed persistence of retrieval policies, with hot reload.

Layout under a model directory::

    v000003/policy.pkl      the pickled RetrievalPolicy (written by this library only)
    v000003/meta.json       arms, feature names, plan hash, learner, sha256 of policy.pkl
    CURRENT                 the name of the version in use, replaced atomically
    .lock                   held while a version is written or CURRENT moves
    .learner.lock           held by the one process that is learning (load→update→save)

Save writes a complete new version directory (files fsynced, then renamed into place),
then swaps ``CURRENT``. Load verifies the checksum and the feature schema; a corrupt or
mismatched version is skipped with a warning and the newest good one is used.

Several worker processes (docs/feedback.md): searchers only *read*; they reload when
``CURRENT``'s mtime changes (``Searcher(online_learning=False)``) and always see a whole
version, never a torn file. Updates go through one learner at a time: a learner holds
:meth:`PolicyStore.learner` while it loads the current version, applies a batch of
events (from the event log, idempotent by event id) and saves; ``save(parent=...)``
refuses to publish a version built on anything but the current one, so an update can
never silently overwrite another (no lost updates).
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
from ..errors import ConfigError, LtrrError
from .policy import RetrievalPolicy

log = logging.getLogger(__name__)

_ANY = object()  # save(parent=_ANY): publish whatever is current


class StaleVersionError(LtrrError):
    """A learner tried to publish a policy derived from a version that is no longer current."""


@dataclass(frozen=True)
class LoadedPolicy:
    policy: RetrievalPolicy
    version: str
    meta: dict[str, Any]


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class PolicyStore:
    def __init__(self, directory: Path | str, keep: int = 5) -> None:
        self.dir = Path(directory).expanduser()
        self.keep = max(1, keep)

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
        """Changes whenever a version is published or rolled back (cheap: one stat)."""
        try:
            return (self.dir / "CURRENT").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def learner(self, timeout: float = 600.0) -> FileLock:
        """The lock a learning process holds from load to save (one learner at a time)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.dir / ".learner.lock"), timeout=timeout)

    def save(
        self,
        policy: RetrievalPolicy,
        *,
        feature_names: list[str],
        plan_hash: str,
        parent: Any = _ANY,
    ) -> str:
        """Write a new version and make it current; returns its name.

        ``parent``: the version the policy was loaded from (None: trained from scratch).
        When given and it is not the current version any more, raise
        :class:`StaleVersionError` instead of discarding the other learner's updates.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.dir / ".lock")):
            current = self.current()
            if parent is not _ANY and parent != current:
                raise StaleVersionError(
                    f"policy {current} was published since {parent or 'an empty store'} was "
                    "loaded; reload and apply the batch again (one learner at a time)"
                )
            existing = self.versions()
            n = int(existing[-1][1:]) + 1 if existing else 1
            name = f"v{n:06d}"
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.dir))
            try:
                blob = pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL)
                _write_synced(tmp / "policy.pkl", blob)
                meta = {
                    "version": name,
                    "parent": current,
                    "arms": policy.arms,
                    "learner": policy.config.learner,
                    "n_features": policy.n_features,
                    "feature_names": feature_names,
                    "plan_hash": plan_hash,
                    "n_updates": policy.n_updates,
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                }
                _write_synced(tmp / "meta.json", json.dumps(meta, indent=1).encode())
                os.replace(tmp, self.dir / name)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            atomic_write_text(self.dir / "CURRENT", name)
            for old in self.versions()[: -self.keep]:
                if old != name:
                    shutil.rmtree(self.dir / old, ignore_errors=True)
        return name

    def rollback(self, version: str) -> None:
        """Make an existing, intact ``version`` current again (readers reload it)."""
        if version not in self.versions():
            raise ConfigError(f"no policy version {version!r}; have {self.versions()}")
        try:
            self._read(version, None)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError) as exc:
            raise ConfigError(f"policy version {version} is unusable: {exc}") from None
        with FileLock(str(self.dir / ".lock")):
            atomic_write_text(self.dir / "CURRENT", version)

    def meta(self, version: str) -> dict[str, Any]:
        return json.loads((self.dir / version / "meta.json").read_text())

    def read(self, name: str, feature_names: list[str] | None = None) -> LoadedPolicy:
        """One version, verified (checksum, schema); raises ValueError/OSError if unusable."""
        return self._read(name, feature_names)

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
            except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError,
                    AttributeError, ImportError) as exc:  # fmt: skip
                log.warning(
                    "policy %s in %s is unusable (%s); trying an older one", name, self.dir, exc
                )
                continue
            if name != current:
                log.warning("using policy %s instead of %s", name, current)
            return loaded
        return None
