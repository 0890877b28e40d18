"""Reading a response body with a size cap that holds while decompressing.

httpx would inflate a whole network chunk at once, which a gzip bomb (a few kB that expand to
gigabytes) exploits; here the inflater is asked for at most the bytes still allowed.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import httpx

from bot.errors import FetchError


def _too_large(max_bytes: int) -> FetchError:
    return FetchError(f"response larger than {max_bytes} bytes", status=None)


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body; FetchError once it exceeds ``max_bytes`` (declared or counted)."""
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
