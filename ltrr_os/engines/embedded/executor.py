"""Execute OpenSearch query DSL over a :class:`Segment` with numpy.

Each query node evaluates to ``(scores, matched)``: two dense arrays over all documents
(float64 scores, bool mask). Scoring follows Lucene/OpenSearch (BM25 with quantised
norms, dis_max for best_fields, function_score combination rules, knn score
transforms, rank_feature functions). Anything outside the supported subset raises
:class:`UnsupportedQueryError` naming the construct and its path in the body.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from ...errors import QueryError, UnsupportedQueryError
from .analysis import Analyzer, resolve
from .mapping import KEYWORD, TEXT, FieldSpec, to_number
from .segment import InvertedField, Segment

Result = tuple[np.ndarray, np.ndarray]

_MSM_RE = re.compile(r"^(-?)(\d+)(%?)$")
_BOOST_RE = re.compile(r"^(.+?)(?:\^(\d+(?:\.\d+)?))?$")
_MAX_EXPANSIONS = 50


def _check_keys(params: dict[str, Any], allowed: set[str], construct: str, path: str) -> None:
    for key in params:
        if key not in allowed:
            raise UnsupportedQueryError(
                f"{construct}.{key}", path, f"supported parameters: {sorted(allowed)}"
            )


def auto_edits(term: str) -> int:
    """``fuzziness: AUTO`` (AUTO:3,6): 0 edits below 3 chars, 1 up to 5, else 2."""
    n = len(term)
    return 0 if n < 3 else 1 if n < 6 else 2


def parse_msm(spec: Any, n_clauses: int, path: str) -> int:
    """minimum_should_match as OpenSearch computes it (integers and percentages)."""
    if spec is None:
        return 0
    m = _MSM_RE.match(str(spec).strip())
    if not m:
        raise UnsupportedQueryError(
            f"minimum_should_match {spec!r}", path, "use an integer or a percentage"
        )
    neg, num, pct = m.group(1), int(m.group(2)), m.group(3)
    if pct:
        calc = int(n_clauses * num / 100.0)
        result = n_clauses - calc if neg else calc
    else:
        result = n_clauses - num if neg else num
    return max(0, min(result, n_clauses))


class Executor:
    """One search over one segment (cheap to create; holds per-search state)."""

    def __init__(
        self,
        segment: Segment,
        specs: dict[str, FieldSpec],
        analyzers: dict[str, Analyzer],
        fuzzy_cache: dict[str, Any],
    ) -> None:
        self.seg = segment
        self.specs = specs
        self.analyzers = analyzers
        self.n = segment.n_docs
        self.fuzzy_cache = fuzzy_cache
        self.named: list[tuple[str, np.ndarray]] = []
        self._dispatch: dict[str, Callable[[Any, str], Result]] = {
            "match": self._match,
            "multi_match": self._multi_match,
            "bool": self._bool,
            "term": self._term,
            "terms": self._terms,
            "range": self._range,
            "exists": self._exists,
            "ids": self._ids,
            "match_all": self._match_all,
            "match_none": self._match_none,
            "constant_score": self._constant_score,
            "dis_max": self._dis_max,
            "function_score": self._function_score,
            "rank_feature": self._rank_feature,
            "knn": self._knn,
        }

    # -- helpers -----------------------------------------------------------------------
    def _zeros(self) -> Result:
        return np.zeros(self.n), np.zeros(self.n, dtype=bool)

    def _const(self, mask: np.ndarray, boost: float) -> Result:
        return np.where(mask, float(boost), 0.0), mask

    def _name(self, params: Any, result: Result) -> Result:
        if isinstance(params, dict) and "_name" in params:
            self.named.append((str(params["_name"]), result[1]))
        return result

    def query(self, node: Any, path: str) -> Result:
        if not isinstance(node, dict) or len(node) != 1:
            raise QueryError("a query must be an object with exactly one query type", path)
        ((kind, params),) = node.items()
        fn = self._dispatch.get(kind)
        if fn is None:
            raise UnsupportedQueryError(kind, path)
        return fn(params, f"{path}.{kind}")

    def _field_params(self, params: Any, construct: str, path: str) -> tuple[str, Any]:
        """``{"field": value_or_params}`` -> (field, value_or_params)."""
        if not isinstance(params, dict):
            raise QueryError(f"{construct} expects an object", path)
        fields = [k for k in params if k not in ("boost", "_name")]
        if len(fields) != 1:
            raise QueryError(f"{construct} expects exactly one field", path)
        return fields[0], params[fields[0]]

    def _search_analyzer(self, spec: FieldSpec, override: str | None, path: str) -> Analyzer:
        name = override or spec.search_analyzer or spec.analyzer
        return resolve(self.analyzers, name, path)

    # -- BM25 ----------------------------------------------------------------------------
    def _bm25_terms(
        self,
        inv: InvertedField,
        groups: list[list[tuple[str, float]]],
        boost: float,
        msm: int,
    ) -> Result:
        """Sum BM25 over term groups (a group = a token and its fuzzy expansions).

        Within a group all terms share the group's largest document frequency, as
        Lucene's blended fuzzy rewrite does, and each is weighted by its similarity.
        """
        scores = np.zeros(self.n)
        counts = np.zeros(self.n, dtype=np.int32) if msm > 1 else None
        matched = np.zeros(self.n, dtype=bool)
        n_docs = inv.doc_count
        for group in groups:
            posting = [(t, w, inv.postings(t)) for t, w in group]
            posting = [(t, w, p) for t, w, p in posting if p is not None]
            if not posting:
                continue
            df = max(len(p[0]) for _, _, p in posting)
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            gmask = np.zeros(self.n, dtype=bool) if counts is not None else None
            for _, w, (docs, tf) in posting:
                weight = boost * w * idf
                scores[docs] += weight * tf / (tf + inv.norm[docs])
                matched[docs] = True
                if gmask is not None:
                    gmask[docs] = True
            if counts is not None and gmask is not None:
                counts += gmask
        if counts is not None:
            matched = counts >= msm
            scores = np.where(matched, scores, 0.0)
        return scores, matched

    def _fuzzy_expand(
        self, path: str, inv: InvertedField, term: str, edits: int
    ) -> list[tuple[str, float]]:
        if edits <= 0:
            return [(term, 1.0)]
        key = f"{path}\x00{term}\x00{edits}"
        hit = self.fuzzy_cache.get(key)
        if hit is not None:
            return hit
        by_len = self.fuzzy_cache.get(f"{path}\x00lens")
        if by_len is None:
            by_len = {}
            for t in inv.terms:
                by_len.setdefault(len(t), []).append(t)
            self.fuzzy_cache[f"{path}\x00lens"] = by_len
        cands: list[str] = []
        for ln in range(len(term) - edits, len(term) + edits + 1):
            cands.extend(by_len.get(ln, ()))
        out = []
        for cand, ed, _ in process.extract(
            term, cands, scorer=OSA.distance, score_cutoff=edits, limit=None
        ):
            min_len = min(len(cand), len(term))
            if ed == 0:
                out.append((cand, 1.0))
            elif ed < min_len:
                out.append((cand, 1.0 - ed / min_len))
        out.sort(key=lambda x: (-x[1], x[0]))
        out = out[:_MAX_EXPANSIONS]
        if len(self.fuzzy_cache) < 100_000:
            self.fuzzy_cache[key] = out
        return out

    def _match_field(self, field: str, text: Any, opts: dict[str, Any], path: str) -> Result:
        spec = self.specs.get(field)
        boost = float(opts.get("boost", 1.0))
        if spec is None:
            return self._zeros()  # unmapped fields match nothing, as in OpenSearch
        if spec.type == TEXT or spec.type == KEYWORD:
            inv = self.seg.inverted[field]
            if spec.type == TEXT:
                tokens = self._search_analyzer(spec, opts.get("analyzer"), path)(str(text))
            else:
                tokens = [text if isinstance(text, str) else str(text)] if text != "" else []
            if not tokens:
                return self._zeros()  # zero_terms_query: none
            fuzz = opts.get("fuzziness")
            groups = []
            for tok in tokens:
                if fuzz is None or spec.type == KEYWORD:
                    edits = 0
                elif str(fuzz).upper() == "AUTO":
                    edits = auto_edits(tok)
                elif str(fuzz) in ("0", "1", "2"):
                    edits = int(fuzz)
                else:
                    raise UnsupportedQueryError(f"fuzziness {fuzz!r}", path, "use AUTO, 0, 1 or 2")
                groups.append(self._fuzzy_expand(field, inv, tok, edits))
            operator = str(opts.get("operator", "or")).lower()
            if operator == "and":
                msm = len(groups)
            elif operator == "or":
                msm = parse_msm(opts.get("minimum_should_match"), len(groups), path)
            else:
                raise QueryError(f"operator must be 'and' or 'or', got {operator!r}", path)
            return self._bm25_terms(inv, groups, boost, msm)
        if spec.is_numeric:
            num = self.seg.numeric[field]
            try:
                value = to_number(text, spec.type)
            except ValueError as exc:
                raise QueryError(f"field {field!r}: {exc}", path) from None
            mask = np.zeros(self.n, dtype=bool)
            mask[num.pair_docs[num.pair_vals == value]] = True
            return self._const(mask, boost)
        raise UnsupportedQueryError(f"match on {spec.type} field {field!r}", path)

    # -- full-text queries ----------------------------------------------------------------
    _MATCH_KEYS = {
        "query", "operator", "minimum_should_match", "fuzziness", "boost", "_name", "analyzer",
        "prefix_length", "max_expansions", "zero_terms_query", "lenient",
        "auto_generate_synonyms_phrase_query", "fuzzy_transpositions",
    }  # fmt: skip

    def _match(self, params: Any, path: str) -> Result:
        field, value = self._field_params(params, "match", path)
        opts = value if isinstance(value, dict) else {"query": value}
        _check_keys(opts, self._MATCH_KEYS, "match", f"{path}.{field}")
        self._check_fuzzy_opts(opts, path)
        if "query" not in opts:
            raise QueryError("match needs a 'query'", f"{path}.{field}")
        return self._name(opts, self._match_field(field, opts["query"], opts, f"{path}.{field}"))

    def _check_fuzzy_opts(self, opts: dict[str, Any], path: str) -> None:
        if opts.get("prefix_length", 0) not in (0, None):
            raise UnsupportedQueryError("prefix_length", path, "only 0 is supported")
        if opts.get("max_expansions", _MAX_EXPANSIONS) != _MAX_EXPANSIONS:
            raise UnsupportedQueryError("max_expansions", path, "only the default 50")
        if opts.get("zero_terms_query", "none") != "none":
            raise UnsupportedQueryError("zero_terms_query", path, "only 'none'")

    def _multi_match(self, params: Any, path: str) -> Result:
        allowed = self._MATCH_KEYS | {"fields", "type", "tie_breaker"}
        _check_keys(params, allowed, "multi_match", path)
        self._check_fuzzy_opts(params, path)
        mtype = params.get("type", "best_fields")
        if mtype not in ("best_fields", "most_fields"):
            raise UnsupportedQueryError(f"multi_match type {mtype!r}", path)
        fields = params.get("fields")
        if not fields or not isinstance(fields, list):
            raise QueryError("multi_match needs a non-empty 'fields' list", path)
        if "query" not in params:
            raise QueryError("multi_match needs a 'query'", path)
        tie = float(params.get("tie_breaker", 1.0 if mtype == "most_fields" else 0.0))
        opts = {k: v for k, v in params.items() if k not in ("boost", "_name")}
        best = np.zeros(self.n)
        total = np.zeros(self.n)
        matched = np.zeros(self.n, dtype=bool)
        for i, f in enumerate(fields):
            m = _BOOST_RE.match(str(f))
            name, fboost = m.group(1), float(m.group(2) or 1.0)
            if "*" in name:
                raise UnsupportedQueryError(f"wildcard field {name!r}", f"{path}.fields[{i}]")
            s, mk = self._match_field(name, params["query"], {**opts, "boost": fboost}, path)
            np.maximum(best, s, out=best)
            total += s
            matched |= mk
        scores = best + tie * (total - best)
        scores *= float(params.get("boost", 1.0))
        return self._name(params, (np.where(matched, scores, 0.0), matched))

    # -- term-level queries ---------------------------------------------------------------
    def _term(self, params: Any, path: str) -> Result:
        field, value = self._field_params(params, "term", path)
        opts = value if isinstance(value, dict) else {"value": value}
        _check_keys(opts, {"value", "boost", "_name", "case_insensitive"}, "term", path)
        if opts.get("case_insensitive"):
            raise UnsupportedQueryError("term.case_insensitive", path)
        boost = float(opts.get("boost", params.get("boost", 1.0)))
        spec = self.specs.get(field)
        if spec is None:
            return self._name(opts, self._zeros())
        v = opts.get("value")
        if spec.type in (TEXT, KEYWORD):
            inv = self.seg.inverted[field]
            term = v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            res = self._bm25_terms(inv, [[(term, 1.0)]], boost, 0)
        elif spec.is_numeric:
            res = self._match_field(field, v, {"boost": boost}, path)
        else:
            raise UnsupportedQueryError(f"term on {spec.type} field {field!r}", path)
        return self._name(opts, res)

    def _values_mask(self, field: str, values: list[Any], path: str) -> np.ndarray:
        spec = self.specs.get(field)
        mask = np.zeros(self.n, dtype=bool)
        if spec is None:
            return mask
        if spec.type in (TEXT, KEYWORD):
            inv = self.seg.inverted[field]
            for v in values:
                p = inv.postings(v if isinstance(v, str) else str(v))
                if p is not None:
                    mask[p[0]] = True
            return mask
        if spec.is_numeric:
            num = self.seg.numeric[field]
            try:
                vals = [to_number(v, spec.type) for v in values]
            except ValueError as exc:
                raise QueryError(f"field {field!r}: {exc}", path) from None
            mask[num.pair_docs[np.isin(num.pair_vals, vals)]] = True
            return mask
        raise UnsupportedQueryError(f"terms on {spec.type} field {field!r}", path)

    def _terms(self, params: Any, path: str) -> Result:
        field, values = self._field_params(params, "terms", path)
        if not isinstance(values, list):
            raise QueryError("terms expects a list of values", f"{path}.{field}")
        mask = self._values_mask(field, values, path)
        return self._name(params, self._const(mask, params.get("boost", 1.0)))

    def _range(self, params: Any, path: str) -> Result:
        field, opts = self._field_params(params, "range", path)
        if not isinstance(opts, dict):
            raise QueryError("range expects an object of bounds", f"{path}.{field}")
        _check_keys(opts, {"gt", "gte", "lt", "lte", "boost", "_name", "format"}, "range", path)
        spec = self.specs.get(field)
        if spec is None:
            return self._name(opts, self._zeros())
        if not spec.is_numeric:
            raise UnsupportedQueryError(f"range on {spec.type} field {field!r}", path)
        num = self.seg.numeric[field]
        ok = np.ones(len(num.pair_vals), dtype=bool)
        for op, fn in (("gt", np.greater), ("gte", np.greater_equal), ("lt", np.less),
                       ("lte", np.less_equal)):  # fmt: skip
            if opts.get(op) is not None:
                try:
                    bound = to_number(opts[op], "double" if spec.type != "date" else "date")
                except ValueError as exc:
                    raise QueryError(f"range.{op}: {exc}", f"{path}.{field}") from None
                ok &= fn(num.pair_vals, bound)
        mask = np.zeros(self.n, dtype=bool)
        mask[num.pair_docs[ok]] = True
        return self._name(opts, self._const(mask, opts.get("boost", 1.0)))

    def _exists(self, params: Any, path: str) -> Result:
        _check_keys(params, {"field", "boost", "_name"}, "exists", path)
        field = params.get("field")
        spec = self.specs.get(field) if isinstance(field, str) else None
        mask = np.zeros(self.n, dtype=bool)
        if spec is None:
            pass
        elif spec.type in (TEXT, KEYWORD):
            inv = self.seg.inverted[field]
            mask[inv.docs] = True
        elif spec.is_numeric:
            mask[self.seg.numeric[field].pair_docs] = True
        elif spec.type == "knn_vector":
            mask = self.seg.vectors[field].has.copy()
        else:
            mask[self.seg.features[field].docs] = True
        return self._name(params, self._const(mask, params.get("boost", 1.0)))

    def _ids(self, params: Any, path: str) -> Result:
        _check_keys(params, {"values", "boost", "_name"}, "ids", path)
        mask = np.zeros(self.n, dtype=bool)
        for v in params.get("values", []):
            i = self.seg.id_index.get(str(v))
            if i is not None:
                mask[i] = True
        return self._name(params, self._const(mask, params.get("boost", 1.0)))

    def _match_all(self, params: Any, path: str) -> Result:
        _check_keys(params or {}, {"boost", "_name"}, "match_all", path)
        return self._name(
            params, self._const(np.ones(self.n, dtype=bool), (params or {}).get("boost", 1.0))
        )

    def _match_none(self, params: Any, path: str) -> Result:
        return self._name(params, self._zeros())

    # -- compound queries -----------------------------------------------------------------
    def _clauses(self, value: Any, path: str) -> list[tuple[Any, str]]:
        if isinstance(value, dict):
            return [(value, path)]
        if isinstance(value, list):
            return [(q, f"{path}[{i}]") for i, q in enumerate(value)]
        raise QueryError("expected a query or a list of queries", path)

    def _bool(self, params: Any, path: str) -> Result:
        allowed = {"must", "should", "filter", "must_not", "minimum_should_match", "boost", "_name"}
        _check_keys(params, allowed, "bool", path)
        scores = np.zeros(self.n)
        mask = np.ones(self.n, dtype=bool)
        has_required = False
        for q, p in self._clauses(params.get("must", []), f"{path}.must"):
            s, m = self.query(q, p)
            scores += s
            mask &= m
            has_required = True
        for q, p in self._clauses(params.get("filter", []), f"{path}.filter"):
            _, m = self.query(q, p)
            mask &= m
            has_required = True
        for q, p in self._clauses(params.get("must_not", []), f"{path}.must_not"):
            _, m = self.query(q, p)
            mask &= ~m
        should = self._clauses(params.get("should", []), f"{path}.should")
        if should:
            default = 0 if has_required else 1
            msm_spec = params.get("minimum_should_match")
            msm = default if msm_spec is None else parse_msm(msm_spec, len(should), path)
            count = np.zeros(self.n, dtype=np.int32)
            for q, p in should:
                s, m = self.query(q, p)
                scores += np.where(m, s, 0.0)
                count += m
            if msm > 0:
                mask &= count >= msm
        scores = np.where(mask, scores * float(params.get("boost", 1.0)), 0.0)
        return self._name(params, (scores, mask))

    def _constant_score(self, params: Any, path: str) -> Result:
        _check_keys(params, {"filter", "boost", "_name"}, "constant_score", path)
        if "filter" not in params:
            raise QueryError("constant_score needs a 'filter'", path)
        _, m = self.query(params["filter"], f"{path}.filter")
        return self._name(params, self._const(m, params.get("boost", 1.0)))

    def _dis_max(self, params: Any, path: str) -> Result:
        _check_keys(params, {"queries", "tie_breaker", "boost", "_name"}, "dis_max", path)
        tie = float(params.get("tie_breaker", 0.0))
        best = np.zeros(self.n)
        total = np.zeros(self.n)
        mask = np.zeros(self.n, dtype=bool)
        for q, p in self._clauses(params.get("queries", []), f"{path}.queries"):
            s, m = self.query(q, p)
            s = np.where(m, s, 0.0)
            np.maximum(best, s, out=best)
            total += s
            mask |= m
        scores = (best + tie * (total - best)) * float(params.get("boost", 1.0))
        return self._name(params, (np.where(mask, scores, 0.0), mask))

    # -- function_score -------------------------------------------------------------------
    _MODIFIERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "none": lambda v: v,
        "log": np.log10,
        "log1p": lambda v: np.log10(v + 1),
        "log2p": lambda v: np.log10(v + 2),
        "ln": np.log,
        "ln1p": np.log1p,
        "ln2p": lambda v: np.log1p(v + 1),
        "square": np.square,
        "sqrt": np.sqrt,
        "reciprocal": lambda v: 1.0 / v,
    }

    def _field_value_factor(self, spec: dict[str, Any], mask: np.ndarray, path: str) -> np.ndarray:
        _check_keys(spec, {"field", "factor", "modifier", "missing"}, "field_value_factor", path)
        field = spec.get("field")
        fspec = self.specs.get(field) if isinstance(field, str) else None
        if fspec is None or not fspec.is_numeric:
            raise QueryError(f"field_value_factor needs a numeric field, got {field!r}", path)
        values = self.seg.numeric[field].first.copy()
        missing = np.isnan(values)
        if missing[mask].any():
            if spec.get("missing") is None:
                raise QueryError(
                    f"missing value for field [{field}] in a matching document; set 'missing'",
                    path,
                )
            values[missing] = float(spec["missing"])
        modifier = str(spec.get("modifier", "none")).lower()
        fn = self._MODIFIERS.get(modifier)
        if fn is None:
            raise QueryError(f"unknown modifier {modifier!r}", path)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(float(spec.get("factor", 1.0)) * values)
        bad = mask & (np.isnan(out) | (out < 0) | np.isinf(out))
        if bad.any():
            raise QueryError(
                f"field value function of [{field}] produced a negative, infinite or NaN score "
                f"(modifier {modifier!r}); choose a modifier that keeps values positive",
                path,
            )
        return np.where(mask, out, 0.0)

    def _score_function(
        self, fn: dict[str, Any], mask: np.ndarray, path: str
    ) -> tuple[np.ndarray, np.ndarray, float]:
        _check_keys(fn, {"filter", "weight", "field_value_factor"}, "function", path)
        fmask = mask
        if "filter" in fn:
            _, fm = self.query(fn["filter"], f"{path}.filter")
            fmask = mask & fm
        weight = float(fn.get("weight", 1.0))
        if "field_value_factor" in fn:
            values = self._field_value_factor(
                fn["field_value_factor"], fmask, f"{path}.field_value_factor"
            )
            values = values * weight
        else:
            values = np.full(self.n, weight)
        return values, fmask, weight

    def _function_score(self, params: Any, path: str) -> Result:
        allowed = {"query", "functions", "score_mode", "boost_mode", "max_boost", "min_score",
                   "boost", "_name", "field_value_factor", "weight"}  # fmt: skip
        for key in params:
            if key not in allowed:
                raise UnsupportedQueryError(f"function_score.{key}", path)
        sub_s, mask = self.query(params.get("query", {"match_all": {}}), f"{path}.query")
        funcs: list[dict[str, Any]] = list(params.get("functions", []))
        top = {k: params[k] for k in ("field_value_factor", "weight") if k in params}
        if top:
            if funcs:
                raise QueryError("use either 'functions' or a top-level function", path)
            funcs = [top]
        if not funcs:
            scores = sub_s
        else:
            evaluated = [
                self._score_function(f, mask, f"{path}.functions[{i}]") for i, f in enumerate(funcs)
            ]
            mode = params.get("score_mode", "multiply")
            factor = np.ones(self.n)
            if mode == "multiply":
                for v, m, _ in evaluated:
                    factor = np.where(m, factor * v, factor)
            elif mode in ("sum", "avg"):
                tot = np.zeros(self.n)
                wsum = np.zeros(self.n)
                for v, m, w in evaluated:
                    tot += np.where(m, v, 0.0)
                    wsum += np.where(m, w, 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    val = tot / wsum if mode == "avg" else tot
                factor = np.where(wsum != 0, val, 1.0)
            elif mode in ("max", "min"):
                init = -np.inf if mode == "max" else np.inf
                acc = np.full(self.n, init)
                op = np.maximum if mode == "max" else np.minimum
                for v, m, _ in evaluated:
                    acc = np.where(m, op(acc, v), acc)
                factor = np.where(np.isinf(acc), 1.0, acc)
            elif mode == "first":
                done = np.zeros(self.n, dtype=bool)
                for v, m, _ in evaluated:
                    take = m & ~done
                    factor = np.where(take, v, factor)
                    done |= m
            else:
                raise QueryError(f"unknown score_mode {mode!r}", path)
            factor = np.minimum(factor, float(params.get("max_boost", np.finfo(np.float32).max)))
            bmode = params.get("boost_mode", "multiply")
            combine = {
                "multiply": lambda s, f: s * f,
                "replace": lambda s, f: f,
                "sum": lambda s, f: s + f,
                "avg": lambda s, f: (s + f) / 2.0,
                "max": np.maximum,
                "min": np.minimum,
            }.get(bmode)
            if combine is None:
                raise QueryError(f"unknown boost_mode {bmode!r}", path)
            scores = combine(sub_s, factor)
        scores = scores * float(params.get("boost", 1.0))
        if params.get("min_score") is not None:
            mask = mask & (scores >= float(params["min_score"]))
        return self._name(params, (np.where(mask, scores, 0.0), mask))

    # -- rank_feature ---------------------------------------------------------------------
    def _feature_values(self, field: str, path: str) -> tuple[np.ndarray, np.ndarray, bool]:
        if field in self.seg.features:
            rf, key, spec = self.seg.features[field], "", self.specs[field]
        else:
            head, _, key = field.partition(".")
            if head not in self.seg.features or not key:
                raise QueryError(f"rank_feature needs a rank_feature(s) field, got {field!r}", path)
            rf, spec = self.seg.features[head], self.specs[head]
        j = rf.vocab.get(key)
        if j is None:
            return (
                np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.float32),
                spec.positive_score_impact,
            )
        a, b = rf.indptr[j], rf.indptr[j + 1]
        return rf.docs[a:b], rf.values[a:b].astype(np.float64), spec.positive_score_impact

    def _rank_feature(self, params: Any, path: str) -> Result:
        allowed = {"field", "saturation", "log", "sigmoid", "linear", "boost", "_name"}
        _check_keys(params, allowed, "rank_feature", path)
        docs, vals, positive = self._feature_values(str(params.get("field")), path)
        funcs = [k for k in ("saturation", "log", "sigmoid", "linear") if k in params]
        if len(funcs) > 1:
            raise QueryError("rank_feature takes at most one function", path)
        fn = funcs[0] if funcs else "saturation"
        fp = params.get(fn) or {}
        if fn == "saturation":
            pivot = fp.get("pivot")
            if pivot is None:  # OpenSearch: approximately the geometric mean of the values
                pivot = float(np.exp(np.mean(np.log(vals)))) if len(vals) else 1.0
            pivot = float(pivot)
            s = vals / (vals + pivot) if positive else pivot / (vals + pivot)
        elif fn == "log":
            if not positive:
                raise QueryError("log function cannot be used with negative score impact", path)
            s = np.log(float(fp["scaling_factor"]) + vals)
        elif fn == "sigmoid":
            pivot, exp = float(fp["pivot"]), float(fp["exponent"])
            num = vals**exp
            s = num / (num + pivot**exp) if positive else pivot**exp / (num + pivot**exp)
        else:
            s = vals if positive else 1.0 / vals
        scores = np.zeros(self.n)
        mask = np.zeros(self.n, dtype=bool)
        scores[docs] = s * float(params.get("boost", 1.0))
        mask[docs] = True
        return self._name(params, (scores, mask))

    # -- knn ------------------------------------------------------------------------------
    def _knn(self, params: Any, path: str) -> Result:
        field, opts = self._field_params(params, "knn", path)
        if not isinstance(opts, dict):
            raise QueryError("knn expects an object", f"{path}.{field}")
        p = f"{path}.{field}"
        _check_keys(
            opts, {"vector", "k", "filter", "boost", "_name", "method_parameters"}, "knn", p
        )
        spec = self.specs.get(field)
        if spec is None or spec.type != "knn_vector":
            raise QueryError(f"field {field!r} is not a knn_vector field", p)
        vf = self.seg.vectors[field]
        vec = np.asarray(opts.get("vector"), dtype=np.float32)
        if vec.ndim != 1 or vec.shape[0] != spec.dimension:
            raise QueryError(
                f"query vector has dimension {vec.shape}, field expects {spec.dimension}", p
            )
        k = opts.get("k")
        if not isinstance(k, int) or k < 1:
            raise QueryError("knn needs a positive integer 'k'", p)
        cand = vf.has.copy()
        if "filter" in opts:
            _, fm = self.query(opts["filter"], f"{p}.filter")
            cand &= fm
        idx = np.flatnonzero(cand)
        if vf.space_type == "cosinesimil":
            norm = float(np.linalg.norm(vec))
            if norm == 0.0:
                raise QueryError("a zero vector is not allowed for cosinesimil", p)
            assert vf.unit is not None
            sim = vf.unit[idx] @ (vec / norm)
            s = (1.0 + sim.astype(np.float64)) / 2.0
        elif vf.space_type == "l2":
            diff = vf.vectors[idx] - vec
            s = 1.0 / (1.0 + np.einsum("ij,ij->i", diff, diff).astype(np.float64))
        else:
            ip = (vf.vectors[idx] @ vec).astype(np.float64)
            s = np.where(ip >= 0, ip + 1.0, 1.0 / (1.0 - ip))
        if len(idx) > k:
            top = top_k_indices(s, k)
            idx, s = idx[top], s[top]
        scores = np.zeros(self.n)
        mask = np.zeros(self.n, dtype=bool)
        scores[idx] = s * float(opts.get("boost", 1.0))
        mask[idx] = True
        return self._name(opts, (scores, mask))


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best scores; ties broken by position (document order)."""
    n = len(scores)
    if k >= n:
        return np.lexsort((np.arange(n), -scores))
    kth = np.partition(-scores, k - 1)[k - 1]
    cand = np.flatnonzero(-scores <= kth)
    order = np.lexsort((cand, -scores[cand]))
    return cand[order[:k]]


def filter_source(source: dict[str, Any], spec: Any) -> dict[str, Any] | None:
    """Apply ``_source`` filtering (true/false, a list, or includes/excludes patterns)."""
    if spec is None or spec is True:
        return source
    if spec is False:
        return None
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, list):
        includes, excludes = spec, []
    elif isinstance(spec, dict):
        includes = spec.get("includes", spec.get("include", [])) or []
        excludes = spec.get("excludes", spec.get("exclude", [])) or []
        includes = [includes] if isinstance(includes, str) else includes
        excludes = [excludes] if isinstance(excludes, str) else excludes
    else:
        raise QueryError("_source must be a boolean, a list or an object", "_source")
    out = {}
    for k, v in source.items():
        if includes and not any(fnmatch.fnmatchcase(k, p) for p in includes):
            continue
        if any(fnmatch.fnmatchcase(k, p) for p in excludes):
            continue
        out[k] = v
    return out
