"""Where the settings page may point a provider. An admin types a base URL or host and the
server then sends requests (and the API key) there, so link-local and cloud-metadata addresses
are refused: they answer with the machine's own credentials. Loopback and private networks stay
allowed: an Ollama or a vLLM beside the server is the usual case."""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

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
RESOLVE_SECONDS = 2.0

_resolver = ThreadPoolExecutor(max_workers=2, thread_name_prefix="resolve")


class AddressRefused(ValueError):
    """Why a provider URL may not be used, for a person to read."""


def check_provider_url(url: str) -> None:
    """Raise AddressRefused when `url` points at a link-local or metadata address (by name, by
    literal address in any spelling, or by what its name resolves to)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        raise AddressRefused("the URL names no host")
    if host in METADATA_NAMES:
        raise AddressRefused(f"{host} is a cloud metadata service")
    for address in _addresses(host):
        if _forbidden(address):
            raise AddressRefused(
                f"{host} is a link-local or cloud metadata address ({address}), which would "
                "answer with this server's own credentials"
            )


def _addresses(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The literal address, else every address the name resolves to (numeric spellings such
    as 2852039166 or 0xa9fea9fe resolve too), within RESOLVE_SECONDS."""
    try:
        return {ipaddress.ip_address(host.strip("[]").split("%")[0])}
    except ValueError:
        pass
    future = _resolver.submit(socket.getaddrinfo, host, None)
    try:
        infos = future.result(timeout=RESOLVE_SECONDS)
    except FutureTimeout:
        raise AddressRefused(f"{host} did not resolve within {RESOLVE_SECONDS:g} s") from None
    except (OSError, UnicodeError):
        raise AddressRefused(f"{host} does not resolve to any address") from None
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address in METADATA_ADDRESSES
    )
