"""Server-side request forgery guard for URLs that users (not the operator) supplied.

A feed added from the chat must not make Nashra talk to its own host, the VPS's private
network or the cloud provider's metadata service. :func:`check_public` resolves the URL's host
through an injectable :data:`Resolver` and refuses it unless *every* address is public; the
fetch stage calls it for each request and each redirect hop, and then connects to the address
that was checked (see ``Fetcher``), so a name cannot resolve to a public address for the check
and to a private one for the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from bot.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Names that reach a metadata service or the machine itself without any DNS record saying so.
_BLOCKED_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal",
                            "metadata.goog", "instance-data", "instance-data.ec2.internal"})
_BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.123", "100.100.100.200",
    "fd00:ec2::254", "fd00:ec2::23",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


async def system_resolver(host: str, port: int) -> list[str]:
    """The event loop's ``getaddrinfo``: every address ``host`` resolves to."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched for a user, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal_reason(embedded)
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a private or loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.version == 4 and address in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if address.is_private:
        return "a private or loopback address"
    if not address.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address."""
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_name(host: str) -> None:
    name = host.rstrip(".").lower()
    if not name:
        raise FetchError("refused: the URL has no host")
    if name in _BLOCKED_NAMES or name.endswith(_BLOCKED_SUFFIXES):
        raise FetchError(f"refused: {name} is a local or metadata host name")


async def check_public(host: str, port: int, resolver: Resolver) -> str:
    """The address to connect to for ``host``, once every address it has is public.

    Raises ``FetchError("refused: 10.0.0.5 is a private or loopback address")`` and the like.
    """
    literal = _literal(host)
    if literal is None:
        _check_name(host)
        try:
            found = await resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve host {host}") from exc
        addresses = [a for a in (_literal(text.split("%", 1)[0]) for text in found) if a]
        if not addresses:
            raise FetchError(f"cannot resolve host {host}")
    else:
        addresses = [literal]
    for address in addresses:
        reason = refusal_reason(address)
        if reason:
            raise FetchError(f"refused: {address} is {reason}")
    return str(addresses[0])
