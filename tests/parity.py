"""Parity harness: run the same request bodies on two engines and compare their top k.

Reusable by any test (lexical, structured, knn, memory arms...)::

    from parity import assert_same_topk, load_same

    load_same([engine_a, engine_b], "songs", TEMPLATE, DOCS)
    assert_same_topk(engine_a, engine_b, "songs", {"match": {...}, ...}, k=10)

What "same" means, per body:

- both engines answer (or, with ``both_errors_ok=True``, both reject it);
- the total number of hits is the same (``compare_totals``);
- every id that an engine ranks in its top ``k`` is also in the other's top ``k``,
  except ids tied at the cut (their order is arbitrary, so either may be cut off);
- no two ids are ordered oppositely: ties (scores equal within ``tie_rtol``) on either
  side are compatible with any order on the other (skipped with ``compare_order=False``);
- with ``score_rtol``, the scores of common ids agree within that relative tolerance
  (only meaningful when both engines compute the same formula, e.g. Lucene BM25).

Failures are collected for every body and raised once, as a readable side-by-side table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Bodies = Mapping[str, dict[str, Any]] | Sequence[dict[str, Any] | tuple[str, dict[str, Any]]]


def engine_label(engine: Any) -> str:
    """A short name for an engine in reports: its ``kind`` (or class name)."""
    return str(getattr(engine, "kind", None) or type(engine).__name__)


def load_same(
    engines: Iterable[Any],
    index: str,
    template: dict[str, Any],
    docs: Sequence[tuple[str, dict[str, Any]]],
    *,
    chunk_size: int = 500,
) -> None:
    """Create ``index`` from ``template`` on every engine, bulk-load ``docs``, refresh.

    Raises AssertionError naming the engine when any document is rejected.
    """
    for engine in engines:
        engine.create_index(index, template)
        report = engine.bulk(index, list(docs), chunk_size=chunk_size)
        if not report.ok:
            first = "; ".join(f"{e.doc_id}: {e.reason}" for e in report.errors[:3])
            raise AssertionError(
                f"{engine_label(engine)} rejected {report.failed} documents: {first}"
            )
        engine.refresh(index)


@dataclass
class Side:
    """What one engine returned for one body."""

    hits: list[tuple[str, float]] = field(default_factory=list)  # up to k + tie_slack
    total: int | None = None
    error: str | None = None


@dataclass
class BodyOutcome:
    """The comparison of one body on both engines."""

    name: str
    body: dict[str, Any]
    a: Side
    b: Side
    k: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def overlap(self) -> float:
        """|top-k(A) ∩ top-k(B)| / k' where k' is the larger top size (1.0 when both empty)."""
        ta = {i for i, _ in self.a.hits[: self.k]}
        tb = {i for i, _ in self.b.hits[: self.k]}
        n = max(len(ta), len(tb))
        return 1.0 if n == 0 else len(ta & tb) / n

    def render(self, label_a: str, label_b: str) -> str:
        body = json.dumps(self.body, sort_keys=True)
        if len(body) > 240:
            body = body[:237] + "..."
        lines = [f"[{self.name}] {body}"]
        for label, side in ((label_a, self.a), (label_b, self.b)):
            if side.error is not None:
                lines.append(f"  {label} error: {side.error}")
        if self.a.error is None or self.b.error is None:
            lines.append(f"  total: {label_a}={self.a.total} {label_b}={self.b.total}")
            top = self.a.hits[: self.k] + self.b.hits[: self.k]
            width = min(max([len(i) for i, _ in top] + [4]), 40)
            rows = max(len(self.a.hits[: self.k]), len(self.b.hits[: self.k]))
            col = width + 11
            if rows:
                lines.append(f"  {'rank':>4}  {label_a:<{col}}  {label_b:<{col}}")
            for r in range(rows):
                ca = _cell(self.a.hits, r, self.k, width)
                cb = _cell(self.b.hits, r, self.k, width)
                mark = "" if _id_at(self.a.hits, r) == _id_at(self.b.hits, r) else "  *"
                lines.append(f"  {r + 1:>4}  {ca:<{col}}  {cb:<{col}}{mark}")
        for p in self.problems:
            lines.append(f"  - {p}")
        return "\n".join(lines)


def _id_at(hits: list[tuple[str, float]], r: int) -> str | None:
    return hits[r][0] if r < len(hits) else None


def _cell(hits: list[tuple[str, float]], r: int, k: int, width: int) -> str:
    if r >= len(hits) or r >= k:
        return ""
    doc_id, score = hits[r]
    return f"{doc_id[:width]:<{width}} {score:10.6g}"


@dataclass
class ParityReport:
    """All body outcomes of one comparison."""

    label_a: str
    label_b: str
    outcomes: list[BodyOutcome]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failures(self) -> list[BodyOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def mean_overlap(self) -> float:
        answered = [o for o in self.outcomes if o.a.error is None and o.b.error is None]
        return sum(o.overlap() for o in answered) / len(answered) if answered else 1.0

    def render(self, only_failures: bool = True) -> str:
        shown = self.failures if only_failures else self.outcomes
        head = (
            f"parity {self.label_a} vs {self.label_b}: {len(self.failures)} of "
            f"{len(self.outcomes)} bodies differ (mean top-k overlap {self.mean_overlap():.3f})"
        )
        return "\n\n".join([head] + [o.render(self.label_a, self.label_b) for o in shown])


def _named(bodies: Bodies) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(bodies, Mapping):
        return [(str(n), b) for n, b in bodies.items()]
    out = []
    for i, item in enumerate(bodies):
        if isinstance(item, tuple):
            out.append((str(item[0]), item[1]))
        else:
            out.append((f"#{i}", item))
    return out


def _run(engine: Any, index: str, body: dict[str, Any], size: int) -> Side:
    try:
        res = engine.search(index, {**body, "size": size})
    except Exception as exc:  # the harness reports, never crashes, on one bad body
        return Side(error=f"{type(exc).__name__}: {exc}")
    hits = [(str(h["_id"]), float(h["_score"] or 0.0)) for h in res["hits"]["hits"]]
    total = res["hits"].get("total")
    if isinstance(total, dict):
        total = total.get("value") if total.get("relation", "eq") == "eq" else None
    return Side(hits=hits, total=total)


def _close(x: float, y: float, rtol: float) -> bool:
    return math.isclose(x, y, rel_tol=rtol, abs_tol=1e-12)


@dataclass
class _Ranking:
    """Tie groups of one engine's hits: ``group[id]`` for every fetched hit."""

    top: list[str]  # ids of the first k hits
    group: dict[str, int]
    open_group: int | None  # the group at the cut when it continues past rank k

    @classmethod
    def of(cls, hits: list[tuple[str, float]], k: int, tie_rtol: float) -> _Ranking:
        group: dict[str, int] = {}
        g, lead = -1, math.nan
        for doc_id, score in hits:
            if g < 0 or not _close(score, lead, tie_rtol):
                g, lead = g + 1, score
            group.setdefault(doc_id, g)
        top = [i for i, _ in hits[:k]]
        open_group = None
        if 0 < k < len(hits) and group[hits[k][0]] == group[hits[k - 1][0]]:
            open_group = group[hits[k - 1][0]]
        return cls(top, group, open_group)

    def may_lack(self, doc_id: str) -> bool:
        """True when ``doc_id`` is tied at this engine's cut (so it may fall just outside)."""
        return self.open_group is not None and self.group.get(doc_id) == self.open_group

    def certain(self) -> list[str]:
        return [i for i in self.top if not self.may_lack(i)]


