"""The default encoder: TF-IDF over words and character n-grams, reduced by truncated SVD (LSA).

Why this and not a neural model by default: it needs no torch (the ``[neural]`` extra is
over 1 GB), fits the 28k-track catalog in seconds on a laptop, encodes a query in tens of
microseconds with numpy only, and is fully deterministic, so the embedded engine, the
tests and CI get the same vectors everywhere.

Why these features (measured on the Spotify catalog, see ``docs/encoders.md``): music and
product queries are short, full of names and often misspelt ("tayler swyft", "beyonse").
Character 3- and 4-grams inside word boundaries (``<ta``, ``tay``, ``ayl``...) make a
misspelt name share most of its grams with the right one, which whole-word features
cannot do; word unigrams add exact-word evidence on top so that the correct spelling still
wins. Accents are folded and apostrophes dropped ("Beyoncé" = "beyonce", "don't" =
"dont") because users type them both ways. Sub-linear TF keeps a repeated word from
dominating; ``min_df=2`` drops grams seen once, which carry no co-occurrence for SVD.

``encode`` is implemented here with numpy (vocabulary lookup, TF-IDF, L2, projection),
not with scikit-learn's ``transform``: it is exact after save/load, needs no sklearn at
query time, and avoids sklearn's per-call validation (a short query takes ~20-40 us).
scikit-learn is only used (and imported) by :meth:`TfidfSvdEncoder.fit`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from .base import Encoder, l2_normalize

_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Casefold, strip accents, drop apostrophes, turn every non-alphanumeric run into a space."""
    text = text.casefold()
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", text)).strip()


