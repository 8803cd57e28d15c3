"""Seeded misspelled queries from a catalog, to measure typo-tolerant slot tagging.

Each query is an artist name with one or two character edits (substitution, deletion,
insertion, transposition of adjacent letters) followed by one to three words of one of
the artist's track titles, e.g. ``"tayler swfit love story"``. Used by
``benchmarks/bench_understanding.py`` and the tests.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from typing import Any

from rapidfuzz.distance import OSA

_LETTERS = string.ascii_lowercase
_STRIP = string.punctuation + "“”‘’«»¿¡"


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def title_words(title: str) -> list[str]:
    """Lower-cased words of a title before any `` - ``, ``(`` or ``[`` (remix, feat.)."""
    head = title
    for sep in (" - ", "(", "["):
        cut = head.find(sep)
        if cut > 0:
            head = head[:cut]
    words = (w.strip(_STRIP) for w in head.casefold().split())
    return [w for w in words if any(c.isalnum() for c in w)]


def auto_edits(length: int) -> int:
    """Edits OpenSearch's ``fuzziness: AUTO`` tolerates in a word of ``length`` letters."""
    return 0 if length < 3 else 1 if length <= 5 else 2


def misspell(name: str, edits: int, rng: random.Random, *, keep_first: bool) -> str | None:
    """``name`` with ``edits`` random letter edits (None if they cannot be placed).

    Edits touch letters only (never spaces, digits or punctuation), at most
    :func:`auto_edits` per word (so none in words of one or two letters, one in words of
    three to five), and with ``keep_first`` never the first character of the name.
    """
    chars = list(name)
    word_of: list[int] = []  # index of the word each character belongs to (-1: blank)
    w = -1
    for i, c in enumerate(chars):
        if c.isspace():
            word_of.append(-1)
        else:
            if i == 0 or chars[i - 1].isspace():
                w += 1
            word_of.append(w)
    sizes = [0] * (w + 1)
    for i, c in enumerate(chars):
        if c.isalpha():
            sizes[word_of[i]] += 1
    spent = [0] * (w + 1)
    done = 0
    for _ in range(20 * edits):
        if done == edits:
            break
        letters = [
            i
            for i, c in enumerate(chars)
            if c.isalpha()
            and (i > 0 or not keep_first)
            and spent[word_of[i]] < auto_edits(sizes[word_of[i]])
        ]
        if not letters:
            return None
        op = rng.choice(("substitute", "delete", "insert", "transpose"))
        i = rng.choice(letters)
        wi = word_of[i]
        if op == "substitute":
            chars[i] = rng.choice([c for c in _LETTERS if c != chars[i]])
        elif op == "delete":
            del chars[i]
            del word_of[i]
        elif op == "insert":
            chars.insert(i, rng.choice(_LETTERS))
            word_of.insert(i, word_of[i])
        else:
            j = i + 1
            if j >= len(chars) or word_of[j] != word_of[i] or not chars[j].isalpha():
                continue
            if chars[j] == chars[i]:
                continue
            chars[i], chars[j] = chars[j], chars[i]
        spent[wi] += 1
        done += 1
    return "".join(chars) if done == edits else None


def make_typo_queries(
    docs: Iterable[Mapping[str, Any]],
    n: int = 200,
    seed: int = 0,
    *,
    min_name_length: int = 5,
    max_title_words: int = 3,
) -> list[dict[str, Any]]:
    """``n`` misspelled queries ``{"query", "artist", "track_id", "title", ...}``.

    Tracks are drawn uniformly (so artists with more tracks come up more often, as in
    real traffic), at most one query per track. The artist name, lower-cased, gets one
    or two edits (:func:`misspell`); every other query keeps its first character
    intact (half of them); a misspelling that equals the name itself or another
    artist's name is drawn again. Artists with fewer than ``min_name_length`` letters
    and digits are skipped: such short names only ever match exactly (the slot's
    ``min_fuzzy_length``), so a typo in them measures nothing. Extra keys: ``typo``
    (the misspelled name), ``edits`` (its OSA distance to the name) and ``keep_first``.
    """
    docs = list(docs)
    keys = {_key(str(d.get("artist") or "")) for d in docs}
    rng = random.Random(seed)
    eligible = []
    for d in docs:
        artist = str(d.get("artist") or "").strip()
        if artist in ("", "NA") or sum(c.isalnum() for c in artist) < min_name_length:
            continue
        if not title_words(str(d.get("title") or "")):
            continue
        eligible.append(d)
    rng.shuffle(eligible)
    out: list[dict[str, Any]] = []
    for d in eligible:
        if len(out) >= n:
            break
        name = " ".join(str(d["artist"]).casefold().split())
        keep_first = len(out) % 2 == 0
        typo = None
        for _ in range(10):
            t = misspell(name, rng.choice((1, 2)), rng, keep_first=keep_first)
            if t is not None and _key(t) not in keys and 1 <= OSA.distance(name, t) <= 2:
                typo = t
                break
        if typo is None:
            continue
        words = title_words(str(d["title"]))
        k = rng.randint(1, min(max_title_words, len(words)))
        out.append(
            {
                "query": f"{typo} {' '.join(words[:k])}",
                "artist": str(d["artist"]),
                "track_id": str(d.get("track_id", "")),
                "title": str(d["title"]),
                "typo": typo,
                "edits": OSA.distance(name, typo),
                "keep_first": keep_first,
            }
        )
    return out
