"""On-disk layout of the embedded engine, with atomic writes.

::

    <data_dir>/embedded/
      aliases.json                 alias -> [index]; replaced atomically (temp + rename)
      indices/<name>/meta.json     template, state (building|ready), segment generation
      indices/<name>/seg-000007/   segment.npz, segment.json, docs.jsonl of generation 7
      .lock                        inter-process lock for every write

A refresh writes a new ``seg-N`` directory completely, then replaces ``meta.json`` to
point at it, so a reader (in this or another process) sees the old or the new
generation, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

KEEP_GENERATIONS = 2


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory + ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir).expanduser() / "embedded"
        self.indices_dir = self.root / "indices"
        self.indices_dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(self.root / ".lock"))
        self.aliases_path = self.root / "aliases.json"

    # -- aliases -------------------------------------------------------------------------
    def read_aliases(self) -> dict[str, list[str]]:
        try:
            return json.loads(self.aliases_path.read_text())
        except FileNotFoundError:
            return {}

    def aliases_mtime(self) -> float:
        try:
            return self.aliases_path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def write_aliases(self, aliases: dict[str, list[str]]) -> None:
        atomic_write_text(self.aliases_path, json.dumps(aliases, indent=1, sort_keys=True))

    # -- indices -------------------------------------------------------------------------
    def index_dir(self, name: str) -> Path:
        return self.indices_dir / name

    def meta_path(self, name: str) -> Path:
        return self.index_dir(name) / "meta.json"

    def read_meta(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.meta_path(name).read_text())
        except FileNotFoundError:
            return None

    def meta_mtime(self, name: str) -> int:
        try:
            return self.meta_path(name).stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def write_meta(self, name: str, meta: dict[str, Any]) -> None:
        atomic_write_text(self.meta_path(name), json.dumps(meta, indent=1))

    def names(self) -> list[str]:
        return sorted(p.name for p in self.indices_dir.iterdir() if (p / "meta.json").exists())

    def new_segment_dir(self, name: str, generation: int) -> Path:
        d = self.index_dir(name) / f".seg-{generation:06d}.tmp"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def publish_segment_dir(self, name: str, tmp: Path, generation: int) -> Path:
        final = self.index_dir(name) / f"seg-{generation:06d}"
        os.replace(tmp, final)
        return final

    def prune_segments(self, name: str, keep_from: int) -> None:
        for p in self.index_dir(name).glob("seg-*"):
            try:
                gen = int(p.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if gen < keep_from:
                shutil.rmtree(p, ignore_errors=True)

    def delete(self, name: str) -> None:
        d = self.index_dir(name)
        # rename first so the index disappears atomically, then remove the files
        trash = self.root / f".deleted-{name}-{os.getpid()}"
        os.replace(d, trash)
        shutil.rmtree(trash, ignore_errors=True)
