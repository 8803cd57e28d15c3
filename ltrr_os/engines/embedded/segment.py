"""The searchable, immutable arrays of one embedded index (one "segment").

Built from all documents at refresh, saved as ``.npz`` + JSON (no pickle), and shared
read-only by concurrent searches: a refresh builds a new segment and swaps the reference.
Postings are column slices of a CSC matrix (documents x terms), so scoring a term is
array work over its postings, never a Python loop over documents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import Analyzer, analyze_values, quantized_length, resolve
from .mapping import KEYWORD, NUMERIC_TYPES, TEXT, FieldSpec, to_number

K1 = 1.2
B = 0.75


@dataclass
class InvertedField:
    """Postings of a text or keyword field plus what BM25 needs per document."""

    terms: list[str]
    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(terms)+1
    docs: np.ndarray  # int32 doc index per posting, sorted within a term
    tf: np.ndarray  # float32 term frequency per posting
    norm: np.ndarray  # float32 per doc: k1 * (1 - b + b * dl / avgdl)
    doc_count: int  # documents with the field
    avgdl: float

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self.vocab.get(term)
        if t is None:
            return None
        a, b = self.indptr[t], self.indptr[t + 1]
        return self.docs[a:b], self.tf[a:b]

    def doc_freq(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])


@dataclass
class NumericField:
    first: np.ndarray  # float64 per doc: smallest value (what doc-values expose first), NaN
    pair_docs: np.ndarray  # int32 doc index per value (multi-valued fields repeat the doc)
    pair_vals: np.ndarray  # float64


@dataclass
class VectorField:
    vectors: np.ndarray  # float32 (n_docs, dim), zeros where missing
    has: np.ndarray  # bool per doc
    unit: np.ndarray | None  # L2-normalised copy for cosinesimil
    space_type: str


@dataclass
class RankFeaturesField:
    keys: list[str]
    vocab: dict[str, int]
    indptr: np.ndarray
    docs: np.ndarray
    values: np.ndarray  # float32, already quantised to 9 significant bits


def quantize_rank_feature(values: np.ndarray) -> np.ndarray:
    """Lucene's FeatureField stores ``floatToIntBits(v) >>> 15``: 9 significant bits."""
    bits = np.asarray(values, dtype=np.float32).view(np.int32) >> 15
    return (bits << 15).view(np.float32)


def _inverted(
    term_lists: Sequence[list[str] | None], n_docs: int, *, keyword: bool
) -> InvertedField:
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    lengths = np.zeros(n_docs, dtype=np.int64)
    has = np.zeros(n_docs, dtype=bool)
    for d, toks in enumerate(term_lists):
        if not toks:
            continue
        has[d] = True
        lengths[d] = len(toks)
        for t in toks:
            j = vocab.get(t)
            if j is None:
                j = vocab[t] = len(vocab)
            rows.append(d)
            cols.append(j)
    n_terms = len(vocab)
    docs_arr = np.asarray(rows, dtype=np.int64)
    cols_arr = np.asarray(cols, dtype=np.int64)
    # count (term, doc) pairs -> tf, sorted by term then doc
    key = cols_arr * n_docs + docs_arr
    uniq, counts = np.unique(key, return_counts=True)
    term_of = uniq // max(n_docs, 1)
    doc_of = (uniq % max(n_docs, 1)).astype(np.int32)
    tf = counts.astype(np.float32)
    if keyword:
        tf[:] = 1.0  # keyword fields index documents only: freq is always 1
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.add.at(indptr, term_of + 1, 1)
    indptr = np.cumsum(indptr)
    doc_count = int(has.sum())
    if keyword:
        # norms are disabled: every document has length 1; avgdl = sumDocFreq / docCount
        avgdl = (len(uniq) / doc_count) if doc_count else 1.0
        dl = np.ones(n_docs, dtype=np.float64)
    else:
        avgdl = (float(lengths.sum()) / doc_count) if doc_count else 1.0
        dl = np.fromiter((quantized_length(int(x)) for x in lengths), np.float64, n_docs)
    norm = (K1 * (1 - B + B * dl / avgdl)).astype(np.float32)
    terms = [""] * n_terms
    for t, j in vocab.items():
        terms[j] = t
    return InvertedField(terms, vocab, indptr, doc_of, tf, norm, doc_count, avgdl)


