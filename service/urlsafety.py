"""Which URLs readloom may call: the SSRF guard for partner webhooks.

A webhook URL comes from a partner, but the request goes out from inside the district's
network, so a URL naming (or resolving to) a loopback, private, link-local or metadata
address would let a partner reach services nobody meant to expose. The same check runs
at registration and again before every delivery, because DNS answers change (rebinding):
the caller then connects to the addresses returned here, not to a second lookup.

Stdlib only, no settings and no I/O except the resolver, which tests replace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

DNS_TIMEOUT_S = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud metadata services (AWS/GCP/Azure, AWS ECS, AWS IPv6, Alibaba): never callable.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4
# Not flagged by every Python's ``is_global``: IETF assignments, local-use NAT64.
_RESERVED = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "64:ff9b:1::/48"))

REASONS: dict[str, str] = {
    "metadata": "a cloud metadata address",
    "unspecified": "the unspecified address",
    "loopback": "a loopback address",
    "link_local": "a link-local address (169.254.0.0/16, fe80::/10)",
    "multicast": "a multicast address",
    "private": "a private address (RFC 1918 or IPv6 unique-local)",
    "shared_address": "a carrier-grade NAT address (100.64.0.0/10)",
    "reserved": "a reserved or otherwise non-public address",
}
# What ``allow_private`` lets through (a lab or on-premises receiver); the rest never is.
PRIVATE_REASONS = frozenset({"loopback", "link_local", "private", "shared_address"})


@dataclass(frozen=True)
class UrlPolicy:
    """Safe by default: https only, public addresses only."""

    allow_http: bool = False
    allow_private: bool = False


class UnsafeUrl(ValueError):
    """A refused URL. ``reason`` is a stable code, safe to store and log (no URL in it)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def classify(ip: IPAddress) -> str | None:
    """The reason this address is not a public unicast one, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:  # an IPv4 address in IPv6 clothing is judged as IPv4
            return classify(inner)
    if ip in _METADATA:
        return "metadata"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link_local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", any(ip in n for n in _PRIVATE)),
        ("shared_address", ip in _SHARED),
        ("reserved", ip.is_reserved or not ip.is_global or any(ip in n for n in _RESERVED)),
    )
    return next((reason for reason, hit in checks if hit), None)


def check_syntax(url: str, policy: UrlPolicy) -> tuple[str, int]:
    """Scheme, credentials and host of ``url``; returns (host, port)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl("bad_scheme", "the webhook URL must use https")
    if scheme == "http" and not policy.allow_http:
        raise UnsafeUrl("http_not_allowed", "the webhook URL must use https, not plain http")
    if "@" in parts.netloc:
        raise UnsafeUrl("userinfo", "the webhook URL must not carry a user name or password")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("no_host", "the webhook URL has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise UnsafeUrl("bad_port", "the webhook URL has an invalid port") from None
    return host, port


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_addresses(
    addresses: Sequence[IPAddress], policy: UrlPolicy, *, resolved: bool
) -> list[IPAddress]:
    """Every address must be allowed (one bad answer is enough to refuse); deduplicated."""
    if not addresses:
        raise UnsafeUrl("unresolvable", "the webhook URL's host does not resolve")
    verb = "resolves to" if resolved else "is"
    for ip in addresses:
        reason = classify(ip)
        if reason and not (policy.allow_private and reason in PRIVATE_REASONS):
            raise UnsafeUrl(
                reason,
                f"the webhook URL's host {verb} {REASONS[reason]}; "
                "webhooks may only call public addresses",
            )
    return list(dict.fromkeys(addresses))


def resolve(host: str, port: int) -> list[str]:
    """The system resolver (blocking: call it off the event loop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]  # drop IPv6 zone ids


async def check_url(
    url: str,
    policy: UrlPolicy,
    *,
    resolver: Resolver = resolve,
    timeout_s: float = DNS_TIMEOUT_S,
) -> list[IPAddress]:
    """The addresses ``url`` may be called on (connect to these, not to a new lookup);
    raises ``UnsafeUrl`` saying why not."""
    host, port = check_syntax(url, policy)
    ip = literal_ip(host)
    if ip is not None:
        return check_addresses([ip], policy, resolved=False)
    try:
        answers = await asyncio.wait_for(asyncio.to_thread(resolver, host, port), timeout_s)
    except (OSError, TimeoutError, UnicodeError):
        raise UnsafeUrl("unresolvable", "the webhook URL's host does not resolve") from None
    addresses = [a for a in (literal_ip(x) for x in answers) if a is not None]
    return check_addresses(addresses, policy, resolved=True)