class TfidfSvdEncoder(Encoder):
    """TF-IDF (words + char n-grams) -> ``TruncatedSVD(dim)`` -> L2-normalised rows.

    Parameters mirror scikit-learn's; ``word_weight`` scales the word features against the
    character n-grams (there are many more n-grams than words per text, so without it the
    words would barely count).
    """

    type_name = "tfidf_svd"

    def __init__(
        self,
        dim: int = 64,
        *,
        char_ngrams: Sequence[int] | None = (3, 4),
        word_ngrams: Sequence[int] | None = (1, 1),
        word_weight: float = 2.0,
        min_df: int = 2,
        max_features: int | None = 200_000,
        sublinear_tf: bool = True,
        svd_dims: int | None = None,
        svd_weight: float = 0.5,
        n_iter: int = 7,
        random_state: int = 0,
    ) -> None:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if char_ngrams is None and word_ngrams is None:
            raise ValueError("at least one of char_ngrams and word_ngrams is needed")
        for name, rng in (("char_ngrams", char_ngrams), ("word_ngrams", word_ngrams)):
            if rng is not None and (len(rng) != 2 or not 1 <= rng[0] <= rng[1]):
                raise ValueError(f"{name} must be (min_n, max_n) with 1 <= min_n <= max_n")
        k = dim // 2 if svd_dims is None else svd_dims
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= dim:
            raise ValueError(f"svd_dims must be an integer in [0, dim={dim}], got {svd_dims!r}")
        if not 0.0 <= svd_weight <= 1.0:
            raise ValueError(f"svd_weight must be in [0, 1], got {svd_weight!r}")
        self._dim = dim
        self.svd_dims = k
        self.svd_weight = float(svd_weight)
        self.char_ngrams = tuple(char_ngrams) if char_ngrams is not None else None
        self.word_ngrams = tuple(word_ngrams) if word_ngrams is not None else None
        self.word_weight = float(word_weight)
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.n_iter = n_iter
        self.random_state = random_state
        self.vocabulary_: dict[str, int] | None = None
        self.idf_: np.ndarray | None = None  # per-feature weight: idf x word_weight
        self.projection_: np.ndarray | None = None  # (n_features, dim) float32
        self.explained_variance_ratio_: float | None = None

    @property
    def dim(self) -> int:
        return self._dim

    def get_params(self) -> dict[str, Any]:
        return {
            "dim": self._dim,
            "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
            "word_ngrams": list(self.word_ngrams) if self.word_ngrams else None,
            "word_weight": self.word_weight,
            "min_df": self.min_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "svd_dims": self.svd_dims,
            "svd_weight": self.svd_weight,
            "n_iter": self.n_iter,
            "random_state": self.random_state,
        }

    # -- analysis ------------------------------------------------------------------------
    def analyze(self, text: str) -> list[str]:
        """Features of one text: ``w:word`` (and ``w:a b`` n-grams) plus ``<wo``, ``wor``...

        The ``w:`` prefix keeps a word apart from an equal character n-gram.
        """
        words = normalize_text(text).split()
        feats: list[str] = []
        if self.word_ngrams is not None:
            lo, hi = self.word_ngrams
            for n in range(lo, hi + 1):
                if n == 1:
                    feats.extend(["w:" + w for w in words])
                else:
                    feats.extend(
                        "w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)
                    )
        if self.char_ngrams is not None:
            lo, hi = self.char_ngrams
            for w in words:
                p = f"<{w}>"
                size = len(p)
                if size <= lo:  # a short word counts once, whole
                    feats.append(p)
                    continue
                for n in range(lo, min(hi, size) + 1):
                    feats.extend([p[i : i + n] for i in range(size - n + 1)])
        return feats

    # -- fit / encode --------------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> TfidfSvdEncoder:
        """Learn the vocabulary, IDF and the SVD projection from the catalog's texts."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        docs = [t if isinstance(t, str) else "" for t in texts]
        if not docs:
            raise DataError("cannot fit an encoder on no texts")
        vec = TfidfVectorizer(
            analyzer=self.analyze,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            norm=None,
            dtype=np.float64,
        )
        try:
            x = vec.fit_transform(docs)
        except ValueError as exc:  # e.g. "empty vocabulary" / "no terms remain"
            raise DataError(
                f"cannot fit the encoder on {len(docs)} texts: {exc} "
                f"(too few texts or min_df={self.min_df} too high?)"
            ) from None
        terms = vec.get_feature_names_out().tolist()
        weight = np.array(
            [self.word_weight if t.startswith("w:") else 1.0 for t in terms], dtype=np.float64
        )
        idf = vec.idf_.astype(np.float64) * weight
        x = normalize(x.multiply(weight[np.newaxis, :]).tocsr(), norm="l2")

        n_docs, n_feats = x.shape
        k = self.svd_dims
        projection = np.zeros((n_feats, self._dim), dtype=np.float32)
        self.explained_variance_ratio_ = None
        if k > 0:
            k_fit = min(k, n_feats - 1, n_docs - 1)
            if k_fit >= 1:
                svd = TruncatedSVD(
                    n_components=k_fit, algorithm="randomized", n_iter=self.n_iter,
                    random_state=self.random_state,
                )  # fmt: skip
                svd.fit(x)
                projection[:, :k_fit] = svd.components_.T.astype(np.float32)
                self.explained_variance_ratio_ = float(svd.explained_variance_ratio_.sum())
            else:  # a degenerate corpus (one text or one feature): one axis is all it has
                projection[:, 0] = 1.0
            # k_fit < k (tiny corpus) leaves zero columns: vectors keep the mapping's dim
        if k < self._dim:
            rng = np.random.default_rng(self.random_state)
            gauss = rng.standard_normal((n_feats, self._dim - k), dtype=np.float32)
            projection[:, k:] = gauss / np.float32(np.sqrt(self._dim - k))
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = idf
        self.projection_ = projection
        return self

    def _check_fitted(self) -> None:
        if self.vocabulary_ is None or self.idf_ is None or self.projection_ is None:
            raise DataError("the encoder is not fitted: call fit(texts) or load_encoder(dir)")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text; an all-zero row for a text with no known feature."""
        self._check_fitted()
        assert self.vocabulary_ is not None and self.idf_ is not None
        assert self.projection_ is not None
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        vocab, idf, proj = self.vocabulary_, self.idf_, self.projection_
        out = np.zeros((len(texts), self._dim), dtype=np.float64)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for f in self.analyze(text or ""):
                j = vocab.get(f)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if self.sublinear_tf:
                tf = 1.0 + np.log(tf)
            w = tf * idf[idx]
            w /= np.linalg.norm(w)
            out[row] = w @ proj[idx].astype(np.float64)
        k = self.svd_dims
        if 0 < k < self._dim:  # cos = a * cos(latent) + (1 - a) * cos(random projection)
            out[:, :k] = l2_normalize(out[:, :k]) * np.sqrt(self.svd_weight)
            out[:, k:] = l2_normalize(out[:, k:]) * np.sqrt(1.0 - self.svd_weight)
        return l2_normalize(out).astype(np.float32)

    # -- persistence ---------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check_fitted()
        assert self.vocabulary_ is not None and self.idf_ is not None
        assert self.projection_ is not None
        terms = [""] * len(self.vocabulary_)
        for t, i in self.vocabulary_.items():
            terms[i] = t
        arrays = {"idf": self.idf_, "projection": self.projection_}
        data: dict[str, Any] = {
            "vocabulary": terms,
            "fit": {"explained_variance_ratio": self.explained_variance_ratio_},
        }
        return arrays, data

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray], data: dict[str, Any]
    ) -> TfidfSvdEncoder:
        enc = cls(**params)
        terms = data.get("vocabulary")
        idf, proj = arrays.get("idf"), arrays.get("projection")
        if not isinstance(terms, list) or idf is None or proj is None:
            raise DataError("saved tfidf_svd state is incomplete (vocabulary, idf, projection)")
        if not (len(terms) == idf.shape[0] == proj.shape[0]) or proj.shape[1] != enc.dim:
            raise DataError(
                f"saved tfidf_svd state is inconsistent: {len(terms)} terms, idf "
                f"{idf.shape}, projection {proj.shape}, dim {enc.dim}"
            )
        enc.vocabulary_ = {t: i for i, t in enumerate(terms)}
        enc.idf_ = idf.astype(np.float64, copy=False)
        enc.projection_ = proj.astype(np.float32, copy=False)
        enc.explained_variance_ratio_ = (data.get("fit") or {}).get("explained_variance_ratio")
        return enc
