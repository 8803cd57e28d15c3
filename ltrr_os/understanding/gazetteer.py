"""Gazetteers: the catalog values of entity slots, indexed for exact and fuzzy lookup.

A :class:`Gazetteer` holds every entity slot's names as tuples of normalised words
(:func:`~ltrr_os.understanding.text.norm_token`), plus two indexes for typo tolerance:

- ``postings``: word -> ``(entry, position)`` for the *anchor* words of fuzzy slots:
  words that are not stop words and occur in at most ``anchor_max_df`` names. A fuzzy
  candidate name is always reached through one of its anchor words (typed exactly or
  with a typo), then verified word by word against the query.
- ``deletes``: a deletion neighbourhood (SymSpell) over the anchor words: every string
  obtained by deleting up to ``edit_budget(len(word))`` characters -> the words. Looking
  up the deletions of a query word finds every anchor word within the edit budget in
  a few dict probes, whatever the vocabulary size.

Why not spaCy's ``FUZZY`` token patterns: the ``Matcher`` evaluates a fuzzy predicate
per pattern token in Python, which measured 7 ms per query with the 10.7k artists of
the real catalog alone (and 7.4 s to build), against a 1 ms budget for the whole
analysis. See ``docs/understanding.md``.

The gazetteer is plain data (lists, dicts, tuples, strings) so it pickles fast for the
per-index cache; the spaCy ``PhraseMatcher`` for exact names is rebuilt from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import OSA

from ..plan.models import SlotSpec
from .text import COMMON_WORDS, STOPWORDS

#: Bump when the built structure or the normalisation changes (invalidates caches).
FORMAT_VERSION = 1
#: Query words longer than this are only matched exactly (bounds the deletion work).
MAX_FUZZY_WORD = 32


def edit_budget(length: int, min_len: int) -> int:
    """Edits allowed in one word of ``length`` characters (of the catalog name).

    Shorter than ``min_len`` (the slot's ``min_fuzzy_length``): exact only; up to 5
    characters: 1 edit; longer: 2 edits. This is OpenSearch's ``fuzziness: AUTO`` with
    the exact-match floor raised to ``min_len`` (spaCy's default ``FUZZY`` allows
    ``max(2, round(0.3 * len))`` edits, which tags "love" as "Lovy").
    """
    if length < min_len:
        return 0
    return 1 if length <= 5 else 2


def word_budget(length: int, min_len: int) -> int:
    """Most edits a word may ever get: :func:`edit_budget`, or 1 for a short word of 3+
    letters (inside multi-word names only; see :meth:`Gazetteer.verify`)."""
    return edit_budget(length, min_len) or (1 if length >= 3 else 0)


def name_budget(length: int) -> int:
    """Total edits allowed over a whole (multi-word) name of ``length`` characters."""
    if length <= 5:
        return 1
    return 2 if length < 16 else 3


def deletions(word: str, k: int) -> set[str]:
    """``word`` and every string obtained by deleting up to ``k`` of its characters."""
    out = {word}
    frontier = {word}
    for _ in range(k):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@dataclass(frozen=True)
class Candidate:
    """A name found in the query: words ``[start, end)`` of the analysed words."""

    entry: int
    start: int
    end: int
    edits: int
    score: float


class Gazetteer:
    """Names of every entity slot; see the module docstring."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.slots: list[str] = list(state["slots"])
        self.slot_fuzzy: list[bool] = list(state["slot_fuzzy"])
        self.slot_min_len: list[int] = list(state["slot_min_len"])
        self.e_slot: list[int] = state["e_slot"]
        self.e_value: list[str] = state["e_value"]
        self.e_variants: list[tuple[str, ...]] = state["e_variants"]
        self.e_toks: list[tuple[str, ...]] = state["e_toks"]
        self.e_weight: list[float] = state["e_weight"]
        self.e_len: list[int] = state["e_len"]
        self.e_synonym: list[bool] = state["e_synonym"]
        self.exact: dict[tuple[str, ...], list[int]] = state["exact"]
        self.df: dict[str, int] = state["df"]
        self.postings: dict[str, list[tuple[int, int]]] = state["postings"]
        self.deletes: dict[str, list[str]] = state["deletes"]
        self.min_len: int = state["min_len"]
        self.anchor_max_df: int = state["anchor_max_df"]
        self.slot_sizes: list[int] = list(state["slot_sizes"])

    # -- building --------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        specs: Mapping[str, SlotSpec],
        values: Mapping[str, Iterable[tuple[Any, float]]],
        tokenize: Callable[[list[str]], list[tuple[str, ...]]],
        *,
        anchor_max_df: int = 200,
    ) -> Gazetteer:
        """Index ``values`` (slot -> ``(value, weight)``) of the entity slots of ``specs``.

        ``tokenize`` turns raw names into tuples of normalised words (the same function
        analyses queries). Values are capped to the slot's ``max_values`` most weighty;
        values that normalise to the same words in one slot become one entry whose
        ``value`` is the weightiest and whose weight is the sum; synonyms become entries
        of their own pointing at the target value (exact and, in fuzzy slots, fuzzy).
        """
        slots = [n for n, s in specs.items() if s.kind == "entity"]
        e_slot: list[int] = []
        e_value: list[str] = []
        e_variants: list[tuple[str, ...]] = []
        e_toks: list[tuple[str, ...]] = []
        e_weight: list[float] = []
        e_synonym: list[bool] = []
        slot_sizes: list[int] = []
        for si, name in enumerate(slots):
            spec = specs[name]
            merged: dict[str, float] = {}
            for value, weight in values.get(name, ()):
                v = str(value)
                if v.strip():
                    merged[v] = merged.get(v, 0.0) + float(weight or 0.0)
            ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[: spec.max_values]
            slot_sizes.append(len(ranked))
            by_key: dict[tuple[str, ...], list[tuple[str, float]]] = {}
            for (v, w), toks in zip(ranked, tokenize([v for v, _ in ranked]), strict=True):
                if toks:
                    by_key.setdefault(toks, []).append((v, w))
            value_entry: dict[str, int] = {}
            for toks, group in by_key.items():  # group is weight-ordered already
                value_entry[group[0][0]] = len(e_slot)
                e_slot.append(si)
                e_value.append(group[0][0])
                e_variants.append(tuple(v for v, _ in group[1:]))
                e_toks.append(toks)
                e_weight.append(sum(w for _, w in group))
                e_synonym.append(False)
            syn_items = list(spec.synonyms.items())
            syn_toks = tokenize([alias for alias, _ in syn_items])
            for (_, target), toks in zip(syn_items, syn_toks, strict=True):
                if not toks:
                    continue
                tgt = value_entry.get(target)
                e_slot.append(si)
                e_value.append(target)
                e_variants.append(e_variants[tgt] if tgt is not None else ())
                e_toks.append(toks)
                e_weight.append(e_weight[tgt] if tgt is not None else 0.0)
                e_synonym.append(True)

        exact: dict[tuple[str, ...], list[int]] = {}
        for e, toks in enumerate(e_toks):
            same = exact.setdefault(toks, [])
            # one entry per slot; a synonym replaces the catalog value it shadows
            clash = [o for o in same if e_slot[o] == e_slot[e]]
            if clash:
                if e_synonym[e]:
                    same.remove(clash[0])
                    same.append(e)
            else:
                same.append(e)
        df: Counter[str] = Counter()
        for toks in e_toks:
            df.update(set(toks))

        fuzzy_slots = [si for si, n in enumerate(slots) if specs[n].fuzzy]
        min_len = min((specs[slots[si]].min_fuzzy_length for si in fuzzy_slots), default=0)
        postings: dict[str, list[tuple[int, int]]] = {}
        fuzzy_set = set(fuzzy_slots)
        live = {e for ids in exact.values() for e in ids}
        for e, toks in enumerate(e_toks):
            if e_slot[e] not in fuzzy_set or e not in live:
                continue
            for p, t in enumerate(toks):
                if t not in STOPWORDS and df[t] <= anchor_max_df:
                    postings.setdefault(t, []).append((e, p))
        deletes: dict[str, list[str]] = {}
        if fuzzy_slots:
            for t in postings:
                k = word_budget(len(t), min_len)
                if k and len(t) <= MAX_FUZZY_WORD:
                    for d in deletions(t, k):
                        deletes.setdefault(d, []).append(t)
        return cls(
            {
                "slots": slots,
                "slot_fuzzy": [specs[n].fuzzy for n in slots],
                "slot_min_len": [specs[n].min_fuzzy_length for n in slots],
                "e_slot": e_slot,
                "e_value": e_value,
                "e_variants": e_variants,
                "e_toks": e_toks,
                "e_weight": e_weight,
                "e_len": [len(" ".join(t)) for t in e_toks],
                "e_synonym": e_synonym,
                "exact": exact,
                "df": dict(df),
                "postings": postings,
                "deletes": deletes,
                "min_len": min_len,
                "anchor_max_df": anchor_max_df,
                "slot_sizes": slot_sizes,
            }
        )

    def state(self) -> dict[str, Any]:
        """Plain data to pickle; ``Gazetteer(state)`` rebuilds the object."""
        return {
            "slots": self.slots,
            "slot_fuzzy": self.slot_fuzzy,
            "slot_min_len": self.slot_min_len,
            "e_slot": self.e_slot,
            "e_value": self.e_value,
            "e_variants": self.e_variants,
            "e_toks": self.e_toks,
            "e_weight": self.e_weight,
            "e_len": self.e_len,
            "e_synonym": self.e_synonym,
            "exact": self.exact,
            "df": self.df,
            "postings": self.postings,
            "deletes": self.deletes,
            "min_len": self.min_len,
            "anchor_max_df": self.anchor_max_df,
            "slot_sizes": self.slot_sizes,
        }

    @property
    def n_entries(self) -> int:
        return len(self.e_slot)

    def size_of(self, slot: str) -> int:
        """Distinct catalog values of ``slot`` kept (after the ``max_values`` cap)."""
        return self.slot_sizes[self.slots.index(slot)] if slot in self.slots else 0

    # -- lookup ----------------------------------------------------------------------
    def default_common_df(self) -> int:
        """Words in at least this many names are common: ~0.07% of the names, >= 5."""
        return max(5, -(-self.n_entries // 1500))

    def is_common(self, word: str, common_df: int) -> bool:
        """A stop word, a very common music word, or a word in ``common_df``+ names."""
        return word in STOPWORDS or word in COMMON_WORDS or self.df.get(word, 0) >= common_df

    def exact_allowed(self, e: int, common_df: int) -> bool:
        """Whether an exact match of entry ``e`` may be tagged.

        Names with two or more content (non-stop) words, or with one uncommon one, are.
        A name whose only content word is common ("Love?", "The Night", "Sweet"), or
        that has only stop words ("I", "+", "The Who", "Nas"), is tagged only when it is
        at least as popular (its weight, a doc count) as its words are common (the
        fewest names holding one of them): "Queen" (130 tracks, in 23 names) is, the
        album "Love?" (2 tracks; "love" is in 491 names) is not.
        """
        toks = self.e_toks[e]
        content = [t for t in toks if t not in STOPWORDS]
        if len(content) >= 2 or (content and not self.is_common(content[0], common_df)):
            return True
        if not content and len(toks) == 1:  # "I", "+" (read "and"): never a name alone
            return False
        need = min(self._commonness(t, common_df) for t in content or toks)
        return self.e_weight[e] >= need

    def _commonness(self, word: str, common_df: int) -> int:
        """How many names hold ``word``; at least ``common_df`` for stop words and known
        common music words, so a small catalog does not make "love" look rare."""
        df = self.df.get(word, 0)
        return max(df, common_df) if word in STOPWORDS or word in COMMON_WORDS else df

    def similar_words(self, word: str) -> list[tuple[str, int]]:
        """Anchor words within their edit budget of ``word`` (not ``word`` itself)."""
        if not self.deletes or len(word) > MAX_FUZZY_WORD or len(word) < 2:
            return []
        deletes = self.deletes
        found: set[str] = set()
        for d in deletions(word, 2):
            hit = deletes.get(d)
            if hit:
                found.update(hit)
        found.discard(word)
        out = []
        for v in found:
            k = word_budget(len(v), self.min_len)
            if abs(len(v) - len(word)) <= k:
                dist = OSA.distance(word, v, score_cutoff=k)
                if dist <= k:
                    out.append((v, dist))
        return out

    def fuzzy_candidates(
        self, words: Sequence[str], lo: int, hi: int, common_df: int
    ) -> list[Candidate]:
        """Names of fuzzy slots within ``words[lo:hi]`` with at least one typo.

        Every name is reached through an anchor word of it that appears in the query
        exactly or within its edit budget, then aligned word by word (same number of
        words) and verified by :meth:`verify`.
        """
        out: list[Candidate] = []
        if not self.postings:
            return out
        postings = self.postings
        e_toks = self.e_toks
        seen: set[tuple[int, int]] = set()
        for i in range(lo, hi):
            q = words[i]
            anchors = [q] if q in postings else []
            if q not in STOPWORDS:
                anchors.extend(v for v, _ in self.similar_words(q))
            for v in anchors:
                for e, p in postings[v]:
                    s = i - p
                    if s < lo or s + len(e_toks[e]) > hi or (e, s) in seen:
                        continue
                    seen.add((e, s))
                    c = self.verify(e, words, s, common_df)
                    if c is not None:
                        out.append(c)
        return out

    def verify(self, e: int, words: Sequence[str], s: int, common_df: int) -> Candidate | None:
        """Entry ``e`` read at ``words[s:]`` with at least one and few enough typos.

        - A word of the name of at least the slot's ``min_fuzzy_length`` (not a stop
          word) may differ by :func:`edit_budget` edits (OSA distance: a transposition
          is one edit). A shorter word of 3+ letters, or a stop word, may differ by one
          edit only inside a multi-word name where another word of 3+ letters matched
          exactly (not a stop word) or is long ("psot malone", "odd cahp", "tha alarm"). Other words,
          and one-word names shorter than ``min_fuzzy_length``, match exactly. A stop
          word typed in the query is never read as a typo.
        - The whole name may differ by :func:`name_budget` edits. A one-word name needs
          a similarity of 0.75, or 0.7 with the same first letter (2 edits in 7+
          letters: "rhiana" -> "Rihanna", but not "tayler" -> "Baller"), and the query
          word must be in no catalog name (such a word is typed on purpose: "sadness"
          is not a typo of "Madness").
        - A name made only of short words may have a typo in each only when none of the
          typed words is in a catalog name ("bcon jofvi" -> "Bon Jovi").
        - There must be evidence beyond common words (:meth:`is_common`): an uncommon
          word typed exactly, or a typo of an uncommon word. So "night" never becomes
          the artist "Nighy", nor "the night" the album "The Knight", nor "love night"
          "Love Nights".
        """
        toks = self.e_toks[e]
        m = len(toks)
        min_len = self.slot_min_len[self.e_slot[e]]
        edits = 0
        evidence = anchored = False
        short_typos = 0
        typed_known = False
        for k, n in enumerate(toks):
            q = words[s + k]
            typed_known = typed_known or q in self.df
            if q == n:
                if not self.is_common(q, common_df):
                    evidence = True
                if (n not in STOPWORDS and len(n) >= 3) or len(n) >= min_len:
                    anchored = True
                continue
            if q in STOPWORDS or len(q) > MAX_FUZZY_WORD:
                return None
            if len(n) >= min_len and n not in STOPWORDS:
                budget = edit_budget(len(n), min_len)
                anchored = True
            elif m > 1 and len(n) >= 3:
                budget = 1
                short_typos += 1
            else:
                return None
            if abs(len(q) - len(n)) > budget:
                return None
            d = OSA.distance(q, n, score_cutoff=budget)
            if d > budget:
                return None
            edits += d
            if not self.is_common(q, common_df):
                evidence = True
        if edits == 0 or not evidence or edits > name_budget(self.e_len[e]):
            return None
        if short_typos and not anchored and typed_known:
            return None
        score = 1.0 - edits / self.e_len[e]
        if m == 1:
            q = words[s]
            if q in self.df:  # a word of some catalog name is typed on purpose
                return None
            if score < 0.75 and (score < 0.7 or q[0] != toks[0][0]):
                return None
        return Candidate(e, s, s + m, edits, score)
