"""Feedback: engagement events, durable logs, batch ingestion and reward attribution."""

from .events import EVENT_TYPES, Event, read_events
from .ingest import IngestReport, ingest
from .log import EventLog, JsonlLog, SearchLog
from .rewards import attribute, engagement

__all__ = [
    "EVENT_TYPES", "Event", "EventLog", "IngestReport", "JsonlLog", "SearchLog", "attribute",
    "engagement", "ingest", "read_events",
]  # fmt: skip
