# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Answer bodies unpacked a bounded piece at a time, so a cap on the unpacked bytes holds.

The client asks for ``Accept-Encoding: identity``; a server (or a proxy) may pack
the answer anyway. httpx would unpack a whole network chunk in one call, and a
100 KB zstd chunk can unpack to gigabytes before any cap is looked at. Here each
step of the unpacking yields at most ``PIECE_BYTES``, so a caller counting the
pieces stops as soon as its cap is passed, having held one piece at most.

No httpx, no bpy: raw chunks in, unpacked pieces out.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

PIECE_BYTES = 64 * 1024
ZSTD_MAX_WINDOW = 2**25
"""Largest zstd window accepted (32 MiB): the unpacker allocates the window up front."""


class UnreadableBody(Exception):
    """The answer is packed in a way the client cannot (or will not) unpack."""


def content_codings(header: str) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    names = [part.strip().lower() for part in header.split(",")]
    return [name for name in names if name and name != "identity"]


def unpacked(raw: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The body of ``raw`` chunks unpacked as ``content_encoding`` says, in pieces of
    at most PIECE_BYTES (an unpacked body's chunks pass as they came)."""
    pieces: Iterable[bytes] = raw
    for coding in reversed(content_codings(content_encoding)):
        pieces = _decoder(coding)(pieces)
    return iter(pieces)


Decoder = Callable[[Iterable[bytes]], Iterator[bytes]]


def _decoder(coding: str) -> Decoder:
    if coding in ("gzip", "x-gzip"):
        return lambda chunks: _zlib(chunks, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _deflate
    if coding == "zstd":
        return _zstd
    raise UnreadableBody(f"packed as {coding!r}, which the add-on did not ask for")


def _zlib(chunks: Iterable[bytes], wbits: int) -> Iterator[bytes]:
    unpacker = zlib.decompressobj(wbits)
    try:
        for chunk in chunks:
            data = chunk
            while data and not unpacker.eof:
                piece = unpacker.decompress(data, PIECE_BYTES)
                data = unpacker.unconsumed_tail
                if piece:
                    yield piece
        tail = unpacker.flush(PIECE_BYTES)
        if tail:
            yield tail
    except zlib.error as exc:
        raise UnreadableBody(f"its packed (gzip/deflate) data is damaged: {exc}") from None


def _deflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``deflate`` is meant to be zlib-wrapped; some servers send it raw."""
    source = iter(chunks)
    first = b""
    for chunk in source:
        if chunk:
            first = chunk
            break
    raw = len(first) < 2 or (first[0] * 256 + first[1]) % 31 != 0 or first[0] & 0x0F != 8
    wbits = -zlib.MAX_WBITS if raw else zlib.MAX_WBITS
    yield from _zlib(_prepend(first, source), wbits)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


class _ChunkReader:
    """A file-like ``read`` over an iterator of chunks (for zstandard's stream reader)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._left = b""

    def read(self, size: int = -1) -> bytes:
        if not self._left:
            self._left = next(self._chunks, b"")
        if size < 0 or size >= len(self._left):
            out, self._left = self._left, b""
        else:
            out, self._left = self._left[:size], self._left[size:]
        return out


def _zstd(chunks: Iterable[bytes]) -> Iterator[bytes]:
    try:
        import zstandard
    except ImportError:  # Blender ships it; a plain Python may not
        raise UnreadableBody("packed as zstd, and the zstandard package is missing") from None
    unpacker = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    source: Any = _ChunkReader(chunks)  # file-like enough: zstandard only calls read()
    reader = unpacker.stream_reader(source, read_across_frames=True)
    try:
        while True:
            piece = reader.read(PIECE_BYTES)
            if not piece:
                return
            yield piece
    except zstandard.ZstdError as exc:
        raise UnreadableBody(f"its packed (zstd) data is damaged: {exc}") from None