class Segment:
    """All fields of one index version plus ids and sources."""

    def __init__(
        self,
        ids: list[str],
        sources: list[dict[str, Any]],
        inverted: dict[str, InvertedField],
        numeric: dict[str, NumericField],
        vectors: dict[str, VectorField],
        features: dict[str, RankFeaturesField],
    ) -> None:
        self.ids = ids
        self.sources = sources
        self.id_index = {i: n for n, i in enumerate(ids)}
        self.inverted = inverted
        self.numeric = numeric
        self.vectors = vectors
        self.features = features

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        specs: dict[str, FieldSpec],
        analyzers: dict[str, Analyzer],
        ids: list[str],
        sources: list[dict[str, Any]],
    ) -> Segment:
        n = len(ids)
        inverted: dict[str, InvertedField] = {}
        numeric: dict[str, NumericField] = {}
        vectors: dict[str, VectorField] = {}
        features: dict[str, RankFeaturesField] = {}
        for path, spec in specs.items():
            raw = [src.get(spec.source) for src in sources]
            if spec.type == TEXT:
                an = resolve(analyzers, spec.analyzer, f"field {path}")
                inverted[path] = _inverted(
                    [analyze_values(an, v) if v is not None else None for v in raw], n,
                    keyword=False,
                )  # fmt: skip
            elif spec.type == KEYWORD:
                inverted[path] = _inverted([_keyword_terms(v, spec) for v in raw], n, keyword=True)
            elif spec.type in NUMERIC_TYPES or spec.type in ("date", "boolean"):
                numeric[path] = _numeric(raw, spec)
            elif spec.type == "knn_vector":
                vectors[path] = _vectors(raw, spec, n)
            elif spec.type in ("rank_features", "rank_feature"):
                features[path] = _features(raw, spec)
        return cls(ids, sources, inverted, numeric, vectors, features)

    # -- persistence -------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"inverted": {}, "numeric": [], "vectors": {}, "features": {}}
        for p, f in self.inverted.items():
            for k in ("indptr", "docs", "tf", "norm"):
                arrays[f"inv|{p}|{k}"] = getattr(f, k)
            meta["inverted"][p] = {"terms": f.terms, "doc_count": f.doc_count, "avgdl": f.avgdl}
        for p, nf in self.numeric.items():
            for k in ("first", "pair_docs", "pair_vals"):
                arrays[f"num|{p}|{k}"] = getattr(nf, k)
            meta["numeric"].append(p)
        for p, vf in self.vectors.items():
            arrays[f"vec|{p}|vectors"] = vf.vectors
            arrays[f"vec|{p}|has"] = vf.has
            meta["vectors"][p] = vf.space_type
        for p, rf in self.features.items():
            for k in ("indptr", "docs", "values"):
                arrays[f"rf|{p}|{k}"] = getattr(rf, k)
            meta["features"][p] = rf.keys
        np.savez(directory / "segment.npz", **arrays)
        (directory / "segment.json").write_text(json.dumps(meta))
        with open(directory / "docs.jsonl", "w", encoding="utf-8") as fh:
            for i, src in zip(self.ids, self.sources, strict=True):
                fh.write(json.dumps({"_id": i, "_source": src}, ensure_ascii=False))
                fh.write("\n")

    @classmethod
    def load(cls, directory: Path) -> Segment:
        meta = json.loads((directory / "segment.json").read_text())
        ids: list[str] = []
        sources: list[dict[str, Any]] = []
        with open(directory / "docs.jsonl", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                ids.append(d["_id"])
                sources.append(d["_source"])
        with np.load(directory / "segment.npz", allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        inverted = {}
        for p, m in meta["inverted"].items():
            terms = m["terms"]
            inverted[p] = InvertedField(
                terms, {t: j for j, t in enumerate(terms)}, a[f"inv|{p}|indptr"],
                a[f"inv|{p}|docs"], a[f"inv|{p}|tf"], a[f"inv|{p}|norm"], m["doc_count"],
                m["avgdl"],
            )  # fmt: skip
        numeric = {
            p: NumericField(a[f"num|{p}|first"], a[f"num|{p}|pair_docs"], a[f"num|{p}|pair_vals"])
            for p in meta["numeric"]
        }
        vectors = {}
        for p, space in meta["vectors"].items():
            vecs = a[f"vec|{p}|vectors"]
            vectors[p] = VectorField(vecs, a[f"vec|{p}|has"], _unit(vecs, space), space)
        features = {}
        for p, keys in meta["features"].items():
            features[p] = RankFeaturesField(
                keys, {k: j for j, k in enumerate(keys)}, a[f"rf|{p}|indptr"], a[f"rf|{p}|docs"],
                a[f"rf|{p}|values"],
            )  # fmt: skip
        return cls(ids, sources, inverted, numeric, vectors, features)


def _keyword_terms(value: Any, spec: FieldSpec) -> list[str] | None:
    if value is None:
        return None
    vals = value if isinstance(value, list) else [value]
    out = []
    for v in vals:
        if v is None:
            continue
        s = v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v)
        if spec.ignore_above is not None and len(s) > spec.ignore_above:
            continue
        out.append(s)
    return out or None


def _numeric(raw: list[Any], spec: FieldSpec) -> NumericField:
    n = len(raw)
    first = np.full(n, np.nan)
    pd: list[int] = []
    pv: list[float] = []
    for d, v in enumerate(raw):
        if v is None:
            continue
        vals = [
            to_number(x, spec.type) for x in (v if isinstance(v, list) else [v]) if x is not None
        ]
        if not vals:
            continue
        first[d] = min(vals)
        pd.extend([d] * len(vals))
        pv.extend(vals)
    return NumericField(first, np.asarray(pd, dtype=np.int32), np.asarray(pv, dtype=np.float64))


def _unit(vecs: np.ndarray, space: str) -> np.ndarray | None:
    if space != "cosinesimil":
        return None
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vecs / norms).astype(np.float32)


def _vectors(raw: list[Any], spec: FieldSpec, n: int) -> VectorField:
    dim = spec.dimension or 0
    vecs = np.zeros((n, dim), dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    for d, v in enumerate(raw):
        if v is None:
            continue
        vecs[d] = v
        has[d] = True
    return VectorField(vecs, has, _unit(vecs, spec.space_type), spec.space_type)


def _features(raw: list[Any], spec: FieldSpec) -> RankFeaturesField:
    vocab: dict[str, int] = {}
    trip: list[tuple[int, int, float]] = []
    for d, v in enumerate(raw):
        if v is None:
            continue
        items = v.items() if isinstance(v, dict) else [("", v)]
        for k, x in items:
            j = vocab.setdefault(k, len(vocab))
            trip.append((j, d, float(x)))
    trip.sort()
    keys = [""] * len(vocab)
    for k, j in vocab.items():
        keys[j] = k
    indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    for j, _, _ in trip:
        indptr[j + 1] += 1
    indptr = np.cumsum(indptr)
    docs = np.asarray([t[1] for t in trip], dtype=np.int32)
    values = quantize_rank_feature(np.asarray([t[2] for t in trip], dtype=np.float32))
    return RankFeaturesField(keys, vocab, indptr, docs, values)
