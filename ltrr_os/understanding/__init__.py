"""Query understanding: slots (entities with typos, years, decades), intent, query type
and language of a query, from gazetteers built out of the index itself.

See ``docs/understanding.md``.
"""

from .gazetteer import Gazetteer
from .result import QUERY_TYPES, SlotMatch, Understanding
from .typos import make_typo_queries
from .understander import NotFittedError, QueryUnderstanding

__all__ = [
    "QUERY_TYPES",
    "Gazetteer",
    "NotFittedError",
    "QueryUnderstanding",
    "SlotMatch",
    "Understanding",
    "make_typo_queries",
]
