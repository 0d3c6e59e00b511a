"""The outbound-address rule: where a provider or TMDb may send a request (and its key).
Link-local and cloud-metadata addresses answer with the machine's own credentials, so they are
refused in every spelling; loopback and private networks stay allowed, since an Ollama or a vLLM
beside the server is the usual case.

Two places ask it: a URL typed on the settings page or read from the environment, before
anything is sent (`check_provider_url`), and every connection the guarded client opens, on the
address it is about to dial after DNS (`approved_addresses`, from `reclio_admin.outbound.wire`),
so a name that resolves elsewhere the second time gets no further than the first."""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names of metadata services that do not resolve to a link-local address everywhere.
METADATA_NAMES = {
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
    "metadata.tencentyun.com",
}
# Metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud).
METADATA_ADDRESSES = {
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
# IPv6 ranges whose addresses carry an IPv4 address inside them (NAT64, 6to4, Teredo, and the
# IPv4-compatible and IPv4-translated forms): a gateway or the kernel may deliver them to that
# IPv4 address. Nobody needs them to reach a provider: the IPv4 spelling works.
IPV4_CARRYING = [
    ipaddress.ip_network(net)
    for net in (
        "::/96",
        "::ffff:0:0/96",
        "::ffff:0:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
    )
]
LOOPBACK_V6 = ipaddress.ip_address("::1")
RESOLVE_SECONDS = 2.0

_resolver = ThreadPoolExecutor(max_workers=2, thread_name_prefix="resolve")


class AddressRefused(ValueError):
    """Why a provider URL may not be used, for a person to read."""


class Unresolved(AddressRefused):
    """The name did not resolve (now): nothing is known against it, nor for it."""


def check_provider_url(url: str) -> None:
    """Raise AddressRefused unless `url` is an http(s) URL whose host is allowed (by name, by
    literal address in any spelling, and by every address its name resolves to).

    1. Characters that parsers read differently are refused outright: a backslash (WHATWG reads
       it as `/`, RFC 3986 parsers as part of the user name), whitespace and control characters.
    2. A user name or password in the URL is refused: `http://a@b/` is read as host `b` by some
       and sent to `a` by others, and a credential does not belong in an address.
    3. The rest is parsed by the HTTP client's own parser, so the host checked is the host dialled.
    """
    if "\\" in url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise AddressRefused("the URL holds a backslash, a space or a control character")
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        raise AddressRefused("the URL cannot be read") from None
    if parsed.scheme not in ("http", "https"):
        raise AddressRefused("the URL must start with http:// or https://")
    if parsed.userinfo or "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        raise AddressRefused("the URL holds a user name or password (user@host)")
    approved_addresses(parsed.host)


def approved_addresses(host: str, *, within: float = RESOLVE_SECONDS) -> list[IPAddress]:
    """The addresses `host` may be reached at: the literal address, else every address the name
    resolves to (within `within` seconds; numeric spellings such as 2852039166 or 0xa9fea9fe
    resolve too). Raises AddressRefused when any of them is forbidden."""
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        raise AddressRefused("the URL names no host")
    if host in METADATA_NAMES:
        raise AddressRefused(f"{host} is a cloud metadata service")
    addresses = _addresses(host, within)
    for address in addresses:
        if reason := _forbidden(address):
            raise AddressRefused(f"{host} is {reason} ({address})")
    return addresses


def _addresses(host: str, within: float) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    future = _resolver.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(within, 0.01))
    except FutureTimeout:
        raise Unresolved(f"{host} did not resolve within {within:g} s") from None
    except (OSError, UnicodeError):
        raise Unresolved(f"{host} does not resolve to any address") from None
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


def _forbidden(address: IPAddress) -> str:
    """Why this address is refused, or "" when it is allowed."""
    carries_ipv4 = isinstance(address, ipaddress.IPv6Address) and any(
        address in network for network in IPV4_CARRYING
    )
    if carries_ipv4 and address != LOOPBACK_V6 and not address.is_unspecified:
        return "an IPv6 address that carries an IPv4 one: write the IPv4 address itself"
    if address.is_link_local or address in METADATA_ADDRESSES:
        return "a link-local or cloud metadata address, which would answer with this server's own credentials"
    if address.is_multicast or address.is_unspecified:
        return "not an address a provider can answer at"
    return ""
