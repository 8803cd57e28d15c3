"""Query understanding: slots, intent, query type and language of one query.

``QueryUnderstanding(config).fit(engine, alias)`` builds the gazetteers of the plan's
entity slots from the index (``Engine.terms``), or reloads them from a per-index cache;
``analyze(query)`` then tags a query in well under a millisecond:

1. clean (control characters -> spaces, at most ``max_chars`` characters), tokenise
   with spaCy's ``blank("en")`` tokenizer, normalise words (:func:`.text.doc_words`),
   keep the first ``max_tokens`` words;
2. intent: the longest intent prefix the query starts with (followed by more words);
3. candidates: years and decades, exact names (spaCy ``PhraseMatcher`` over the
   normalised words) and names with typos (:meth:`.Gazetteer.fuzzy_candidates`);
4. overlap resolution: longest match (in words), then best similarity, then a
   year/decade over a name of the same span, then the most popular (weight);
5. free text, query type and language.

The rules are written out in ``docs/understanding.md``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import pickle
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from ..errors import ConfigError
from ..plan.models import IntentRule, UnderstandingConfig
from .gazetteer import FORMAT_VERSION, Gazetteer
from .result import SlotMatch, Understanding
from .text import clean_text, doc_words, fold_case, guess_language, parse_decade, parse_year

if TYPE_CHECKING:
    from ..engines.base import Engine

log = logging.getLogger(__name__)

NUMERIC_KINDS = ("year", "decade")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or unpickling a gazetteer.

    Those create ~10^6 small objects (none cyclic); the collector's passes over them
    took more time than the work itself (unpickling the cache: 0.7 s -> 0.16 s).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class NotFittedError(RuntimeError):
    """``analyze`` was called before ``fit``/``fit_values`` on a config with entity slots."""


class QueryUnderstanding:
    """Tags slots, intent, query type and language of queries (scikit-learn style).

    Parameters
    ----------
    config:
        The plan's ``understanding`` section.
    cache_dir:
        Where :meth:`fit` keeps built gazetteers, one file per (index behind the alias,
        config hash). None disables the cache.
    max_tokens, max_chars:
        Work caps: only the first ``max_chars`` characters are tokenised and the first
        ``max_tokens`` words analysed (the rest stays in ``free_text``; the result says
        ``truncated``).
    topic_slots:
        Entity slots that name a topic rather than a thing (e.g. ``genre``). Default:
        entity slots with at most ``facet_max_values`` distinct values.
    common_df:
        A word found in this many catalog names (or a stop word, or a very common music
        word) is *common*: it never alone justifies a fuzzy match, and names made only
        of common words need popularity to be tagged. Default: 1 in 1,500 names, >= 5.
    anchor_max_df:
        Words in more names than this do not lead to fuzzy candidates (their names are
        still matched exactly, or through another word).
    dominant_ratio:
        Share of the non-intent words an entity slot must cover for the query to be of
        type ``entity``/``misspelled_entity``.
    """

    def __init__(
        self,
        config: UnderstandingConfig | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        max_tokens: int = 64,
        max_chars: int = 1024,
        topic_slots: Iterable[str] | None = None,
        facet_max_values: int = 100,
        common_df: int | None = None,
        anchor_max_df: int = 200,
        dominant_ratio: float = 0.5,
    ) -> None:
        if max_tokens < 1 or max_chars < 1:
            raise ConfigError("max_tokens and max_chars must be positive")
        self.config = config if config is not None else UnderstandingConfig()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_tokens = max_tokens
        self.max_chars = max_chars
        self.topic_slots = None if topic_slots is None else frozenset(topic_slots)
        self.facet_max_values = facet_max_values
        self.common_df = common_df
        self.anchor_max_df = anchor_max_df
        self.dominant_ratio = dominant_ratio
        if self.topic_slots is not None:
            unknown = self.topic_slots - set(self.config.slots)
            if unknown:
                raise ConfigError(f"topic_slots names unknown slots {sorted(unknown)}")

        self._nlp = spacy.blank("en")
        self._lock = threading.Lock()
        self._slot_order = {name: i for i, name in enumerate(self.config.slots)}
        self._entity_slots = [n for n, s in self.config.slots.items() if s.kind == "entity"]
        self._year_slots = [n for n, s in self.config.slots.items() if s.kind == "year"]
        self._decade_slots = [n for n, s in self.config.slots.items() if s.kind == "decade"]
        prefixes: list[tuple[tuple[str, ...], IntentRule]] = []
        for rule in self.config.intents:
            for toks in self.tokenize(rule.prefixes):
                if toks:
                    prefixes.append((toks, rule))
        self._intents = sorted(prefixes, key=lambda p: -len(p[0]))

        self.gazetteer_: Gazetteer | None = None
        self._matcher: PhraseMatcher | None = None
        self._topic: frozenset[str] = frozenset()
        self._common_df = 5
        self.index_: str | None = None
        self.cache_path_: Path | None = None
        self.cache_status_: str | None = None  # disabled | hit | miss | corrupt
        self.build_seconds_: float | None = None
        if not self._entity_slots:
            self._install(self._build({}))

    def __repr__(self) -> str:
        return (
            f"QueryUnderstanding(slots={list(self.config.slots)}, "
            f"fitted={self.gazetteer_ is not None}, index={self.index_!r})"
        )

    # -- fitting ---------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Normalised words of each text, exactly as queries are read."""
        with self._lock:
            return [
                tuple(w.norm for w in doc_words(doc))
                for doc in self._nlp.tokenizer.pipe([fold_case(t) for t in texts])
            ]

    def _build(self, values: Mapping[str, Iterable[tuple[Any, float]]]) -> Gazetteer:
        return Gazetteer.build(
            self.config.slots, values, self.tokenize, anchor_max_df=self.anchor_max_df
        )

    def fit_values(self, values: Mapping[str, Iterable[tuple[Any, float]]]) -> QueryUnderstanding:
        """Build the gazetteers from ``slot -> [(value, weight), ...]``.

        ``weight`` is the value's popularity (doc count): it caps the gazetteer to the
        ``max_values`` most popular values and breaks ties between matches. Slots of the
        config missing from ``values`` get an empty gazetteer; year/decade slots need no
        values (they are ignored).
        """
        unknown = set(values) - set(self.config.slots)
        if unknown:
            raise ConfigError(
                f"values given for undeclared slots {sorted(unknown)}; "
                f"slots: {sorted(self.config.slots)}"
            )
        t = time.perf_counter()
        with _gc_paused():
            self._install(self._build(values))
        self.build_seconds_ = time.perf_counter() - t
        return self

    def fit(self, engine: Engine, index: str) -> QueryUnderstanding:
        """Build the gazetteers from the index (or alias) ``index`` of ``engine``.

        Each entity slot reads ``engine.terms(index, spec.field, spec.max_values)``.
        With ``cache_dir``, the built gazetteers are stored under the name of the index
        behind the alias plus a hash of the config, and reloaded by the next ``fit`` for
        the same index version instead of reading the terms again. A cache file that
        cannot be read is rebuilt (with a logged warning).
        """
        targets = sorted(engine.get_alias(index))
        resolved = ",".join(targets) if targets else index
        source = targets[0] if len(targets) == 1 else index
        self.index_ = resolved
        path = self._cache_path(resolved) if self.cache_dir is not None else None
        self.cache_path_ = path
        status = "disabled" if path is None else "miss"
        if path is not None and path.exists():
            t = time.perf_counter()
            try:
                with _gc_paused():
                    gaz = self._read_cache(path, resolved)
            except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
                log.warning("understanding cache %s is unreadable (%s); rebuilding", path, exc)
                status = "corrupt"
            else:
                with _gc_paused():
                    self._install(gaz)
                self.build_seconds_ = time.perf_counter() - t
                self.cache_status_ = "hit"
                return self
        values = {
            name: engine.terms(source, spec.field, spec.max_values)
            for name, spec in self.config.slots.items()
            if spec.kind == "entity"
        }
        self.fit_values(values)
        self.cache_status_ = status
        if path is not None:
            try:
                self._write_cache(path, resolved)
            except OSError as exc:
                log.warning("cannot write understanding cache %s: %s", path, exc)
        return self

    def config_hash(self) -> str:
        """Hash of everything the built gazetteers depend on besides the index."""
        payload = {
            "config": self.config.model_dump(mode="json"),
            "anchor_max_df": self.anchor_max_df,
            "format": FORMAT_VERSION,
            "spacy": spacy.__version__,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _cache_path(self, resolved: str) -> Path:
        assert self.cache_dir is not None
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", resolved)[:120] or "_"
        return self.cache_dir / f"{safe}-{self.config_hash()}.gaz.pkl"

    def _read_cache(self, path: Path, resolved: str) -> Gazetteer:
        # The cache dir belongs to the user running the service (pickle trusts it).
        data = pickle.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError("not a gazetteer cache of this version")
        if data.get("index") != resolved or data.get("config_hash") != self.config_hash():
            raise ValueError("cache was written for another index or config")
        return Gazetteer(data["gazetteer"])

    def _write_cache(self, path: Path, resolved: str) -> None:
        assert self.gazetteer_ is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT_VERSION,
            "index": resolved,
            "config_hash": self.config_hash(),
            "created": time.time(),
            "gazetteer": self.gazetteer_.state(),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _install(self, gaz: Gazetteer) -> None:
        with self._lock:
            matcher = PhraseMatcher(self._nlp.vocab)
            vocab = self._nlp.vocab
            if gaz.exact:
                matcher.add("NAME", [Doc(vocab, words=list(toks)) for toks in gaz.exact])
            if self.topic_slots is not None:
                topic = set(self.topic_slots)
            else:
                topic = {s for s in gaz.slots if gaz.size_of(s) <= self.facet_max_values}
            topic.update(self._year_slots, self._decade_slots)
            self._topic = frozenset(topic)
            self._common_df = (
                self.common_df if self.common_df is not None else gaz.default_common_df()
            )
            self._matcher = matcher
            self.gazetteer_ = gaz

    @property
    def topic_slot_names(self) -> frozenset[str]:
        """Slots that make a query a ``topic`` query (facets, years, decades)."""
        return self._topic

    # -- analysis --------------------------------------------------------------------
    def analyze(self, query: str) -> Understanding:
        """Slots, intent, query type, language and free text of ``query``."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        gaz = self.gazetteer_
        matcher = self._matcher
        if gaz is None or matcher is None:
            raise NotFittedError("call fit(engine, index) or fit_values(values) first")
        truncated = len(query) > self.max_chars
        text = clean_text(query[: self.max_chars])
        with self._lock, self._nlp.memory_zone():
            words = doc_words(self._nlp.make_doc(fold_case(text)))
            if len(words) > self.max_tokens:
                truncated = True
                words = words[: self.max_tokens]
            norms = [w.norm for w in words]
            spans = (
                [(s, e) for _, s, e in matcher(Doc(self._nlp.vocab, words=norms))]
                if norms and gaz.exact
                else []
            )
        language = guess_language(text)
        if not words:
            return Understanding.empty(query, language)
        n = len(words)

        # intent: the longest prefix, when more words follow it
        intent: IntentRule | None = None
        lo = 0
        for prefix, rule in self._intents:
            k = len(prefix)
            if k < n and tuple(norms[:k]) == prefix:
                intent, lo = rule, k
                break

        # candidates: (start, end, score, numeric, weight, slot, value, variants, fuzzy)
        cands: list[tuple[int, int, float, bool, float, str, str, tuple[str, ...], bool]] = []
        if self._year_slots or self._decade_slots:
            for i in range(lo, n):
                year = parse_year(norms[i]) if self._year_slots else None
                if year is not None:
                    for slot in self._year_slots:
                        cands.append((i, i + 1, 1.0, True, 0.0, slot, str(year), (), False))
                decade = parse_decade(norms[i]) if self._decade_slots else None
                if decade is not None:
                    for slot in self._decade_slots:
                        cands.append((i, i + 1, 1.0, True, 0.0, slot, str(decade), (), False))
        slots = gaz.slots
        common_df = self._common_df
        for s, e in spans:
            if s < lo:
                continue
            for entry in gaz.exact.get(tuple(norms[s:e]), ()):
                if not gaz.exact_allowed(entry, common_df):
                    continue
                cands.append(
                    (s, e, 1.0, False, gaz.e_weight[entry], slots[gaz.e_slot[entry]],
                     gaz.e_value[entry], gaz.e_variants[entry], False)
                )  # fmt: skip
        for c in gaz.fuzzy_candidates(norms, lo, n, common_df):
            entry = c.entry
            cands.append(
                (c.start, c.end, c.score, False, gaz.e_weight[entry], slots[gaz.e_slot[entry]],
                 gaz.e_value[entry], gaz.e_variants[entry], True)
            )  # fmt: skip

        # overlap resolution: longest, best similarity, year/decade, most popular, then
        # the slot declared first in the config
        order = self._slot_order
        cands.sort(key=lambda c: (c[0] - c[1], -c[2], not c[3], -c[4], order[c[5]], c[0], c[6]))
        taken = [False] * n
        chosen = []
        for c in cands:
            if any(taken[c[0] : c[1]]):
                continue
            for i in range(c[0], c[1]):
                taken[i] = True
            chosen.append(c)
        chosen.sort(key=lambda c: c[0])

        specs = self.config.slots
        matches = tuple(
            SlotMatch(
                slot=c[5],
                value=c[6],
                surface=text[words[c[0]].start : words[c[1] - 1].end],
                start_char=words[c[0]].start,
                end_char=words[c[1] - 1].end,
                score=c[2],
                fuzzy=c[8],
                field=specs[c[5]].field,
                variants=c[7],
            )
            for c in chosen
        )

        # free text: without the stripped intent and the entity slots
        intent_cut = words[lo - 1].end if intent is not None and intent.strip else 0
        removed = [(0, intent_cut)] if intent_cut else []
        without_intent = _squeeze(text, removed)
        removed += [(words[c[0]].start, words[c[1] - 1].end) for c in chosen if not c[3]]
        free_text = _squeeze(text, removed)

        return Understanding(
            query=query,
            normalized=" ".join(norms),
            tokens=tuple(norms),
            slots=matches,
            intent=intent.name if intent is not None else None,
            query_type=self._query_type(chosen, n - lo, truncated),
            language=language,
            free_text=free_text,
            without_intent=without_intent,
            truncated=truncated,
        )

    def _query_type(self, chosen: Sequence[tuple[Any, ...]], content: int, truncated: bool) -> str:
        topic = self._topic
        entities = [c for c in chosen if c[5] not in topic]
        covered = sum(c[1] - c[0] for c in entities)
        if entities and covered >= self.dominant_ratio * content:
            return "misspelled_entity" if any(c[8] for c in entities) else "entity"
        if not entities and chosen:
            return "topic"
        if content >= self.config.long_tail_min_tokens or truncated:
            return "long_tail"
        return "free_text"


def _squeeze(text: str, removed: Sequence[tuple[int, int]]) -> str:
    """``text`` without the ``removed`` character ranges, blanks collapsed, and without
    pieces that hold no letter or digit (punctuation, emoji)."""
    if removed:
        parts = []
        pos = 0
        for a, b in sorted(removed):
            if a > pos:
                parts.append(text[pos:a])
            pos = max(pos, b)
        parts.append(text[pos:])
        text = " ".join(parts)
    return " ".join(w for w in text.split() if any(c.isalnum() for c in w))


__all__ = ["NotFittedError", "QueryUnderstanding"]
