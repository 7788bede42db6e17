"""Outbound SNS HTTP (integrations.sns_http) against a real local HTTP server: no database.

The URL patterns are pointed at a server on 127.0.0.1 (random port) through the
``settings`` fixture; every request the server receives is counted, so "never fetched"
and "fetched once" are observed on the wire rather than inferred.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache

from integrations import sns_http
from integrations.sns_http import ConfirmResult, clear_certificate_cache, visit_subscribe_url
from integrations.sources.sns import (
    CertificateFetchFailed,
    CertificateInvalid,
    CertificateUrlNotAllowed,
    SignatureInvalid,
    parse_envelope,
    verify,
)
from tests.sns_signing import certificate_pem, signed_envelope

TOPIC = "arn:aws:sns:us-east-1:123456789012:klaxon-test"
SUBSCRIPTION_ARN = TOPIC + ":5f0c1a8e-3d7b-4c11-9a64-0e2f7b8d9c21"
NS = "http://sns.amazonaws.com/doc/2010-03-31/"

CONFIRM_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<ConfirmSubscriptionResponse xmlns="{NS}">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>{SUBSCRIPTION_ARN}</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata>
    <RequestId>7d1e3a52-0c4b-5e8f-a1d2-93b6c4e5f708</RequestId>
  </ResponseMetadata>
</ConfirmSubscriptionResponse>
""".encode()

CONFIRM_XML_NO_NAMESPACE = (
    b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult>"
    b"<SubscriptionArn> " + SUBSCRIPTION_ARN.encode() + b" </SubscriptionArn>"
    b"</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
)

DENIED_XML = f"""<ErrorResponse xmlns="{NS}">
  <Error>
    <Type>Sender</Type>
    <Code>AuthorizationError</Code>
    <Message>The token is invalid or has expired</Message>
  </Error>
  <RequestId>0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d</RequestId>
</ErrorResponse>
""".encode()

