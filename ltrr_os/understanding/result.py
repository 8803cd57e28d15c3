"""What query understanding returns: the slots tagged in a query and how it was classified.

Both classes are frozen (hashable where their contents are) and JSON-ready through
``to_dict()``, which is what search traces and ``ltrr plan explain`` show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Every ``Understanding.query_type``, in the order of the rules that assign them
#: (see ``docs/understanding.md``).
QUERY_TYPES: tuple[str, ...] = (
    "empty",
    "entity",
    "misspelled_entity",
    "topic",
    "long_tail",
    "free_text",
)


@dataclass(frozen=True)
class SlotMatch:
    """One slot tagged in a query.

    ``value`` is the canonical catalog value (e.g. the exact ``artist.keyword`` string,
    or ``"1980"`` for a decade); ``surface`` is the query text it was read from, at
    ``query[start_char:end_char]``. ``score`` is the similarity in [0, 1]:
    ``1 - edits / len(name)`` for fuzzy matches, 1.0 for exact ones. ``variants`` are
    other catalog values that normalise to the same name (``"DJ Snake"`` and
    ``"Dj Snake"``), so a filter on the slot can list them all.
    """

    slot: str
    value: str
    surface: str
    start_char: int
    end_char: int
    score: float
    fuzzy: bool
    field: str
    variants: tuple[str, ...] = ()

    def values(self) -> list[str]:
        """``value`` followed by its ``variants``."""
        return [self.value, *self.variants]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slot": self.slot,
            "value": self.value,
            "surface": self.surface,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "score": round(self.score, 4),
            "fuzzy": self.fuzzy,
            "field": self.field,
        }
        if self.variants:
            out["variants"] = list(self.variants)
        return out


@dataclass(frozen=True)
class Understanding:
    """The analysis of one query.

    - ``tokens``: the normalised word tokens that were analysed (lower-cased, accents
      and punctuation removed, at most ``max_tokens`` of them).
    - ``normalized``: those tokens joined by single spaces.
    - ``slots``: tagged slots in query order.
    - ``intent``: the name of the intent whose prefix starts the query, or None.
    - ``query_type``: one of :data:`QUERY_TYPES`.
    - ``language``: an ISO 639-1 code guessed cheaply, or ``"und"``.
    - ``free_text``: the query minus the (stripped) intent prefix and minus the text of
      entity slots: the words a structured search still has to match in other fields.
    - ``without_intent``: the query minus the (stripped) intent prefix only.
    - ``truncated``: the query was longer than what was analysed (characters or tokens).
    """

    query: str
    normalized: str
    tokens: tuple[str, ...]
    slots: tuple[SlotMatch, ...]
    intent: str | None
    query_type: str
    language: str
    free_text: str
    without_intent: str = ""
    truncated: bool = False

    @classmethod
    def empty(cls, query: str = "", language: str = "und") -> Understanding:
        """The analysis of a query without any word (empty, blanks, punctuation, emoji)."""
        return cls(query, "", (), (), None, "empty", language, "", "", False)

    def slot_values(self, name: str) -> list[str]:
        """Values of slot ``name`` in query order (with variants), without duplicates."""
        out: list[str] = []
        for s in self.slots:
            if s.slot == name:
                for v in s.values():
                    if v not in out:
                        out.append(v)
        return out

    def has_slot(self, name: str) -> bool:
        return any(s.slot == name for s in self.slots)

    def slots_of(self, name: str) -> list[SlotMatch]:
        return [s for s in self.slots if s.slot == name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "normalized": self.normalized,
            "tokens": list(self.tokens),
            "slots": [s.to_dict() for s in self.slots],
            "intent": self.intent,
            "query_type": self.query_type,
            "language": self.language,
            "free_text": self.free_text,
            "without_intent": self.without_intent,
            "truncated": self.truncated,
        }
