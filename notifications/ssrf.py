"""Calling URLs that users typed in (outgoing webhooks, Teams workflows, push endpoints)
without becoming a way into the network Klaxon runs in.

Two steps, both needed:

1. ``resolve_public_url`` refuses a URL that is not plain http(s), carries credentials,
   or whose host resolves (every A/AAAA record, not just the first) to a loopback,
   private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata address,
   fe80::/10), CGNAT (100.64/10), multicast, unspecified or otherwise reserved address,
   including those hidden in IPv6 (IPv4-mapped, 6to4, Teredo, NAT64).
2. ``pinned_session`` connects to the address that was checked, never resolving the
   name again: a DNS answer that changes between the check and the connection (DNS
   rebinding) cannot steer the request elsewhere. TLS still checks the certificate for
   the host name, and the Host header is the one in the URL.

``allow_private`` (the caller reads ``KLAXON_WEBHOOK_ALLOW_PRIVATE``) lets a deployment
call targets on its own network. Even then a few addresses stay refused: unspecified,
multicast and the cloud metadata service, which are never a webhook receiver."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

ALLOW_PRIVATE_SETTING = "KLAXON_WEBHOOK_ALLOW_PRIVATE"

# host, port -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_RFC1918 = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
)
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class URLRefused(ValueError):
    """The URL is not one Klaxon may call; the message says why, in words for an admin."""


class HostUnresolved(Exception):
    """The host name did not resolve (it may later: DNS can be down for a while)."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the check, with the addresses its host resolved to then."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def address(self) -> str:
        """The address a pinned session connects to."""
        return self.addresses[0]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo), each once, in its order."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, where it is one of those that do."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(address: str, *, allow_private: bool = False) -> str | None:
    """Why ``address`` may not be called, in a few words ("loopback"), or None if it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
    except ValueError:
        return "unparseable"
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        reason = address_refusal(str(inner), allow_private=allow_private)
        return f"{reason} (inside an IPv6 address)" if reason else None
    # Never a receiver, whatever the deployment allows.
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if any(ip in net for net in _METADATA):
        return "cloud metadata"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip in _CGNAT:
        return "shared (CGNAT)"
    if any(ip in net for net in _RFC1918) or ip in _UNIQUE_LOCAL:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def resolve_public_url(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> CheckedURL:
    """Check ``url`` and resolve its host; URLRefused names the problem, HostUnresolved
    says the name did not resolve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise URLRefused(f"only http and https URLs can be called, not {scheme or 'no scheme'!r}")
    if "@" in parts.netloc:
        raise URLRefused("a URL with a user name or password in it is not allowed")
    host = parts.hostname
    if not host:
        raise URLRefused("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = tuple(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        raise HostUnresolved(f"{host} could not be resolved: {exc}") from exc
    if not addresses:
        raise HostUnresolved(f"{host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason:
            hint = "" if allow_private else f" ({ALLOW_PRIVATE_SETTING}=true allows private ones)"
            raise URLRefused(
                f"{host} resolves to {address}, a {reason} address: Klaxon only calls "
                f"public addresses{hint}"
            )
    return CheckedURL(url=url, scheme=scheme, host=host, port=port, addresses=addresses)


def check_public_url(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> None:
    """Raise URLRefused (or HostUnresolved) unless ``url`` may be called; to call it,
    use ``resolve_public_url`` and ``pinned_session`` so the checked address is the one
    connected to."""
    resolve_public_url(url, allow_private=allow_private, resolver=resolver)


# --- Connecting to the checked address --------------------------------------------------


def _connect(conn: HTTPConnection, address: str) -> socket.socket:
    """Open the TCP connection to ``address`` instead of resolving ``conn.host`` again;
    errors are translated as urllib3 does, so requests reports them the usual way."""
    try:
        return urllib3_connection.create_connection(
            (address, conn.port),
            conn.timeout,
            source_address=conn.source_address,
            socket_options=conn.socket_options,
        )
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            conn, f"connection to {conn.host} ({address}) timed out (timeout={conn.timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(
            conn, f"failed to connect to {conn.host} ({address}): {exc}"
        ) from exc


def _pinned_pool_classes(address: str) -> dict[str, type[HTTPConnectionPool]]:
    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect(self, address)

    class PinnedHTTPSConnection(HTTPSConnection):
        # TLS is set up on this socket for self.host: SNI and the certificate check use
        # the name from the URL, not the address.
        def _new_conn(self) -> socket.socket:
            return _connect(self, address)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that connects only to ``checked.address``, and only for
    requests to ``checked.host``."""

    def __init__(self, checked: CheckedURL) -> None:
        self.checked = checked  # before super().__init__, which builds the pool manager
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pool_classes(self.checked.address)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: None | float | tuple[float, float] | tuple[float, None] = None,
        verify: bool | str = True,
        cert: None | bytes | str | tuple[bytes | str, bytes | str] = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        host = urlsplit(request.url or "").hostname
        if host != self.checked.host:
            raise URLRefused(f"{host} was not checked (only {self.checked.host} was)")
        return super().send(request, stream, timeout, verify, cert, proxies)


def pinned_session(checked: CheckedURL) -> requests.Session:
    """A session whose every connection goes to the checked address. It ignores proxy
    environment variables (a proxy would resolve the name itself) and follows no
    redirect (a 3xx raises requests.TooManyRedirects unless allow_redirects=False)."""
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = 0
    adapter = PinnedAdapter(checked)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