LAUGHS_XML = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ConfirmSubscriptionResponse><ConfirmSubscriptionResult>
<SubscriptionArn>&lol3;</SubscriptionArn>
</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>
"""

NO_ARN_XML = (
    b'<ConfirmSubscriptionResponse xmlns="' + NS.encode() + b'">'
    b"<ConfirmSubscriptionResult></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Peer:
    """A tiny stand-in for SNS: fixed routes, and a count of every request path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.queries: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.peer = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def total_hits(self) -> int:
        with self.lock:
            return sum(self.hits.values())


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer: Peer = self.server.peer  # type: ignore[attr-defined]
        parts = urllib.parse.urlsplit(self.path)
        with peer.lock:
            peer.hits[parts.path] += 1
            peer.queries.append(parts.query)
        route = peer.routes.get(parts.path, Route(status=404, body=b"no such route"))
        if route.delay:
            time.sleep(route.delay)
        try:
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    server = Peer()
    pem = certificate_pem()
    server.routes.update(
        {
            "/cert.pem": Route(body=pem, headers={"Content-Type": "application/x-pem-file"}),
            "/other.pem": Route(body=pem),
            "/target.pem": Route(body=pem),
            "/redirect.pem": Route(
                status=302, headers={"Location": server.url("/target.pem")}, body=b""
            ),
            "/missing.pem": Route(status=404, body=b"Not Found"),
            "/notacert.pem": Route(body=b"<html>hello</html>"),
            "/fakepem.pem": Route(
                body=b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            "/huge.pem": Route(body=pem + b"#" * (70 * 1024)),
            "/slow.pem": Route(body=pem, delay=1.5),
            "/confirm": Route(body=CONFIRM_XML, headers={"Content-Type": "text/xml"}),
            "/confirm-plain": Route(body=CONFIRM_XML_NO_NAMESPACE),
            "/confirm-denied": Route(status=403, body=DENIED_XML),
            "/confirm-gone": Route(status=404, body=b"x" * 2000),
            "/confirm-redirect": Route(
                status=301,
                headers={"Location": server.url("/confirm?Action=ConfirmSubscription")},
            ),
            "/confirm-doctype": Route(body=LAUGHS_XML),
            "/confirm-garbage": Route(body=b"<html><body>oops"),
            "/confirm-other": Route(body=b"<SomethingElse/>"),
            "/confirm-noarn": Route(body=NO_ARN_XML),
            "/confirm-slow": Route(body=CONFIRM_XML, delay=1.5),
        }
    )
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def sns_peer(peer: Peer, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Peer]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    settings.SNS_CERT_URL_PATTERN = rf"http://127\.0\.0\.1:{peer.port}/[a-z-]+\.pem"
    settings.SNS_SUBSCRIBE_URL_PATTERN = (
        rf"http://127\.0\.0\.1:{peer.port}/confirm[a-z-]*"
        r"\?([^#]*&)?Action=ConfirmSubscription(&[^#]*)?"
    )
    settings.SNS_FETCH_TIMEOUT = 5.0
    with peer.lock:
        peer.hits.clear()
        peer.queries.clear()
    clear_certificate_cache()
    cache.clear()
    yield peer
    clear_certificate_cache()
    cache.clear()


def as_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- certificates


def test_certificate_fetched_once_then_cached(peer: Peer) -> None:
    url = peer.url("/cert.pem")
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert peer.hits["/cert.pem"] == 1

    cache.clear()  # the process-local copy answers without Django's cache
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert peer.hits["/cert.pem"] == 1

    clear_certificate_cache()  # nothing cached anywhere: back to the network, once
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert peer.hits["/cert.pem"] == 2

    clear_certificate_cache()  # a fresh process: Django's cache (24 h) still has it
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert peer.hits["/cert.pem"] == 2


def test_cache_is_per_url(peer: Peer) -> None:
    sns_http.fetch_certificate(peer.url("/cert.pem"))
    sns_http.fetch_certificate(peer.url("/other.pem"))
    sns_http.fetch_certificate(peer.url("/other.pem"))
    assert peer.hits["/cert.pem"] == 1 and peer.hits["/other.pem"] == 1


def test_garbage_in_the_shared_cache_is_ignored(peer: Peer) -> None:
    url = peer.url("/cert.pem")
    sns_http.fetch_certificate(url)
    clear_certificate_cache()
    cache.set(sns_http._cache_key(url), b"not a certificate")
    assert sns_http.fetch_certificate(url) == certificate_pem()
    assert peer.hits["/cert.pem"] == 2


@pytest.mark.parametrize(
    "path_or_url",
    [
        "/cert.txt",
        "/cert.pem?x=1",
        "/CERT.pem",
        "/a/cert.pem",
        "http://user@127.0.0.1:{port}/cert.pem",
        "http://127.0.0.1:{port}@127.0.0.1:{port}/cert.pem",
        "http://127.0.0.1:{port}/cert .pem",
        "http://localhost:{port}/cert.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "file:///etc/ssl/cert.pem",
    ],
)
def test_disallowed_url_never_hits_the_server(peer: Peer, path_or_url: str) -> None:
    url = path_or_url.format(port=peer.port)
    url = peer.url(url) if url.startswith("/") else url
    with pytest.raises(CertificateUrlNotAllowed) as info:
        sns_http.fetch_certificate(url)
    assert info.value.reason.startswith("certificate URL not allowed: ")
    assert peer.total_hits == 0


def test_default_pattern_applies_when_the_setting_is_absent(peer: Peer, settings: Any) -> None:
    del settings.SNS_CERT_URL_PATTERN
    with pytest.raises(CertificateUrlNotAllowed):
        sns_http.fetch_certificate(peer.url("/cert.pem"))
    assert peer.total_hits == 0


def test_redirect_is_not_followed(peer: Peer) -> None:
    with pytest.raises(CertificateFetchFailed) as info:
        sns_http.fetch_certificate(peer.url("/redirect.pem"))
    assert info.value.reason.startswith("could not fetch certificate: redirect refused (HTTP 302")
    assert peer.hits["/redirect.pem"] == 1
    assert peer.hits["/target.pem"] == 0  # even though the target is itself allowed
    assert isinstance(info.value, CertificateInvalid)  # a fetch failure is an invalid cert


def test_only_http_and_https_are_spoken(peer: Peer, settings: Any, tmp_path: Any) -> None:
    pem_file = tmp_path / "cert.pem"
    pem_file.write_bytes(certificate_pem())
    settings.SNS_CERT_URL_PATTERN = r".*"  # an over-broad setting must not open file:, ftp:
    settings.SNS_SUBSCRIBE_URL_PATTERN = r".*"
    for url in (pem_file.as_uri(), "ftp://127.0.0.1/cert.pem", "data:,x.pem"):
        with pytest.raises(CertificateUrlNotAllowed, match="not http/https"):
            sns_http.fetch_certificate(url)
    result = visit_subscribe_url(pem_file.as_uri() + "?Action=ConfirmSubscription")
    assert result.status is None and result.error.startswith("SubscribeURL not allowed: ")


def test_http_error_is_reported_and_not_cached(peer: Peer) -> None:
    for _ in range(2):
        with pytest.raises(CertificateFetchFailed) as info:
            sns_http.fetch_certificate(peer.url("/missing.pem"))
        assert info.value.reason == "could not fetch certificate: HTTP 404"
    assert peer.hits["/missing.pem"] == 2


@pytest.mark.parametrize("path", ["/notacert.pem", "/fakepem.pem"])
def test_answer_must_be_a_pem_certificate(peer: Peer, path: str) -> None:
    with pytest.raises(CertificateFetchFailed, match="not a PEM certificate"):
        sns_http.fetch_certificate(peer.url(path))


def test_answer_size_is_capped(peer: Peer) -> None:
    with pytest.raises(CertificateFetchFailed, match="larger than 64 KiB"):
        sns_http.fetch_certificate(peer.url("/huge.pem"))


def test_timeout_from_settings(peer: Peer, settings: Any) -> None:
    settings.SNS_FETCH_TIMEOUT = 0.3
    started = time.monotonic()
    with pytest.raises(CertificateFetchFailed, match="^could not fetch certificate: .*timed out"):
        sns_http.fetch_certificate(peer.url("/slow.pem"))
    assert time.monotonic() - started < 1.2


def test_connection_refused(settings: Any) -> None:
    settings.SNS_CERT_URL_PATTERN = r"http://127\.0\.0\.1:\d+/[a-z]+\.pem"
    with pytest.raises(CertificateFetchFailed, match="^could not fetch certificate: "):
        sns_http.fetch_certificate(f"http://127.0.0.1:{closed_port()}/cert.pem")


def test_end_to_end_verification_fetches_once(peer: Peer, settings: Any) -> None:
    for _ in range(3):
        body = signed_envelope(message="CPU high", cert_url=peer.url("/cert.pem"))
        env = parse_envelope(as_body(body))
        verify(
            env,
            fetch_certificate=sns_http.fetch_certificate,
            cert_url_pattern=settings.SNS_CERT_URL_PATTERN,
            now=datetime.now(UTC),
        )
    assert peer.hits["/cert.pem"] == 1

    forged = {**signed_envelope(message="x", cert_url=peer.url("/cert.pem")), "Message": "y"}
    with pytest.raises(SignatureInvalid):
        verify(
            parse_envelope(as_body(forged)),
            fetch_certificate=sns_http.fetch_certificate,
            cert_url_pattern=settings.SNS_CERT_URL_PATTERN,
            now=datetime.now(UTC),
        )


# ------------------------------------------------------------------ subscription confirm


def confirm_url(peer: Peer, path: str = "/confirm") -> str:
    query = urllib.parse.urlencode(
        {"Action": "ConfirmSubscription", "TopicArn": TOPIC, "Token": "2336412f37fb"}
    )
    return peer.url(f"{path}?{query}")


def test_subscribe_url_confirmed(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer))
    assert result == ConfirmResult(status=200, subscription_arn=SUBSCRIPTION_ARN, error="")
    assert result.ok
    assert peer.hits["/confirm"] == 1
    assert urllib.parse.parse_qs(peer.queries[0])["Token"] == ["2336412f37fb"]


