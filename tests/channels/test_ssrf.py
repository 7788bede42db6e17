"""The SSRF guard: what a typed-in URL may point at, and that the request goes to the
address that was checked (DNS rebinding), with TLS and Host still for the name."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications import ssrf
from tests.fakes.server import Reply, WebhookReceiver

URL = "https://hooks.example.com/klaxon"


def resolving_to(*addresses: str) -> ssrf.Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.45.6.7", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.10", "private"),
        ("fc00::5", "private"),
        ("fd12:3456:789a::1", "private"),
        ("169.254.10.20", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("::ffff:127.0.0.1", "loopback (inside an IPv6 address)"),
        ("::ffff:10.0.0.1", "private (inside an IPv6 address)"),
        ("::ffff:169.254.169.254", "cloud metadata (inside an IPv6 address)"),
        ("2002:7f00:1::", "loopback (inside an IPv6 address)"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private (inside an IPv6 address)"),  # NAT64 of 10.0.0.1
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.7", "reserved"),
        ("255.255.255.255", "reserved"),
        ("2001:db8::1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    with pytest.raises(ssrf.URLRefused) as refused:
        ssrf.check_public_url(URL, allow_private=False, resolver=resolving_to(address))
    assert f"resolves to {address}, a {reason} address" in str(refused.value)
    assert "KLAXON_WEBHOOK_ALLOW_PRIVATE" in str(refused.value)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    checked = ssrf.resolve_public_url(URL, allow_private=False, resolver=resolving_to(address))
    assert checked.address == address
    assert (checked.host, checked.port, checked.scheme) == ("hooks.example.com", 443, "https")


def test_one_private_record_among_public_ones_refuses_the_url() -> None:
    resolver = resolving_to("93.184.216.34", "10.0.0.8")
    with pytest.raises(ssrf.URLRefused, match="10.0.0.8, a private address"):
        ssrf.check_public_url(URL, allow_private=False, resolver=resolver)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://hooks.example.com/", "only http and https"),
        ("hooks.example.com/x", "only http and https"),
        ("https://user:secret@hooks.example.com/x", "user name or password"),
        ("https://token@hooks.example.com/x", "user name or password"),
        ("https:///no-host", "no host"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
    ],
)
def test_malformed_or_unsafe_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ssrf.URLRefused, match=problem):
        ssrf.check_public_url(url, allow_private=False, resolver=resolving_to("93.184.216.34"))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/", "http://[::1]/", "http://2130706433/", "http://0x7f.1/"],
)
def test_loopback_spelled_as_a_literal_is_refused(url: str) -> None:
    # The system resolver turns every spelling (decimal, hex, short) into the address.
    with pytest.raises(ssrf.URLRefused, match="loopback"):
        ssrf.check_public_url(url, allow_private=False)


def test_allow_private_admits_private_and_loopback_targets() -> None:
    for address in ("10.0.0.8", "127.0.0.1", "fd00::1", "100.64.0.1", "169.254.10.20"):
        ssrf.check_public_url(URL, allow_private=True, resolver=resolving_to(address))


@pytest.mark.parametrize("address", ["169.254.169.254", "0.0.0.0", "224.0.0.1", "::"])
def test_allow_private_still_refuses_metadata_unspecified_and_multicast(address: str) -> None:
    with pytest.raises(ssrf.URLRefused):
        ssrf.check_public_url(URL, allow_private=True, resolver=resolving_to(address))


def test_a_name_that_does_not_resolve_is_reported_as_such() -> None:
    def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(ssrf.HostUnresolved, match="hooks.example.com could not be resolved"):
        ssrf.check_public_url(URL, allow_private=False, resolver=failing)
    with pytest.raises(ssrf.HostUnresolved, match="no address"):
        ssrf.check_public_url(URL, allow_private=False, resolver=resolving_to())


def rebinding(first: str, then: str) -> tuple[ssrf.Resolver, list[str]]:
    """A resolver that answers ``first`` once and ``then`` ever after (DNS rebinding)."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return [first if len(asked) == 1 else then]

    return resolve, asked


