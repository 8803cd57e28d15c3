"""The OpenSearch engine: the :class:`~ltrr_os.engines.base.Engine` contract over opensearch-py.

Client configuration (hosts, basic auth from environment variables, TLS, timeouts,
retries) comes from :class:`~ltrr_os.engines.settings.OpenSearchSettings`; see
``docs/opensearch.md``. Every opensearch-py error that a user can fix is turned into an
:class:`~ltrr_os.errors.LtrrError` with one actionable sentence; passwords never appear in
messages, logs or ``repr``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    ImproperlyConfigured,
    NotFoundError,
    SerializationError,
    SSLError,
    TransportError,
)
from opensearchpy.helpers import streaming_bulk

from ..errors import (
    ConfigError,
    DataError,
    EngineUnavailableError,
    IndexNotFoundError,
    LtrrError,
    QueryError,
)
from .base import BulkError, BulkReport, Engine, IndexInfo, ProgressCallback
from .settings import OpenSearchSettings

logger = logging.getLogger(__name__)

#: HTTP statuses the transport retries (on the next node) before giving up.
RETRY_ON_STATUS = (429, 502, 503, 504)

_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "failed to resolve",
    "no address associated",
)
_REFUSED_MARKERS = ("connection refused", "errno 111", "errno 61", "winerror 10061")
_UNREACHABLE_MARKERS = ("no route to host", "network is unreachable")
_RESET_MARKERS = ("remotedisconnected", "connection aborted", "connection reset", "bad status")
_USERINFO = re.compile(r"(?<=//)[^/@\s]+@")


# -- helpers (module level so tests and other engines can use them) ----------------------
def redact_url(url: str) -> str:
    """``url`` without its ``user:password@`` part (for messages and repr)."""
    return _USERINFO.sub("", url)


def _split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without userinfo, (user, password) or None)``."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))


def error_reason(err: Any) -> str:
    """The most specific human-readable reason in an OpenSearch ``error`` object.

    ``search_phase_execution_exception`` says only "all shards failed"; the real reason
    sits in ``failed_shards[].reason`` or ``caused_by``.
    """
    if not isinstance(err, dict):
        text = " ".join(re.sub(r"<[^>]+>", " ", str(err)).split())  # HTML error pages
        return text if len(text) <= 200 else text[:197] + "..."
    for shard in err.get("failed_shards") or []:
        if isinstance(shard, dict) and isinstance(shard.get("reason"), dict):
            return error_reason(shard["reason"])
    reason = str(err.get("reason") or err.get("type") or "unknown error")
    cause = err.get("caused_by")
    if reason == "all shards failed" and isinstance(cause, dict):
        return error_reason(cause)
    if isinstance(cause, dict) and cause.get("reason") and str(cause["reason"]) not in reason:
        reason += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return reason


def _info_error(exc: TransportError) -> Any:
    """The ``error`` object of an HTTP error response (or its short message)."""
    args = exc.args
    info = args[2] if len(args) > 2 else None
    if isinstance(info, dict) and "error" in info:
        return info["error"]
    return args[1] if len(args) > 1 else str(exc)


def _error_type(err: Any) -> str:
    if isinstance(err, dict):
        return str(err.get("type", ""))
    return str(err)


def _bucket_key(bucket: dict[str, Any]) -> str:
    if "key_as_string" in bucket:
        return str(bucket["key_as_string"])
    key = bucket["key"]
    if isinstance(key, bool):
        return str(key).lower()
    if isinstance(key, float) and math.isfinite(key) and key.is_integer():
        return str(int(key))
    return str(key)


def build_client(settings: OpenSearchSettings, **overrides: Any) -> OpenSearch:
    """An opensearch-py client configured from ``settings``.

    Credentials come from the environment variables the settings name (or, failing that,
    from ``user:password@`` in a host URL, which is then stripped from the host list so
    that no ``repr`` shows it). ``overrides`` go to :class:`~opensearchpy.OpenSearch`
    last (tests pass ``connection_class``).
    """
    hosts: list[str] = []
    url_auth: tuple[str, str] | None = None
    for raw in settings.hosts:
        clean, auth = _split_userinfo(raw)
        hosts.append(clean)
        url_auth = url_auth or auth
    auth = settings.credentials() or url_auth
    if auth is None:
        has_user = bool(os.environ.get(settings.username_env))
        has_password = bool(os.environ.get(settings.password_env))
        if has_user != has_password:
            missing = settings.password_env if has_user else settings.username_env
            logger.warning(
                "%s is not set: connecting to OpenSearch without authentication", missing
            )
    for field_name in ("ca_certs", "client_cert", "client_key"):
        path = getattr(settings, field_name)
        if path is not None and not path.expanduser().is_file():
            raise ConfigError(f"opensearch.{field_name}: no such file: {path}")
    if settings.client_key is not None and settings.client_cert is None:
        raise ConfigError("opensearch.client_key is set without opensearch.client_cert")
    kwargs: dict[str, Any] = {
        "hosts": hosts,
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "verify_certs": settings.verify_certs,
    }
    if auth is not None:
        kwargs["http_auth"] = auth
    if settings.ca_certs is not None:
        kwargs["ca_certs"] = str(settings.ca_certs.expanduser())
    if settings.client_cert is not None:
        kwargs["client_cert"] = str(settings.client_cert.expanduser())
    if settings.client_key is not None:
        kwargs["client_key"] = str(settings.client_key.expanduser())
    kwargs.update(overrides)
    try:
        return OpenSearch(**kwargs)
    except ImproperlyConfigured as exc:
        raise ConfigError(f"opensearch client settings: {exc}") from None


class OpenSearchEngine(Engine):
    """The engine contract on an OpenSearch cluster (opensearch-py).

    ``client`` replaces the one built from ``settings`` (tests, custom transports); the
    settings still name the hosts and credentials used in error messages.
    ``bulk_initial_backoff`` / ``bulk_max_backoff`` (seconds) drive the exponential
    back-off of :meth:`bulk` on 429 rejections, ``bulk_timeout`` the timeout of one bulk
    request (default ``max(settings.timeout, 60)``).
    """

    kind = "opensearch"

    def __init__(
        self,
        settings: OpenSearchSettings | None = None,
        client: OpenSearch | None = None,
        *,
        bulk_initial_backoff: float = 2.0,
        bulk_max_backoff: float = 60.0,
        bulk_timeout: float | None = None,
    ) -> None:
        self.settings = settings or OpenSearchSettings()
        self._owns_client = client is None
        self.client = client if client is not None else build_client(self.settings)
        self.bulk_initial_backoff = bulk_initial_backoff
        self.bulk_max_backoff = bulk_max_backoff
        self.bulk_timeout = bulk_timeout or max(self.settings.timeout, 60.0)
        self._hosts = ", ".join(redact_url(h) for h in self.settings.hosts)

    def __repr__(self) -> str:
        auth = "basic" if self._user() else "none"
        return f"OpenSearchEngine(hosts=[{self._hosts}], auth={auth!r})"

    # -- errors ----------------------------------------------------------------------
    def _user(self) -> str | None:
        creds = self.settings.credentials()
        if creds:
            return creds[0]
        for raw in self.settings.hosts:
            auth = _split_userinfo(raw)[1]
            if auth:
                return auth[0]
        return None

    def _scrub(self, text: str) -> str:
        """``text`` with any password we know of replaced by ``***``."""
        secrets = []
        creds = self.settings.credentials()
        if creds:
            secrets.append(creds[1])
        for raw in self.settings.hosts:
            auth = _split_userinfo(raw)[1]
            if auth and auth[1]:
                secrets.append(auth[1])
        for s in secrets:
            if s:
                text = text.replace(s, "***")
        return redact_url(text)

    def _unavailable(self, exc: TransportError, op: str) -> LtrrError:
        where = f"OpenSearch at {self._hosts}"
        retries = self.settings.max_retries
        detail = " ".join(f"{a} {a!r}" for a in exc.args if a != "N/A").lower()
        if isinstance(exc, SSLError):
            m = re.search(r"certificate verify failed:?\s*([^(')\]\"]*)", detail)
            if m:
                why = "certificate verify failed" + (
                    f" ({m.group(1).strip()})" if m.group(1).strip() else ""
                )
                hint = (
                    "set opensearch.ca_certs to the CA bundle that signed the cluster's "
                    "certificate (keep verify_certs on)"
                )
            elif "wrong version number" in detail or "record layer failure" in detail:
                why = "the server does not speak TLS on that port"
                hint = "use an http:// URL in OPENSEARCH_URL, or the cluster's TLS port"
            elif "hostname" in detail or "doesn't match" in detail:
                why = "the certificate does not match the host name"
                hint = "connect with the host name the certificate was issued for"
            else:
                why = "TLS handshake failed"
                hint = "check ca_certs, client_cert and client_key in the engine settings"
            msg = f"TLS error talking to {where}: {why}; {hint}"
        elif isinstance(exc, ConnectionTimeout):
            msg = (
                f"{where} did not answer {op} within {self.settings.timeout:g} s "
                f"({retries} retries); check the cluster health or raise "
                "opensearch.timeout in the engine settings"
            )
        elif isinstance(exc, ConnectionError):
            if any(m in detail for m in _REFUSED_MARKERS):
                msg = (
                    f"cannot reach {where}: connection refused; is it running "
                    "(`docker compose up -d`)? set OPENSEARCH_URL (or opensearch.hosts) if it "
                    "listens elsewhere"
                )
            else:
                if any(m in detail for m in _DNS_MARKERS):
                    why = "host name not found (DNS)"
                elif any(m in detail for m in _UNREACHABLE_MARKERS):
                    why = "network unreachable"
                elif any(m in detail for m in _RESET_MARKERS):
                    why = "the server closed the connection (if the cluster uses TLS, use https://)"
                else:
                    cause = exc.args[2] if len(exc.args) > 2 else None
                    why = type(cause).__name__ if cause is not None else "connection error"
                msg = (
                    f"cannot reach {where}: {why}; set OPENSEARCH_URL (or opensearch.hosts) "
                    "to the cluster's address"
                )
        elif isinstance(exc, AuthenticationException):
            user = self._user()
            sent = f"as user {user!r}" if user else "without credentials"
            msg = (
                f"{where} rejected the request {sent} (401 unauthorized); set "
                f"{self.settings.username_env} and {self.settings.password_env}"
            )
        elif isinstance(exc, AuthorizationException):
            user = self._user() or "anonymous"
            msg = (
                f"{where} denied {op} to user {user!r} (403 forbidden: "
                f"{error_reason(_info_error(exc))}); grant the user's role the index permissions"
            )
        else:
            status = exc.status_code
            tried = f" after {retries} retries" if status in RETRY_ON_STATUS else ""
            msg = (
                f"{where} answered {op} with {status} ({error_reason(_info_error(exc))})"
                f"{tried}; the cluster is overloaded or failing, check its health and try again"
            )
        return EngineUnavailableError(self._scrub(msg))

    def _translate(
        self, exc: TransportError, op: str, index: str | None, bad_request: str
    ) -> Exception:
        status = exc.status_code
        if isinstance(exc, ConnectionError | AuthenticationException | AuthorizationException):
            return self._unavailable(exc, op)
        if not isinstance(status, int):
            return exc
        if status in RETRY_ON_STATUS or status >= 500:
            return self._unavailable(exc, op)
        err = _info_error(exc)
        if isinstance(exc, NotFoundError) and _error_type(err) == "index_not_found_exception":
            name = err.get("index") if isinstance(err, dict) else None
            return IndexNotFoundError(str(name or index))
        if status == 400:
            reason = self._scrub(error_reason(err))
            where = f" on {index!r}" if index else ""
            if bad_request == "query":
                return QueryError(f"OpenSearch rejected {op}{where}: {reason}", "body")
            return ConfigError(f"OpenSearch rejected {op}{where}: {reason}")
        return exc

    @contextmanager
    def _call(
        self, op: str, index: str | None = None, bad_request: str = "config"
    ) -> Iterator[None]:
        """Translate opensearch-py errors raised inside the block."""
        try:
            yield
        except TransportError as exc:
            err = self._translate(exc, op, index, bad_request)
            if err is exc:
                raise
            raise err from exc

    # -- indices ---------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str, what: str = "index") -> None:
        if not name or any(c in name for c in "*,?") or name == "_all":
            raise ConfigError(f"invalid {what} name {name!r}: give one concrete name")

    def create_index(self, name: str, template: dict[str, Any]) -> None:
        self._check_name(name)
        with self._call("create index", name):
            try:
                self.client.indices.create(index=name, body=template)
            except TransportError as exc:
                if _error_type(_info_error(exc)) == "resource_already_exists_exception":
                    raise ConfigError(f"index or alias {name!r} already exists") from exc
                raise

    def delete_index(self, name: str) -> None:
        self._check_name(name)
        with self._call("delete index", name):
            self.client.indices.delete(index=name)

    def exists(self, name: str) -> bool:
        if not name or any(c in name for c in "*,?") or name == "_all":
            return False
        with self._call("exists", name):
            return bool(self.client.indices.exists(index=name))

    def list_indices(self) -> list[IndexInfo]:
        with self._call("list indices"):
            rows = self.client.cat.indices(format="json", h="index,docs.count")
            alias_rows = self.client.cat.aliases(format="json", h="alias,index")
        held: dict[str, list[str]] = {}
        for row in alias_rows or []:
            alias = str(row.get("alias", ""))
            if alias and not alias.startswith("."):
                held.setdefault(str(row.get("index")), []).append(alias)
        out = []
        for row in rows or []:
            name = str(row.get("index", ""))
            if not name or name.startswith("."):
                continue
            docs = row.get("docs.count")
            out.append(
                IndexInfo(
                    name,
                    int(docs) if docs not in (None, "", "null") else 0,
                    tuple(sorted(held.get(name, []))),
                )
            )
        return sorted(out, key=lambda i: i.name)

    def get_mapping(self, name: str) -> dict[str, Any]:
        with self._call("get mapping", name):
            res = self.client.indices.get_mapping(index=name)
        if not res:
            raise IndexNotFoundError(name)
        return dict(res[sorted(res)[0]].get("mappings") or {})

    # -- writing ---------------------------------------------------------------------
    def bulk(
        self,
        index: str,
        docs: Iterable[tuple[str, dict[str, Any]]],
        *,
        chunk_size: int = 1000,
        progress: ProgressCallback | None = None,
        max_errors: int = 100,
    ) -> BulkReport:
        """Index ``(id, source)`` pairs with ``streaming_bulk``.

        The index must exist (OpenSearch would otherwise auto-create it with dynamic
        mappings). Rejections with 429 are retried per document with exponential back-off
        (``settings.max_retries`` times); other per-document failures are reported with
        their position in ``docs``. ``progress`` is called once per chunk.
        """
        t0 = time.perf_counter()
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if not self.exists(index):
            raise IndexNotFoundError(index)
        report = BulkReport()
        dropped = 0
        stream = iter(docs)
        start = 0
        while True:
            chunk = list(islice(stream, chunk_size))
            if not chunk:
                break
            positions: dict[str, list[int]] = {}
            actions = []
            for pos, (doc_id, source) in enumerate(chunk, start=start):
                positions.setdefault(str(doc_id), []).append(pos)
                actions.append(
                    {"_op_type": "index", "_index": index, "_id": str(doc_id), "_source": source}
                )
            with self._call("bulk", index):
                try:
                    results = streaming_bulk(
                        self.client,
                        actions,
                        chunk_size=chunk_size,
                        raise_on_error=False,
                        raise_on_exception=True,
                        max_retries=self.settings.max_retries,
                        initial_backoff=self.bulk_initial_backoff,  # type: ignore[arg-type]
                        max_backoff=self.bulk_max_backoff,  # type: ignore[arg-type]
                        request_timeout=self.bulk_timeout,
                    )
                    for ok, item in results:
                        info = next(iter(item.values())) if item else {}
                        doc_id = str(info.get("_id", ""))
                        queue = positions.get(doc_id)
                        pos_of = queue.pop(0) if queue else None
                        if ok:
                            report.indexed += 1
                            continue
                        if len(report.errors) < max_errors:
                            report.errors.append(BulkError(doc_id, self._bulk_reason(info), pos_of))
                        else:
                            dropped += 1
                except SerializationError as exc:
                    raise DataError(
                        f"bulk into {index!r}: a document in positions {start}-"
                        f"{start + len(chunk) - 1} is not JSON-serialisable: {exc}"
                    ) from exc
            start += len(chunk)
            if progress is not None:
                progress(len(chunk))
        if dropped:
            report.errors.append(BulkError("", f"({dropped} further errors not kept)", None))
        report.seconds = time.perf_counter() - t0
        return report

    def _bulk_reason(self, info: dict[str, Any]) -> str:
        err = info.get("error")
        status = info.get("status")
        if isinstance(err, dict):
            text = f"{err.get('type', 'error')}: {error_reason(err)}"
        else:
            text = str(err or f"status {status}")
        if status == 429:
            text = f"rejected (429) after {self.settings.max_retries} retries: {text}"
        return self._scrub(text)

    def refresh(self, index: str) -> None:
        with self._call("refresh", index):
            self.client.indices.refresh(index=index)

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        with self._call("count", index, bad_request="query"):
            body = {"query": query} if query is not None else None
            return int(self.client.count(index=index, body=body)["count"])

    # -- aliases ---------------------------------------------------------------------
    def get_alias(self, alias: str) -> list[str]:
        if not alias:
            return []
        with self._call("get alias", alias):
            try:
                res = self.client.indices.get_alias(name=alias)
            except NotFoundError:
                return []
        return sorted(res or {})

    def swap_alias(self, alias: str, index: str) -> None:
        """Point ``alias`` at ``index`` only, in ONE ``_aliases`` request.

        The request removes the alias from every index currently holding it and adds it
        to ``index``; OpenSearch applies the actions atomically, so searches through the
        alias never see zero or two indices.
        """
        self._check_name(alias, "alias")
        self._check_name(index)
        current = self.get_alias(alias)
        actions: list[dict[str, Any]] = [
            {"remove": {"index": old, "alias": alias}} for old in current if old != index
        ]
        actions.append({"add": {"index": index, "alias": alias}})
        with self._call(f"alias swap {alias!r} -> {index!r}", index):
            self.client.indices.update_aliases(body={"actions": actions})

    # -- search ----------------------------------------------------------------------
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._call("search", index, bad_request="query"):
            return dict(self.client.search(index=index, body=body))

    def msearch(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """All ``requests`` in one ``_msearch``; failed ones become error items.

        OpenSearch fails a whole ``_msearch`` with 400 when one body does not even parse
        (an unknown query or parameter, opensearch-project/OpenSearch#16862); the requests
        are then sent one by one so that the bad arm does not hide the others.
        """
        if not requests:
            return []
        lines: list[dict[str, Any]] = []
        for index, body in requests:
            lines.append({"index": index})
            lines.append(body)
        try:
            res = self.client.msearch(body=lines)
        except TransportError as exc:
            if exc.status_code != 400:
                err = self._translate(exc, "msearch", None, "query")
                if err is exc:
                    raise
                raise err from exc
            if len(requests) == 1:
                return [self._item({"error": _info_error(exc), "status": 400})]
            logger.warning(
                "msearch rejected as a whole (%s); running its %d requests one by one",
                self._scrub(error_reason(_info_error(exc))),
                len(requests),
            )
            return [self._search_item(i, b) for i, b in requests]
        responses = list(res.get("responses") or [])
        if len(responses) != len(requests):
            raise EngineUnavailableError(
                f"OpenSearch at {self._hosts} answered msearch with {len(responses)} "
                f"responses for {len(requests)} requests"
            )
        return [self._item(r) for r in responses]

    def _item(self, response: dict[str, Any]) -> dict[str, Any]:
        """A search response as is (without ``status``), or a normalised error item."""
        if "error" in response:
            err = response["error"]
            error = dict(err) if isinstance(err, dict) else {"type": str(err)}
            error.setdefault("type", "error")
            error["reason"] = self._scrub(error_reason(err))
            return {"error": error, "status": int(response.get("status") or 500)}
        out = dict(response)
        out.pop("status", None)
        return out

    def _search_item(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search as an msearch item: client errors (4xx) become error items."""
        try:
            return dict(self.client.search(index=index, body=body))
        except TransportError as exc:
            status = exc.status_code
            if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 429):
                return self._item({"error": _info_error(exc), "status": status})
            err = self._translate(exc, "msearch", index, "query")
            if err is exc:
                raise
            raise err from exc

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        if not ids:
            return []
        with self._call("mget", index):
            res = self.client.mget(index=index, body={"ids": [str(i) for i in ids]})
        out: list[dict[str, Any] | None] = []
        for doc in res.get("docs") or []:
            if "error" in doc:
                err = doc["error"]
                if _error_type(err) == "index_not_found_exception":
                    raise IndexNotFoundError(index)
                raise LtrrError(
                    f"mget of {doc.get('_id')!r} in {index!r} failed: {self._scrub(error_reason(err))}"
                )
            out.append(dict(doc.get("_source") or {}) if doc.get("found") else None)
        return out

    def terms(self, index: str, field: str, size: int = 10_000) -> list[tuple[str, int]]:
        body = {"size": 0, "aggs": {"values": {"terms": {"field": field, "size": size}}}}
        try:
            with self._call(f"terms of {field!r}", index):
                res = self.client.search(index=index, body=body)
        except ConfigError as exc:
            if "text fields" in str(exc).lower() or "fielddata" in str(exc).lower():
                raise ConfigError(
                    f"terms of text field {field!r} are not available; use its keyword sub-field"
                ) from exc
            raise
        buckets = ((res.get("aggregations") or {}).get("values") or {}).get("buckets") or []
        return [(_bucket_key(b), int(b["doc_count"])) for b in buckets]

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
