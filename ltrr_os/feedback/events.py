"""Engagement events: one JSON object per line, validated with a line number.

    {"event_id": "e1", "search_id": "5f0c...", "type": "click", "item_id": "t042",
     "rank": 3, "ts": "2026-11-24T10:15:00Z"}

``type`` is ``impression``, ``click``, ``play`` or ``purchase``; ``dwell_s`` may qualify a
click or play. ``ts`` is ISO 8601 or epoch seconds. ``event_id`` makes ingestion
idempotent: an event seen before is counted as a duplicate and ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

EVENT_TYPES = ("impression", "click", "play", "purchase")


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=200)
    search_id: str = Field(min_length=1, max_length=200)
    type: Literal["impression", "click", "play", "purchase"]
    #: the engaged document; ``doc_id`` is accepted as another name for it
    item_id: str | None = Field(
        None, max_length=1000, validation_alias=AliasChoices("item_id", "doc_id")
    )
    rank: int | None = Field(None, ge=1)
    dwell_s: float | None = Field(None, ge=0)
    ts: float = Field(description="Epoch seconds (ISO 8601 accepted on input).")

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, v: object) -> float:
        if isinstance(v, bool):
            raise ValueError("must be a timestamp")
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, str):
            try:
                d = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"not an ISO 8601 timestamp: {v!r}") from None
            if d.tzinfo is None:
                d = d.replace(tzinfo=timezone.utc)
            return d.timestamp()
        raise ValueError("must be ISO 8601 text or epoch seconds")

    @field_validator("item_id", mode="before")
    @classmethod
    def _item(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _needs_item(self) -> Event:
        if self.type != "impression" and not self.item_id:
            raise ValueError(f"a {self.type} event needs an item_id")
        return self

    def to_reward_event(self) -> dict[str, object]:
        """The shape :func:`ltrr_os.feedback.rewards.attribute` reads."""
        return {"type": self.type, "item_id": self.item_id, "dwell_s": self.dwell_s}


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def read_events(path: str | Path) -> Iterator[tuple[int, Event | str]]:
    """``(line, Event)`` for each valid line, ``(line, "why")`` for each invalid one.

    A bad line never stops the read: training must not crash on one malformed event.
    """
    path = Path(path)
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            try:  # parse and validate in one pass (pydantic-core, no Python json objects)
                yield n, Event.model_validate_json(line)
            except ValidationError as exc:
                kind = exc.errors()[0]["type"]
                if kind == "json_invalid":
                    yield n, f"invalid JSON ({exc.errors()[0]['msg']})"
                elif kind == "model_type":
                    yield n, "an event must be a JSON object"
                else:
                    yield n, _explain(exc)
