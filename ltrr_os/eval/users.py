"""Simulated users of a music catalog: information needs, queries, contexts and clicks.

A pool of information needs is drawn from the catalog (popular tracks more often) and
searched with Zipf-distributed frequency, like a real log's head, torso and tail. Each
need has an intent that decides its query text and what counts as relevant:

=================  ===========================================  =========================
intent             query                                        relevant
=================  ===========================================  =========================
title              the track title                              that track (any version)
artist_title_typo  the artist with 1-2 typos + 1-3 title words  that track
partial_title      2 consecutive words of a longer title        that track
title_typo         the title with a typo in one word            that track
artist             the artist name                              the artist's top 3 tracks
genre_decade       "80s rock", "rock 1980s"...                  that slice's top 20 tracks
=================  ===========================================  =========================

Context correlates with the intents: typo-laden needs come mostly from mobile devices,
so a policy can learn from ``device`` what understanding cannot see (a typo in a title
word is no slot). Clicks follow a position-based model with noise clicks.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

INTENTS = ("title", "artist_title_typo", "partial_title", "title_typo", "artist", "genre_decade")
#: share of each intent among needs
INTENT_MIX = (0.22, 0.2, 0.14, 0.14, 0.18, 0.12)
TYPO_INTENTS = frozenset({"artist_title_typo", "title_typo"})
#: examination probability of positions 1..10 (position-based click model)
EXAMINATION = (1.0, 0.8, 0.66, 0.56, 0.48, 0.42, 0.37, 0.33, 0.3, 0.27)


@dataclass(frozen=True)
class Need:
    query: str
    intent: str
    relevant: frozenset[str]
    mobile_share: float  # probability that a search for this need comes from mobile


def typo(word: str, rng: np.random.Generator, edits: int = 1) -> str:
    """Apply ``edits`` random character edits, never to the first character."""
    w = list(word)
    for _ in range(edits):
        if len(w) < 3:
            break
        i = int(rng.integers(1, len(w)))
        op = int(rng.integers(4))
        letter = string.ascii_lowercase[int(rng.integers(26))]
        if op == 0:
            w[i] = letter
        elif op == 1 and len(w) > 3:
            del w[i]
        elif op == 2:
            w.insert(i, letter)
        elif i < len(w) - 1:
            w[i], w[i + 1] = w[i + 1], w[i]
        else:
            w[i] = letter
    return "".join(w)


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() or c == "'" else " " for c in text.lower()).split()]


class UserModel:
    """Draws needs from a catalog and searches for them with realistic frequencies."""

    def __init__(
        self,
        docs: Sequence[dict[str, Any]],
        *,
        n_needs: int = 4000,
        seed: int = 0,
        zipf_a: float = 1.05,
        intent_mix: Sequence[float] = INTENT_MIX,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.docs = [d for d in docs if d.get("title") and d.get("artist")]
        if not self.docs:
            raise ValueError("the catalog has no tracks with a title and an artist")
        self._index()
        self.needs = self._make_needs(n_needs, np.asarray(intent_mix) / np.sum(intent_mix))
        ranks = np.arange(1, len(self.needs) + 1, dtype=float)
        w = ranks**-zipf_a
        self.weights = w / w.sum()

    def _index(self) -> None:
        self.by_title_artist: dict[tuple[str, str], set[str]] = defaultdict(set)
        by_artist: dict[str, list[dict[str, Any]]] = defaultdict(list)
        by_slice: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for d in self.docs:
            self.by_title_artist[(d["title"].lower(), d["artist"].lower())].add(d["track_id"])
            by_artist[d["artist"]].append(d)
            genres = d.get("genre") or []
            for g in genres if isinstance(genres, list) else [genres]:
                if d.get("decade"):
                    by_slice[(g, int(d["decade"]))].append(d)
        pop = lambda d: -(d.get("popularity") or 0)  # noqa: E731
        self.artist_top = {
            a: [d["track_id"] for d in sorted(ds, key=pop)[:3]] for a, ds in by_artist.items()
        }
        self.slice_top = {k: [d["track_id"] for d in sorted(ds, key=pop)[:20]]
                          for k, ds in by_slice.items() if len(ds) >= 20}  # fmt: skip
        p = np.array([(d.get("popularity") or 0) + 1.0 for d in self.docs])
        self.doc_p = p / p.sum()

    def _same_track(self, d: dict[str, Any]) -> frozenset[str]:
        return frozenset(self.by_title_artist[(d["title"].lower(), d["artist"].lower())])

    def _make_needs(self, n: int, mix: np.ndarray) -> list[Need]:
        needs: list[Need] = []
        seen: set[str] = set()
        slices = sorted(self.slice_top)
        tries = 0
        while len(needs) < n and tries < n * 20:
            tries += 1
            intent = INTENTS[int(self.rng.choice(len(INTENTS), p=mix))]
            d = self.docs[int(self.rng.choice(len(self.docs), p=self.doc_p))]
            need = self._need(intent, d, slices)
            if need is None or need.query in seen or not need.query.strip():
                continue
            seen.add(need.query)
            needs.append(need)
        return needs

    def _need(self, intent: str, d: dict[str, Any], slices: list[tuple[str, int]]) -> Need | None:
        rng = self.rng
        title_words = _words(d["title"])
        artist = d["artist"].lower()
        mobile = 0.8 if intent in TYPO_INTENTS else 0.35
        if intent == "title":
            return Need(d["title"].lower(), intent, self._same_track(d), mobile)
        if intent == "artist_title_typo":
            aw = _words(artist)
            long = [i for i, w in enumerate(aw) if len(w) >= 4]
            if not long or not title_words:
                return None
            for i in long[: int(rng.integers(1, 3))]:
                aw[i] = typo(aw[i], rng, edits=1 if len(aw[i]) < 6 else int(rng.integers(1, 3)))
            k = int(rng.integers(1, min(3, len(title_words)) + 1))
            return Need(" ".join(aw + title_words[:k]), intent, self._same_track(d), mobile)
        if intent == "partial_title":
            if len(title_words) < 3:
                return None
            i = int(rng.integers(0, len(title_words) - 1))
            return Need(" ".join(title_words[i : i + 2]), intent, self._same_track(d), mobile)
        if intent == "title_typo":
            long = [i for i, w in enumerate(title_words) if len(w) >= 4]
            if not long:
                return None
            i = long[int(rng.integers(len(long)))]
            words = list(title_words)
            words[i] = typo(words[i], rng)
            return Need(" ".join(words), intent, self._same_track(d), mobile)
        if intent == "artist":
            return Need(artist, intent, frozenset(self.artist_top[d["artist"]]), mobile)
        if not slices:
            return None
        genre, decade = slices[int(rng.integers(len(slices)))]
        form = int(rng.integers(3))
        q = (
            f"{decade % 100:02d}s {genre}",
            f"{genre} {decade}s",
            f"{genre} from the {decade % 100:02d}s",
        )[form]
        return Need(q, "genre_decade", frozenset(self.slice_top[(genre, decade)]), mobile)

    def sample(self, rng: np.random.Generator) -> tuple[Need, dict[str, Any]]:
        """One search: a need (head needs more often) and the searcher's context."""
        need = self.needs[int(rng.choice(len(self.needs), p=self.weights))]
        device = "mobile" if rng.random() < need.mobile_share else "desktop"
        hour = int(rng.integers(24))
        return need, {"device": device, "hour": hour, "weekend": bool(rng.random() < 2 / 7)}


def clicks(shown: Sequence[str], relevant: frozenset[str], rng: np.random.Generator,
           attract: float = 0.9, noise: float = 0.02) -> list[str]:  # fmt: skip
    """Position-based model: examine position p with EXAMINATION[p], click if attracted."""
    out = []
    for p, item in enumerate(shown[: len(EXAMINATION)]):
        if rng.random() < EXAMINATION[p] and rng.random() < (
            attract if item in relevant else noise
        ):
            out.append(item)
    return out