def compare_topk(
    engine_a: Any,
    engine_b: Any,
    index: str,
    bodies: Bodies,
    k: int = 10,
    score_rtol: float | None = None,
    *,
    tie_rtol: float = 1e-5,
    compare_totals: bool = True,
    both_errors_ok: bool = False,
    index_b: str | None = None,
    tie_slack: int = 10,
    labels: tuple[str, str] | None = None,
    compare_order: bool = True,
) -> ParityReport:
    """Run ``bodies`` on both engines and compare their top ``k``.

    Each body is sent with ``size`` = ``k + tie_slack`` so that ties across the cut are
    seen. ``index_b`` names the index on engine B when it differs from ``index``;
    ``labels`` name the engines in the report (default: their ``kind``).
    ``compare_order=False`` compares the top-k *sets* only (the candidates an arm hands
    to the merge), not their order.
    """
    la, lb = labels or (engine_label(engine_a), engine_label(engine_b))
    outcomes = []
    for name, body in _named(bodies):
        a = _run(engine_a, index, body, k + tie_slack)
        b = _run(engine_b, index_b or index, body, k + tie_slack)
        out = BodyOutcome(name, body, a, b, k)
        outcomes.append(out)
        if a.error is not None or b.error is not None:
            if a.error is None or b.error is None:
                out.problems.append(f"only {la if a.error else lb} rejected the body")
            elif not both_errors_ok:
                out.problems.append("both engines rejected the body")
            continue
        if compare_totals and a.total is not None and b.total is not None and a.total != b.total:
            out.problems.append(f"total hits differ: {a.total} vs {b.total}")
        ra, rb = _Ranking.of(a.hits, k, tie_rtol), _Ranking.of(b.hits, k, tie_rtol)
        for mine, other, name_mine, name_other in ((ra, rb, la, lb), (rb, ra, lb, la)):
            top_other = set(other.top)
            missing = [i for i in mine.certain() if i not in top_other and not other.may_lack(i)]
            if missing:
                out.problems.append(
                    f"in {name_mine}'s top {k} but not {name_other}'s: {', '.join(missing)}"
                )
        in_b = set(rb.top)
        common = [i for i in ra.top if i in in_b]
        conflicts = []
        for pos, x in enumerate(common if compare_order else []):
            for y in common[pos + 1 :]:
                if (ra.group[x] - ra.group[y]) * (rb.group[x] - rb.group[y]) < 0:
                    conflicts.append((x, y))
        if conflicts:
            shown = "; ".join(f"{x} above {y}" for x, y in conflicts[:5])
            more = f" (+{len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
            out.problems.append(f"order differs: {la} ranks {shown}, {lb} the reverse{more}")
        if score_rtol is not None:
            sa = dict(a.hits[:k])
            sb = dict(b.hits[:k])
            off = [
                f"{i} {sa[i]:.6g} vs {sb[i]:.6g}"
                for i in common
                if not _close(sa[i], sb[i], score_rtol)
            ]
            if off:
                out.problems.append(
                    f"scores differ beyond rtol={score_rtol:g}: "
                    + "; ".join(off[:5])
                    + (f" (+{len(off) - 5} more)" if len(off) > 5 else "")
                )
    return ParityReport(la, lb, outcomes)


def assert_same_topk(
    engine_a: Any,
    engine_b: Any,
    index: str,
    bodies: Bodies,
    k: int = 10,
    score_rtol: float | None = None,
    **options: Any,
) -> ParityReport:
    """:func:`compare_topk`, raising AssertionError with the readable diff on any mismatch."""
    report = compare_topk(engine_a, engine_b, index, bodies, k, score_rtol, **options)
    if not report.ok:
        raise AssertionError(report.render())
    return report