def test_the_request_goes_to_the_checked_address_even_if_dns_changes() -> None:
    checked_target = WebhookReceiver("127.0.0.1").start()
    # Where DNS would send a second look, on the same port.
    rebound_target = WebhookReceiver("127.0.0.2", checked_target.port).start()
    try:
        resolver, asked = rebinding("127.0.0.1", "127.0.0.2")
        url = f"http://hooks.rebind.test:{checked_target.port}/hook"
        checked = ssrf.resolve_public_url(url, allow_private=True, resolver=resolver)
        with ssrf.pinned_session(checked) as session:
            first = session.post(url, data=b"one", timeout=5)
            second = session.post(url, data=b"two", timeout=5)
    finally:
        checked_target.stop()
        rebound_target.stop()
    assert (first.status_code, second.status_code) == (200, 200)
    assert [r.body for r in checked_target.requests] == [b"one", b"two"]
    assert rebound_target.requests == []
    assert asked == ["hooks.rebind.test"]  # resolved once, by the check
    # The receiver sees the name it was addressed by, not the address.
    assert checked_target.requests[0].headers["host"] == f"hooks.rebind.test:{checked_target.port}"


def test_a_pinned_session_refuses_other_hosts() -> None:
    checked = ssrf.resolve_public_url(
        "http://hooks.example.com/", allow_private=False, resolver=resolving_to("93.184.216.34")
    )
    with (
        ssrf.pinned_session(checked) as session,
        pytest.raises(ssrf.URLRefused, match="was not checked"),
    ):
        session.get("http://other.example.com/", timeout=1)


def test_a_pinned_session_ignores_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would resolve the name itself and could reach anything.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with WebhookReceiver() as target:
        checked = ssrf.resolve_public_url(target.url(), allow_private=True)
        with ssrf.pinned_session(checked) as session:
            assert session.post(target.url(), data=b"x", timeout=5).status_code == 200
    assert len(target.requests) == 1


def test_a_pinned_session_follows_no_redirect() -> None:
    with WebhookReceiver() as elsewhere, WebhookReceiver() as target:
        target.then_reply(Reply(302, b"", {"Location": elsewhere.url()}))
        checked = ssrf.resolve_public_url(target.url(), allow_private=True)
        with ssrf.pinned_session(checked) as session, pytest.raises(requests.TooManyRedirects):
            session.post(target.url(), data=b"x", timeout=5)
    assert elsewhere.requests == []


# --- TLS through a pinned connection ----------------------------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Callable[[list[str]], ssl.SSLContext], Path]:
    """A test CA, and a server context factory with a certificate for ``name`` signed by
    it that records the SNI names it is asked for."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Klaxon test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    def context(sni_seen: list[str]) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain)

        def remember(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            sni_seen.append(server_name or "")

        ctx.sni_callback = remember
        return ctx

    return context, ca_file


def test_https_through_a_pinned_connection_checks_the_certificate_for_the_name(
    tmp_path: Path,
) -> None:
    context, ca_file = _certificate(tmp_path, "hooks.pinned.test")
    sni: list[str] = []
    with WebhookReceiver("127.0.0.1", tls=context(sni)) as target:
        url = f"https://hooks.pinned.test:{target.port}/hook"
        checked = ssrf.resolve_public_url(
            url, allow_private=True, resolver=resolving_to("127.0.0.1")
        )
        with ssrf.pinned_session(checked) as session:
            answer = session.post(url, data=b"tls", timeout=5, verify=str(ca_file))
        # The same server reached under a name its certificate does not carry fails.
        other = f"https://other.pinned.test:{target.port}/hook"
        checked_other = ssrf.resolve_public_url(
            other, allow_private=True, resolver=resolving_to("127.0.0.1")
        )
        with (
            ssrf.pinned_session(checked_other) as session,
            pytest.raises(requests.exceptions.SSLError),
        ):
            session.post(other, data=b"tls", timeout=5, verify=str(ca_file))
    assert answer.status_code == 200
    assert sni[0] == "hooks.pinned.test"
    assert target.requests[0].headers["host"] == f"hooks.pinned.test:{target.port}"
    assert target.requests[0].body == b"tls"
