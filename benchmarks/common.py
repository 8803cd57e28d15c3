"""What every benchmark shares: the real catalog index, machine facts, result files.

Benchmarks read real data from ``../shared/data`` (never copied into the repository) and
skip with a clear reason when it is absent. The real music catalog is indexed once into
``benchmarks/.cache/music`` (git-ignored) and reused while the CSV, the template and this
file's ``FORMAT`` are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ltrr_os.datasets import load_spotify, shared_data  # noqa: E402
from ltrr_os.engines.embedded import EmbeddedEngine  # noqa: E402
from ltrr_os.indexing.pipeline import build_index  # noqa: E402
from ltrr_os.templates import load_template  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache"
#: bump when the way the cached index is built changes
FORMAT = 1
PACKAGES = ("numpy", "scipy", "scikit-learn", "spacy", "rapidfuzz", "mabwiser", "pydantic",
            "opensearch-py", "xgboost-cpu", "xgboost", "ranx", "bm25s")  # fmt: skip


def real_music(data_dir: str | Path | None = None) -> tuple[EmbeddedEngine, str] | None:
    """The real music catalog in an embedded engine under alias ``music``; None if the
    shared data is absent. Built once (about 10 s) and cached with a stamp."""
    src = shared_data("music", "spotify_songs.csv")
    if src is None:
        return None
    ddir = Path(data_dir) if data_dir else CACHE / "music"
    st = Path(src).stat()
    tmpl = json.dumps(load_template("music"), sort_keys=True).encode()
    stamp = {"csv": [st.st_size, int(st.st_mtime)], "format": FORMAT,
             "template": hashlib.sha256(tmpl).hexdigest()[:16]}  # fmt: skip
    stamp_file = ddir / "stamp.json"
    engine = EmbeddedEngine(ddir)
    try:
        current = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        current = None
    if current != stamp or not engine.get_alias("music"):
        docs, _ = load_spotify(src)
        build_index(engine, "music", docs, template="music", data_dir=ddir, keep=1)
        stamp_file.write_text(json.dumps(stamp))
    return engine, "music"


def machine_info() -> dict[str, Any]:
    """Machine and package versions, recorded with every result."""
    pk = {}
    for p in PACKAGES:
        try:
            pk[p] = version(p)
        except PackageNotFoundError:
            continue
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "packages": pk,
    }


def percentiles(ms: list[float] | np.ndarray) -> dict[str, float]:
    """p50/p90/p99/mean of latencies in milliseconds."""
    a = np.asarray(ms, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), 4),
        "p90": round(float(np.percentile(a, 90)), 4),
        "p99": round(float(np.percentile(a, 99)), 4),
        "mean": round(float(a.mean()), 4),
        "n": int(a.size),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically, with date and machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": name,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    fd, tmp = tempfile.mkstemp(dir=RESULTS, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(out, f, indent=2, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)
    return path


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