def test_subscribe_answer_without_namespace(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer, "/confirm-plain"))
    assert result == ConfirmResult(200, SUBSCRIPTION_ARN, "")


def test_subscribe_http_error_is_recorded(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer, "/confirm-denied"))
    assert result.status == 403
    assert result.subscription_arn == ""
    assert result.error == "HTTP 403: AuthorizationError: The token is invalid or has expired"
    assert not result.ok


def test_subscribe_error_text_is_truncated(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer, "/confirm-gone"))
    assert result.status == 404
    assert result.error.startswith("HTTP 404: xxx")
    assert len(result.error) <= 500


def test_subscribe_redirect_is_not_followed(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer, "/confirm-redirect"))
    assert result.status == 301
    assert result.subscription_arn == ""
    assert result.error.startswith("redirect refused (HTTP 301")
    assert peer.hits["/confirm-redirect"] == 1
    assert peer.hits["/confirm"] == 0


def test_subscribe_doctype_refused(peer: Peer) -> None:
    result = visit_subscribe_url(confirm_url(peer, "/confirm-doctype"))
    assert result.status == 200
    assert result.subscription_arn == ""
    assert "DOCTYPE" in result.error and "refused" in result.error


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/confirm-garbage", "answer is not well-formed XML"),
        ("/confirm-other", "unexpected answer: <SomethingElse>"),
        ("/confirm-noarn", "answer has no SubscriptionArn"),
    ],
)
def test_subscribe_unusable_answers(peer: Peer, path: str, error: str) -> None:
    result = visit_subscribe_url(confirm_url(peer, path))
    assert result.status == 200
    assert result.subscription_arn == ""
    assert result.error.startswith(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/confirm?Action=Unsubscribe&TopicArn=x",
        "http://127.0.0.1:{port}/confirm?TopicArn=x",
        "http://127.0.0.1:{port}/elsewhere?Action=ConfirmSubscription",
        "http://user@127.0.0.1:{port}/confirm?Action=ConfirmSubscription",
        "http://127.0.0.1:{port}/confirm?Action=ConfirmSubscription&x=@evil",
        "http://127.0.0.1:{port}/confirm?Action=ConfirmSubscription&x=a b",
        "http://localhost:{port}/confirm?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y",
        "",
    ],
)
def test_subscribe_url_not_allowed_is_never_fetched(peer: Peer, url: str) -> None:
    result = visit_subscribe_url(url.format(port=peer.port))
    assert result.status is None
    assert result.subscription_arn == ""
    assert result.error.startswith("SubscribeURL not allowed: ")
    assert peer.total_hits == 0


def test_subscribe_unreachable_and_slow(peer: Peer, settings: Any) -> None:
    settings.SNS_SUBSCRIBE_URL_PATTERN = r"http://127\.0\.0\.1:\d+/confirm[a-z-]*\?.*"
    result = visit_subscribe_url(f"http://127.0.0.1:{closed_port()}/confirm?Action=x")
    assert result.status is None
    assert result.error.startswith("could not reach SubscribeURL: ")

    settings.SNS_FETCH_TIMEOUT = 0.3
    result = visit_subscribe_url(confirm_url(peer, "/confirm-slow"))
    assert result.status is None
    assert result.error.startswith("could not reach SubscribeURL: ")
    assert "timed out" in result.error


def test_invalid_subscribe_pattern_refuses(peer: Peer, settings: Any) -> None:
    settings.SNS_SUBSCRIBE_URL_PATTERN = "("
    result = visit_subscribe_url(confirm_url(peer))
    assert result.error.startswith("SubscribeURL not allowed: ")
    assert peer.total_hits == 0
