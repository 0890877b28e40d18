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
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

import httpx

from bot.errors import FetchError
from bot.models import FetchResult

# Body decoding is done here rather than by httpx so that the size cap applies while
# decompressing: httpx inflates a whole network chunk at once, which a gzip bomb exploits.
_ACCEPT_ENCODING = "gzip, deflate"
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# Headers that describe the wire form of the body, which no longer matches the decoded body.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class FetchSettings:
    """Limits for the fetch stage; the defaults suit a few dozen news feeds."""

    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    concurrency: int = 8
    per_host: int = 2
    user_agent: str = "Nashra/0.1 (+https://github.com/nashra/nashra)"
    max_redirects: int = 5


class Fetcher:
    """Fetches URLs with a global and a per-host concurrency limit.

    Use as ``async with Fetcher(settings) as fetcher: await fetcher.fetch(url)``. ``transport``
    lets tests substitute ``httpx.MockTransport``.
    """

    def __init__(self, settings: FetchSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
            limits=httpx.Limits(max_connections=max(1, settings.concurrency)),
        )
        self._global = asyncio.Semaphore(max(1, settings.concurrency))
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None) -> FetchResult:
        """GET ``url``; send the validators given; return the decoded body or a 304 marker.

        Raises :class:`FetchError` for network failures, non-2xx statuses, bodies over
        ``max_bytes``, too many redirects and timeouts (``timeout_seconds`` bounds the whole
        request including the body, not each socket read).
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
                    return await self._get(url, headers, etag, last_modified)
            except TimeoutError:
                raise FetchError(self._timeout_reason()) from None
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

    async def _get(self, url: str, headers: dict[str, str], etag: str | None,
                   last_modified: str | None) -> FetchResult:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return _not_modified(response, etag, last_modified)
            if not 200 <= response.status_code < 300:
                raise _status_error(response)
            body = await _read_capped(response, self._settings.max_bytes)
            return FetchResult(
                url=str(response.url),
                status=response.status_code,
                body=body,
                headers={k: v for k, v in _lower_headers(response).items()
                         if k not in _WIRE_HEADERS},
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )


def _lower_headers(response: httpx.Response) -> dict[str, str]:
    return {key.lower(): value for key, value in response.headers.items()}


def _not_modified(response: httpx.Response, etag: str | None,
                  last_modified: str | None) -> FetchResult:
    # A 304 may omit the validators; keep the ones we sent so the caller does not lose them.
    return FetchResult(
        url=str(response.url),
        status=304,
        body=b"",
        headers=_lower_headers(response),
        etag=response.headers.get("etag") or etag,
        last_modified=response.headers.get("last-modified") or last_modified,
        not_modified=True,
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


def _too_large(max_bytes: int) -> FetchError:
    return FetchError(f"response larger than {max_bytes} bytes", status=None)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    decoder = _BodyDecoder(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    received = 0
    async for chunk in _raw_chunks(response):
        # Ask the decoder for one byte more than allowed: getting it proves the body too big.
        data = decoder.feed(chunk, max_bytes - received + 1)
        received += len(data)
        if received > max_bytes:
            raise _too_large(max_bytes)
        parts.append(data)
    tail = decoder.flush()
    if received + len(tail) > max_bytes:
        raise _too_large(max_bytes)
    parts.append(tail)
    return b"".join(parts)


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in response.aiter_raw():
        if chunk:
            yield chunk


class _BodyDecoder:
    """Incremental gzip/deflate decoding with a bound on the output of each step."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"unsupported content encoding {content_encoding.strip()}")
        self._coding = codings[0] if codings else ""
        self._inflater: zlib._Decompress | None = None
        if self._coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes, limit: int) -> bytes:
        if not self._coding:
            return chunk
        if self._inflater is None:
            self._inflater = self._deflate_inflater(chunk)
        try:
            data = self._inflater.decompress(chunk, limit)
        except zlib.error as exc:
            raise FetchError(f"cannot decode {self._coding} body: {exc}") from exc
        return data

    @staticmethod
    def _deflate_inflater(first_chunk: bytes) -> zlib._Decompress:
        # "deflate" is officially zlib-wrapped, but many servers send raw deflate.
        probe = zlib.decompressobj()
        try:
            probe.decompress(first_chunk[:64], 1)
        except zlib.error:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj()

    def flush(self) -> bytes:
        if self._inflater is None:
            return b""
        try:
            return self._inflater.flush()
        except zlib.error as exc:
            raise FetchError(f"cannot decode {self._coding} body: {exc}") from exc


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
        return FetchError(f"TLS error: {detail}")
    if any(hint in text for hint in _RESOLVE_HINTS) or _has_gaierror(chain):
        return FetchError(f"cannot resolve host {_request_host(exc, url)}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return FetchError("connection refused")
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in text:
        return FetchError("connection reset")
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
