"""Exceptions of ltrr-os.

Every error a *user* can cause (bad YAML, bad data, unknown field, unsupported DSL) is a
:class:`LtrrError` subclass with a message that names the file, line, row, field or DSL
path involved. The CLI prints those as one line and exits non-zero; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class LtrrError(Exception):
    """Base class for errors caused by input, configuration or environment."""

    exit_code = 2


class ConfigError(LtrrError):
    """A plan, template or setting is invalid (names the file/line/field)."""


class DataError(LtrrError):
    """Input data (CSV/JSONL rows, documents, events) was rejected."""

    exit_code = 3


class UnsupportedQueryError(LtrrError):
    """The embedded engine met DSL outside its supported subset.

    ``path`` is where in the request body, e.g. ``query.bool.should[2]``.
    """

    def __init__(self, construct: str, path: str, hint: str = "") -> None:
        self.construct = construct
        self.path = path
        msg = f"unsupported query {construct!r} at {path}"
        if hint:
            msg += f": {hint}"
        super().__init__(msg)


class QueryError(LtrrError):
    """A DSL body is malformed (wrong type, missing parameter) at ``path``."""

    def __init__(self, message: str, path: str) -> None:
        self.path = path
        super().__init__(f"{message} at {path}")


class IndexNotFoundError(LtrrError):
    """An index or alias does not exist."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no such index or alias: {name!r} (see `ltrr index list`)")


class EngineUnavailableError(LtrrError):
    """The search engine cannot be reached (connection refused, DNS, TLS, auth)."""

    exit_code = 4
