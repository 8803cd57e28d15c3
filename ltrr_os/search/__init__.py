"""Searching with a plan: :class:`Searcher`, results and traces."""

from .result import ArmHit, ArmTrace, Hit, SearchResult, Trace
from .searcher import Searcher, clean_query

__all__ = ["ArmHit", "ArmTrace", "Hit", "SearchResult", "Searcher", "Trace", "clean_query"]
