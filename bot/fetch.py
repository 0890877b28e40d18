"""HTTP fetch stage: one shared httpx client with limits, conditional GET and size caps.

Every failure leaves this module as a :class:`~bot.errors.FetchError` whose reason is a short
human sentence ("HTTP 404 Not Found", "timed out after 20s", ...), so the pipeline can record it
against the feed or article as it is.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

import httpx

from bot import USER_AGENT
from bot.errors import FetchError
from bot.httpbody import read_capped as _read_capped
from bot.models import FetchResult
from bot.netguard import Resolver, check_public, system_resolver

# Bodies are decoded by bot.httpbody rather than by httpx so that the size cap applies while
# decompressing: httpx inflates a whole network chunk at once, which a gzip bomb exploits.
_ACCEPT_ENCODING = "gzip, deflate"
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_STATUSES = frozenset({301, 308})
# Headers that describe the wire form of the body, which no longer matches the decoded body.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class FetchSettings:
    """Limits for the fetch stage; the defaults suit a few dozen news feeds."""

    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    concurrency: int = 8
    per_host: int = 2
    user_agent: str = USER_AGENT
    max_redirects: int = 5


class Fetcher:
    """Fetches URLs with a global and a per-host concurrency limit.

    Use as ``async with Fetcher(settings) as fetcher: await fetcher.fetch(url)``. ``transport``
    lets tests substitute ``httpx.MockTransport``; ``resolver`` is the DNS lookup used by
    ``public_only`` fetches (tests simulate public names with it).
    """

    def __init__(self, settings: FetchSettings,
                 transport: httpx.AsyncBaseTransport | None = None,
                 resolver: Resolver = system_resolver) -> None:
        self._settings = settings
        self._resolver = resolver
        self._client = self._make_client(transport, keepalive=True)
        # Requests pinned to a checked address go through a client that never reuses a
        # connection: a TLS session verified for one host name must not serve another name
        # that happens to share the address.
        self._guarded = self._make_client(transport, keepalive=False)
        self._global = asyncio.Semaphore(max(1, settings.concurrency))
        self._hosts: dict[str, asyncio.Semaphore] = {}

    def _make_client(self, transport: httpx.AsyncBaseTransport | None,
                     keepalive: bool) -> httpx.AsyncClient:
        settings = self._settings
        concurrency = max(1, settings.concurrency)
        return httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # followed by hand: every hop is checked
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency if keepalive else 0),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pools."""
        await self._client.aclose()
        await self._guarded.aclose()

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None,
                    public_only: bool = False) -> FetchResult:
        """GET ``url``; send the validators given; return the decoded body or a 304 marker.

        Raises :class:`FetchError` for network failures, non-2xx statuses, bodies over
        ``max_bytes``, too many redirects, redirects to a non-HTTP scheme and timeouts
        (``timeout_seconds`` bounds the whole request including redirects and the body, not
        each socket read). With ``public_only`` every request, redirects included, must go
        to a public address (see :mod:`bot.netguard`); else ``FetchError("refused: ...")``.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        # Host slot first: requests queued behind a busy host must not hold global slots.
        async with self._host_semaphore(url), self._global:
            try:
                async with asyncio.timeout(self._settings.timeout_seconds):
                    return await self._follow(url, headers, public_only)
            except TimeoutError:
                raise FetchError(self._timeout_reason()) from None
            except httpx.InvalidURL:
                # The start URL was checked, so this is a Location httpx cannot even parse
                # (it builds the next request itself, e.g. for "data:..." it raises here).
                raise FetchError("refused: redirect to an invalid or non-HTTP URL") from None
            except httpx.HTTPError as exc:
                raise _classify(exc, url, self._settings) from exc

    def _host_semaphore(self, url: str) -> asyncio.Semaphore:
        try:
            parsed = httpx.URL(url)
            host = f"{parsed.host}:{parsed.port or ''}"
        except httpx.InvalidURL:
            host = url
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(max(1, self._settings.per_host))
        return self._hosts[host]

    def _timeout_reason(self) -> str:
        return f"timed out after {self._settings.timeout_seconds:g}s"

    async def _follow(self, url: str, headers: dict[str, str],
                      public_only: bool) -> FetchResult:
        """Follow up to ``max_redirects`` redirects, checking each hop before sending it."""
        current = _http_url(url)
        moved = _Moved()
        for _hop in range(self._settings.max_redirects + 1):
            async with self._send(current, headers, public_only) as response:
                location = response.headers.get("location", "").strip()
                if response.status_code in _REDIRECT_STATUSES and location:
                    target = _redirect_target(current, location)
                    moved.hop(response.status_code, str(target))
                    current = target
                    continue
                return await self._result(response, current, headers, moved.url)
        raise FetchError("too many redirects")

    @asynccontextmanager
    async def _send(self, url: httpx.URL, headers: dict[str, str],
                    public_only: bool) -> AsyncIterator[httpx.Response]:
        if not public_only:
            async with self._client.stream("GET", url, headers=headers) as response:
                yield response
            return
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await check_public(url.host, port, self._resolver)
        # Connect to the address that was checked, not to a second lookup of the name, so a
        # rebinding DNS server cannot swap in a private address between check and connect.
        # TLS still verifies the certificate against the host name (SNI).
        pinned = url.copy_with(host=address)
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = self._guarded.build_request(
            "GET", pinned, headers={**headers, "Host": url.netloc.decode("ascii")},
            extensions=extensions)
        response = await self._guarded.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _result(self, response: httpx.Response, url: httpx.URL,
                      sent: dict[str, str], moved_to: str | None) -> FetchResult:
        if response.status_code == 304:
            return _not_modified(response, str(url), sent, moved_to)
        if not 200 <= response.status_code < 300:
            raise _status_error(response)
        body = await _read_capped(response, self._settings.max_bytes)
        return FetchResult(
            url=str(url),
            status=response.status_code,
            body=body,
            headers={k: v for k, v in _lower_headers(response).items()
                     if k not in _WIRE_HEADERS},
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            moved_to=moved_to,
        )


class _Moved:
    """Tracks where a chain of redirects permanently moved the resource.

    Only an unbroken run of 301/308 from the first request counts: after a temporary
    redirect, later permanent ones describe the temporary address, not ours.
    """

    def __init__(self) -> None:
        self.url: str | None = None
        self._permanent = True

    def hop(self, status: int, target: str) -> None:
        self._permanent = self._permanent and status in _PERMANENT_STATUSES
        if self._permanent:
            self.url = target


def _http_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise FetchError(f"invalid URL {url}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"invalid URL {url}")
    return parsed


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except httpx.InvalidURL:
        raise FetchError("refused: redirect to an invalid URL") from None
    if target.scheme not in ("http", "https"):
        raise FetchError(f"refused: redirect to a non-HTTP URL ({target.scheme}:)")
    if not target.host:
        raise FetchError("refused: redirect to a URL without a host")
    return target


def _lower_headers(response: httpx.Response) -> dict[str, str]:
    return {key.lower(): value for key, value in response.headers.items()}


def _not_modified(response: httpx.Response, url: str, sent: dict[str, str],
                  moved_to: str | None) -> FetchResult:
    # A 304 may omit the validators; keep the ones we sent so the caller does not lose them.
    return FetchResult(
        url=url,
        status=304,
        body=b"",
        headers=_lower_headers(response),
        etag=response.headers.get("etag") or sent.get("If-None-Match"),
        last_modified=response.headers.get("last-modified") or sent.get("If-Modified-Since"),
        not_modified=True,
        moved_to=moved_to,
    )


def _status_error(response: httpx.Response) -> FetchError:
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason_phrase
    reason = f"HTTP {code} {phrase}".rstrip()
    retry_after = None
    if code in _RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    return FetchError(reason, status=code, retry_after=retry_after)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _request_host(exc: httpx.HTTPError, url: str) -> str:
    try:
        return exc.request.url.host or url
    except RuntimeError:  # the exception was raised before a request existed
        try:
            return httpx.URL(url).host or url
        except httpx.InvalidURL:
            return url


_RESOLVE_HINTS = ("name or service not known", "nodename nor servname",
                  "temporary failure in name resolution", "no address associated",
                  "getaddrinfo failed", "name resolution")


def _classify(exc: httpx.HTTPError, url: str, settings: FetchSettings) -> FetchError:
    """Turn an httpx exception into a FetchError with a one-line reason."""
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchError("too many redirects")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timed out after {settings.timeout_seconds:g}s")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"invalid URL {url}")
    chain = _causes(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in text:
        ssl_exc = next((e for e in chain if isinstance(e, ssl.SSLError)), exc)
        detail = getattr(ssl_exc, "reason", None) or _one_line(ssl_exc)
        verify_message = getattr(ssl_exc, "verify_message", None)  # unset when hand-made
        if isinstance(ssl_exc, ssl.SSLCertVerificationError) and verify_message:
            detail = f"certificate verify failed ({verify_message})"
        return FetchError(f"TLS error: {detail}")
    if any(hint in text for hint in _RESOLVE_HINTS) or _has_gaierror(chain):
        return FetchError(f"cannot resolve host {_request_host(exc, url)}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return FetchError("connection refused")
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in text:
        return FetchError("connection reset")
    if "complete message body" in text:
        return FetchError("connection closed before the whole body arrived")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError(f"protocol error: {_one_line(exc)}")
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"cannot connect: {_one_line(exc)}")
    return FetchError(f"network error: {_one_line(exc)}")


def _has_gaierror(chain: list[BaseException]) -> bool:
    return any(isinstance(e, socket.gaierror) for e in chain)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:200]
