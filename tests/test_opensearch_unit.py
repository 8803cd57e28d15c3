"""Unit tests of OpenSearchEngine without any server.

A ``Urllib3HttpConnection`` subclass answers from a script (so auth headers, TLS options
and the transport's retry logic are the real opensearch-py code), and one test talks to a
closed local port to get a real "connection refused".
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import Urllib3HttpConnection
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, SSLError

from ltrr_os.engines.opensearch import OpenSearchEngine, build_client, error_reason, redact_url
from ltrr_os.engines.settings import OpenSearchSettings
from ltrr_os.errors import ConfigError, EngineUnavailableError, IndexNotFoundError, QueryError

PASSWORD = "s3cr3t-Pa55w0rd"

Handler = Callable[[str, str, dict[str, Any], Any], tuple[int, Any]]


class ScriptedConnection(Urllib3HttpConnection):
    """The real urllib3 connection class, except that requests are answered by ``handler``.

    ``handler(method, path, params, body)`` returns ``(status, json_body)`` or raises; every
    request is appended to ``log`` with its headers.
    """

    def __init__(self, handler: Handler, log: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handler = handler
        self.log = log

    def perform_request(
        self,
        method: str,
        url: str,
        params: Any = None,
        body: Any = None,
        timeout: Any = None,
        ignore: Any = (),
        headers: Any = None,
    ) -> Any:
        text = body.decode() if isinstance(body, bytes) else body
        if text and "\n" in text.strip():
            parsed: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            parsed = json.loads(text) if text else None
        sent = {**self.headers, **(headers or {})}
        self.log.append(
            {
                "method": method,
                "path": url,
                "params": dict(params or {}),
                "body": parsed,
                "headers": sent,
                "timeout": timeout,
            }
        )
        status, payload = self.handler(method, url, dict(params or {}), parsed)
        raw = json.dumps(payload)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, raw, "application/json")
        return status, {"content-type": "application/json"}, raw


def make_engine(
    handler: Handler,
    *,
    settings: OpenSearchSettings | None = None,
    **engine_kwargs: Any,
) -> tuple[OpenSearchEngine, list[dict[str, Any]]]:
    settings = settings or OpenSearchSettings(hosts=["http://os.test:9200"], max_retries=2)
    log: list[dict[str, Any]] = []
    client = build_client(settings, connection_class=ScriptedConnection, handler=handler, log=log)
    engine = OpenSearchEngine(settings, client, bulk_initial_backoff=0.01, **engine_kwargs)
    return engine, log


def raiser(exc: Exception) -> Handler:
    def handler(*_: Any) -> tuple[int, Any]:
        raise exc

    return handler


def os_error(status: int, etype: str, reason: str, **extra: Any) -> dict[str, Any]:
    err = {"type": etype, "reason": reason, "root_cause": [{"type": etype, "reason": reason}]}
    err.update(extra)
    return {"error": err, "status": status}


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSEARCH_USERNAME", "ltrr")
    monkeypatch.setenv("OPENSEARCH_PASSWORD", PASSWORD)


def _wrapped(cls: type[Exception], text: str) -> Exception:
    """How opensearch-py raises network errors: ``cls("N/A", str(cause), cause)``."""
    return cls("TIMEOUT" if cls is ConnectionTimeout else "N/A", text, OSError(text))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- connection errors ---------------------------------------------------------------------
def test_connection_refused_names_the_host_and_hides_the_password(
    creds: None, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    settings = OpenSearchSettings(hosts=[f"http://127.0.0.1:{port}"], max_retries=1, timeout=2)
    engine = OpenSearchEngine(settings)
    with caplog.at_level(logging.DEBUG), pytest.raises(EngineUnavailableError) as info:
        engine.count("songs")
    msg = str(info.value)
    assert msg.startswith(f"cannot reach OpenSearch at http://127.0.0.1:{port}: connection refused")
    assert "docker compose up -d" in msg and "OPENSEARCH_URL" in msg
    assert info.value.exit_code == 4
    for text in (msg, repr(info.value), repr(engine), caplog.text):
        assert PASSWORD not in text
    with pytest.raises(EngineUnavailableError, match="connection refused"):
        engine.msearch([("songs", {"query": {"match_all": {}}})])


def test_password_in_the_url_is_moved_out_of_the_host_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENSEARCH_USERNAME", raising=False)
    monkeypatch.delenv("OPENSEARCH_PASSWORD", raising=False)
    port = _closed_port()
    settings = OpenSearchSettings(hosts=[f"http://bob:{PASSWORD}@127.0.0.1:{port}"], max_retries=0)
    engine = OpenSearchEngine(settings)
    assert PASSWORD not in repr(engine) and PASSWORD not in repr(engine.client)
    assert "basic" in repr(engine)
    with pytest.raises(EngineUnavailableError) as info:
        engine.exists("songs")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert PASSWORD not in str(info.value) and "bob:" not in str(info.value)
    assert redact_url(f"https://bob:{PASSWORD}@h:9200/x") == "https://h:9200/x"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            OSConnectionError(
                "N/A", "Failed to resolve 'os.test' ([Errno -2] Name or service not known)"
            ),
            "host name not found (DNS)",
        ),
        (
            SSLError(
                "N/A",
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                "certificate in certificate chain (_ssl.c:1006)",
            ),
            "ca_certs",
        ),
        (SSLError("N/A", "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "http://"),
        (ConnectionTimeout("TIMEOUT", "Read timed out. (read timeout=10)"), "did not answer"),
        (OSConnectionError("N/A", "('Connection aborted.', RemoteDisconnected())"), "https://"),
    ],
)
def test_network_failures_become_one_actionable_sentence(exc: Exception, expected: str) -> None:
    engine, log = make_engine(raiser(exc))
    with pytest.raises(EngineUnavailableError) as info:
        engine.search("songs", {"query": {"match_all": {}}})
    assert expected in str(info.value)
    assert "os.test:9200" in str(info.value)
    assert "\n" not in str(info.value)
    assert len(log) == 3  # the transport retried twice (max_retries=2)


def test_auth_comes_from_the_named_env_vars_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_OS_USER", "svc-search")
    monkeypatch.setenv("MY_OS_PASS", PASSWORD)
    settings = OpenSearchSettings(
        hosts=["http://os.test:9200"], username_env="MY_OS_USER", password_env="MY_OS_PASS"
    )
    engine, log = make_engine(lambda *a: (200, {"count": 7}), settings=settings)
    assert engine.count("songs") == 7
    token = base64.b64encode(f"svc-search:{PASSWORD}".encode()).decode()
    assert log[0]["headers"]["authorization"] == f"Basic {token}"
    assert PASSWORD not in repr(engine) and PASSWORD not in repr(engine.client)
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.model_dump_json()

    monkeypatch.delenv("MY_OS_PASS")
    anonymous, log2 = make_engine(lambda *a: (200, {"count": 1}), settings=settings)
    anonymous.count("songs")
    assert "authorization" not in log2[0]["headers"]


def test_401_says_which_env_vars_to_set(creds: None) -> None:
    reject = os_error(401, "security_exception", "Unauthorized")
    engine, log = make_engine(lambda *a: (401, reject))
    with pytest.raises(EngineUnavailableError) as info:
        engine.search("songs", {"query": {"match_all": {}}})
    msg = str(info.value)
    assert "401" in msg and "'ltrr'" in msg
    assert "OPENSEARCH_USERNAME" in msg and "OPENSEARCH_PASSWORD" in msg
    assert PASSWORD not in msg
    assert len(log) == 1  # 401 is not retried

    forbid = os_error(403, "security_exception", "no permissions for [indices:data/read/search]")
    engine, _ = make_engine(lambda *a: (403, forbid))
    with pytest.raises(EngineUnavailableError, match="403 forbidden: no permissions"):
        engine.msearch([("songs", {})])


def test_tls_settings_reach_the_connection_pool(tmp_path: Path, creds: None) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "client.pem", "client.key"))
    for f in (ca, cert, key):
        f.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = OpenSearchSettings(
        hosts=["https://os.test:9200"], ca_certs=ca, client_cert=cert, client_key=key, timeout=7
    )
    client = build_client(settings)
    conn = client.transport.connection_pool.connections[0]
    assert conn.use_ssl
    assert conn.pool.cert_reqs == "CERT_REQUIRED"  # verify_certs is on by default
    assert (conn.pool.ca_certs, conn.pool.cert_file, conn.pool.key_file) == (
        str(ca),
        str(cert),
        str(key),
    )
    assert conn.timeout == 7
    transport = client.transport
    assert transport.max_retries == 3
    assert tuple(transport.retry_on_status) == (429, 502, 503, 504)
    assert transport.retry_on_timeout is True

    with pytest.raises(ConfigError, match="ca_certs: no such file"):
        build_client(settings.model_copy(update={"ca_certs": tmp_path / "missing.pem"}))
    with pytest.raises(ConfigError, match="client_key is set without"):
        build_client(settings.model_copy(update={"client_cert": None}))


# -- retries -------------------------------------------------------------------------------
def _bulk_ok(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "took": 1,
        "errors": False,
        "items": [{"index": {"_id": d["index"]["_id"], "status": 201}} for d in docs[::2]],
    }


def test_bulk_retries_rejected_documents_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("opensearchpy.helpers.actions.time.sleep", sleeps.append)
    calls: list[list[str]] = []

    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if method == "HEAD":
            return 200, {}
        ids = [line["index"]["_id"] for line in body[::2]]
        calls.append(ids)
        if len(calls) == 1:  # the node's write queue is full for "b"
            items = [
                {"index": {"_id": "a", "status": 201}},
                {
                    "index": {
                        "_id": "b",
                        "status": 429,
                        "error": {"type": "rejected_execution_exception", "reason": "queue full"},
                    }
                },
                {"index": {"_id": "c", "status": 201}},
            ]
            return 200, {"took": 1, "errors": True, "items": items}
        return 200, _bulk_ok(body)

    engine, _ = make_engine(handler)
    docs = [(i, {"title": i}) for i in "abc"]
    report = engine.bulk("songs", docs)
    assert report.ok and report.indexed == 3
    assert calls == [["a", "b", "c"], ["b"]]
    assert sleeps == [0.01]


def test_bulk_backs_off_when_the_whole_request_gets_429(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("opensearchpy.helpers.actions.time.sleep", sleeps.append)
    bulk_calls = []
    rejected = os_error(429, "rejected_execution_exception", "rejected execution of bulk")

    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if method == "HEAD":
            return 200, {}
        bulk_calls.append(path)
        # each round is 3 calls (the transport retries twice at once, no sleep); then
        # streaming_bulk sleeps (0.01 s, 0.02 s) and starts another round
        return (429, rejected) if len(bulk_calls) <= 6 else (200, _bulk_ok(body))

    engine, _ = make_engine(handler)
    report = engine.bulk("songs", [("a", {"t": 1}), ("b", {"t": 2})])
    assert report.ok and report.indexed == 2
    assert len(bulk_calls) == 7
    assert sleeps == [0.01, 0.02]


def test_bulk_gives_up_with_a_readable_error_after_the_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("opensearchpy.helpers.actions.time.sleep", lambda s: None)
    rejected = os_error(429, "rejected_execution_exception", "rejected execution of bulk")

    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        return (200, {}) if method == "HEAD" else (429, rejected)

    engine, _ = make_engine(handler)
    with pytest.raises(EngineUnavailableError, match="answered bulk with 429 .* after 2 retries"):
        engine.bulk("songs", [("a", {"t": 1})])


def test_bulk_positions_progress_and_error_cap() -> None:
    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if method == "HEAD":
            return 200, {}
        items = []
        for action, src in zip(body[::2], body[1::2], strict=True):
            doc_id = action["index"]["_id"]
            if src.get("bad"):
                err = {"type": "mapper_parsing_exception", "reason": f"failed to parse [{doc_id}]"}
                items.append({"index": {"_id": doc_id, "status": 400, "error": err}})
            else:
                items.append({"index": {"_id": doc_id, "status": 201}})
        return 200, {"took": 1, "errors": True, "items": items}

    engine, log = make_engine(handler)
    docs = [(f"d{i}", {"bad": i % 3 == 0}) for i in range(10)]  # bad: 0, 3, 6, 9
    progress: list[int] = []
    report = engine.bulk("songs", docs, chunk_size=4, progress=progress.append, max_errors=3)
    assert progress == [4, 4, 2]
    assert report.indexed == 6
    assert [(e.doc_id, e.position) for e in report.errors[:3]] == [("d0", 0), ("d3", 3), ("d6", 6)]
    assert report.errors[0].reason == "mapper_parsing_exception: failed to parse [d0]"
    assert report.errors[3].reason == "(1 further errors not kept)"
    assert [len(c["body"]) // 2 for c in log if c["method"] == "POST"] == [4, 4, 2]
    assert all(c["timeout"] == 60.0 for c in log if c["method"] == "POST")


def test_bulk_into_a_missing_index_is_refused() -> None:
    engine, log = make_engine(lambda m, *a: (404, {}) if m == "HEAD" else (200, {}))
    with pytest.raises(IndexNotFoundError, match="songs"):
        engine.bulk("songs", [("a", {})])
    assert [c["method"] for c in log] == ["HEAD"]


# -- msearch ---------------------------------------------------------------------------------
def _hits(*ids: str) -> dict[str, Any]:
    return {
        "took": 1,
        "hits": {
            "total": {"value": len(ids), "relation": "eq"},
            "hits": [{"_id": i, "_score": 1.0} for i in ids],
        },
        "status": 200,
    }


SHARD_FAILURE = {
    "error": {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "root_cause": [{"type": "query_shard_exception", "reason": "failed to create query"}],
        "failed_shards": [
            {
                "shard": 0,
                "index": "songs",
                "reason": {
                    "type": "query_shard_exception",
                    "reason": "failed to create query: field [year] is not numeric",
                },
            }
        ],
    },
    "status": 400,
}


def test_msearch_partial_failure_becomes_an_item_in_place() -> None:
    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        assert path == "/_msearch"
        assert [line["index"] for line in body[::2]] == ["songs", "songs", "gone", "songs"]
        missing = os_error(404, "index_not_found_exception", "no such index [gone]", index="gone")
        return 200, {"took": 3, "responses": [_hits("a", "b"), SHARD_FAILURE, missing, _hits("c")]}

    engine, log = make_engine(handler)
    reqs = [("songs", {"query": {"match": {"t": "x"}}})] * 2 + [("gone", {}), ("songs", {})]
    items = engine.msearch(reqs)
    assert len(log) == 1
    assert [h["_id"] for h in items[0]["hits"]["hits"]] == ["a", "b"]
    assert "status" not in items[0]
    assert items[1]["status"] == 400
    assert items[1]["error"]["type"] == "search_phase_execution_exception"
    assert items[1]["error"]["reason"] == "failed to create query: field [year] is not numeric"
    assert items[2] == {
        "error": {**missing_error("gone"), "reason": "no such index [gone]"},
        "status": 404,
    }
    assert [h["_id"] for h in items[3]["hits"]["hits"]] == ["c"]


def missing_error(name: str) -> dict[str, Any]:
    return os_error(404, "index_not_found_exception", f"no such index [{name}]", index=name)[
        "error"
    ]


def test_msearch_rejected_as_a_whole_falls_back_to_one_search_per_arm() -> None:
    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if path == "/_msearch":
            return 400, os_error(400, "parsing_exception", "unknown query [sltr]")
        if "sltr" in json.dumps(body):
            return 400, os_error(400, "parsing_exception", "unknown query [sltr]")
        return 200, _hits(path.split("/")[1])

    engine, log = make_engine(handler)
    items = engine.msearch([("a", {}), ("b", {"query": {"sltr": {}}}), ("c", {})])
    assert [c["path"] for c in log] == ["/_msearch", "/a/_search", "/b/_search", "/c/_search"]
    assert items[0]["hits"]["hits"][0]["_id"] == "a"
    assert items[1] == {
        "error": {**os_error(400, "parsing_exception", "unknown query [sltr]")["error"]},
        "status": 400,
    }
    assert items[2]["hits"]["hits"][0]["_id"] == "c"


def test_msearch_raises_only_when_the_cluster_is_unreachable() -> None:
    engine, _ = make_engine(raiser(_wrapped(OSConnectionError, "[Errno 111] Connection refused")))
    with pytest.raises(EngineUnavailableError, match="connection refused"):
        engine.msearch([("a", {}), ("b", {})])
    engine, log = make_engine(
        lambda *a: (503, os_error(503, "unavailable", "cluster_block_exception"))
    )
    with pytest.raises(EngineUnavailableError, match="503"):
        engine.msearch([("a", {})])
    assert len(log) == 3  # 503 retried by the transport


# -- other mappings --------------------------------------------------------------------------
def test_swap_alias_sends_one_atomic_request() -> None:
    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/_alias/songs":
            return 200, {
                "songs-v1": {"aliases": {"songs": {}}},
                "songs-v2": {"aliases": {"songs": {}}},
            }
        return 200, {"acknowledged": True}

    engine, log = make_engine(handler)
    engine.swap_alias("songs", "songs-v3")
    assert [(c["method"], c["path"]) for c in log] == [
        ("GET", "/_alias/songs"),
        ("POST", "/_aliases"),
    ]
    assert log[1]["body"] == {
        "actions": [
            {"remove": {"index": "songs-v1", "alias": "songs"}},
            {"remove": {"index": "songs-v2", "alias": "songs"}},
            {"add": {"index": "songs-v3", "alias": "songs"}},
        ]
    }
    no_alias, log = make_engine(
        lambda m, p, *a: (
            (404, {"error": "alias [songs] missing", "status": 404}) if m == "GET" else (200, {})
        )
    )
    no_alias.swap_alias("songs", "songs-v1")
    assert log[1]["body"] == {"actions": [{"add": {"index": "songs-v1", "alias": "songs"}}]}


def test_search_errors_map_to_ltrr_errors() -> None:
    missing = os_error(404, "index_not_found_exception", "no such index [x]", index="x")
    engine, _ = make_engine(lambda *a: (404, missing))
    with pytest.raises(IndexNotFoundError, match="'x'"):
        engine.search("x", {})
    engine, _ = make_engine(lambda *a: (400, SHARD_FAILURE))
    with pytest.raises(QueryError, match="field \\[year\\] is not numeric at body"):
        engine.search("songs", {})


def test_list_indices_and_terms_shapes() -> None:
    def handler(method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        if path == "/_cat/indices":
            return 200, [
                {"index": "songs-v2", "docs.count": "5"},
                {"index": ".plugins-ml-config", "docs.count": "1"},
                {"index": "closed", "docs.count": None},
            ]
        if path == "/_cat/aliases":
            return 200, [
                {"alias": "songs", "index": "songs-v2"},
                {"alias": ".kibana", "index": ".kibana_1"},
            ]
        buckets = [
            {"key": 2008, "doc_count": 3},
            {"key": 0.5, "doc_count": 2},
            {"key": 1221177600000, "key_as_string": "2008-09-12", "doc_count": 1},
            {"key": "Taylor Swift", "doc_count": 1},
        ]
        return 200, {"aggregations": {"values": {"buckets": buckets}}}

    engine, log = make_engine(handler)
    infos = engine.list_indices()
    assert [(i.name, i.docs, i.aliases) for i in infos] == [
        ("closed", 0, ()),
        ("songs-v2", 5, ("songs",)),
    ]
    assert engine.terms("songs", "year", size=4) == [
        ("2008", 3),
        ("0.5", 2),
        ("2008-09-12", 1),
        ("Taylor Swift", 1),
    ]
    assert log[-1]["body"] == {
        "size": 0,
        "aggs": {"values": {"terms": {"field": "year", "size": 4}}},
    }


def test_error_reason_digs_out_the_specific_cause() -> None:
    assert (
        error_reason(SHARD_FAILURE["error"])
        == "failed to create query: field [year] is not numeric"
    )
    nested = {
        "type": "mapper_parsing_exception",
        "reason": "failed to parse field [p]",
        "caused_by": {"type": "number_format_exception", "reason": 'For input string: "x"'},
    }
    assert error_reason(nested) == (
        'failed to parse field [p] (caused by number_format_exception: For input string: "x")'
    )
    assert error_reason("alias [a] missing") == "alias [a] missing"


# -- real TLS against a local HTTPS server ---------------------------------------------------
def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    cert, key = tmp / f"{name}.pem", tmp / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_server(tmp_path: Path):
    """A local HTTPS server (self-signed, requiring a client certificate) answering a count."""
    import http.server
    import ssl
    import threading

    server_cert, server_key = _self_signed(tmp_path, "server")
    client_cert, client_key = _self_signed(tmp_path, "client")
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"count": 3}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815 - count sends POST when it has a body

        def log_message(self, *args: Any) -> None:
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert, server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_cert)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {
        "url": f"https://127.0.0.1:{httpd.server_address[1]}",
        "ca": server_cert,
        "client_cert": client_cert,
        "client_key": client_key,
        "seen": seen,
    }
    httpd.shutdown()
    httpd.server_close()


def test_tls_verification_and_client_certificates_for_real(https_server: dict, creds: None) -> None:
    url = https_server["url"]
    base = OpenSearchSettings(hosts=[url], max_retries=0, timeout=5)

    with pytest.raises(EngineUnavailableError) as info:  # verify_certs on, CA unknown
        OpenSearchEngine(base).count("songs")
    assert "certificate verify failed" in str(info.value)
    assert "opensearch.ca_certs" in str(info.value) and url in str(info.value)

    trusted = base.model_copy(update={"ca_certs": https_server["ca"]})
    with pytest.raises(EngineUnavailableError, match="TLS"):  # server wants a client cert
        OpenSearchEngine(trusted).count("songs")

    mutual = trusted.model_copy(
        update={
            "client_cert": https_server["client_cert"],
            "client_key": https_server["client_key"],
        }
    )
    assert OpenSearchEngine(mutual).count("songs") == 3
    token = base64.b64encode(f"ltrr:{PASSWORD}".encode()).decode()
    assert https_server["seen"] == [f"Basic {token}"]

    plain = base.model_copy(update={"hosts": [url.replace("https://", "http://")]})
    with pytest.raises(EngineUnavailableError) as info:
        OpenSearchEngine(plain).count("songs")
    assert "cannot reach" in str(info.value) and PASSWORD not in str(info.value)
