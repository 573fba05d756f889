# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bounded gzip and zstd decompression for splat payloads.

A compressed file says nothing trustworthy about its decompressed size: a few
kilobytes can expand to gigabytes (a "decompression bomb"), and a corrupt header
can claim any count. Readers here first decompress only the fixed-size header,
work out from its counts exactly how many bytes the data needs, refuse counts
that the compressed size cannot possibly justify, and then decompress at most
that many bytes. Memory therefore never exceeds what a genuine file of the
claimed size would need.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import zstandard

from .cloud import SplatFormatError

MAX_RATIO = {"gzip": 1032, "zstd": 32768}
"""Most output one input byte can produce: deflate's 258-byte matches in ~2 bits
give ~1032:1; zstd's best case is an RLE block, 4 bytes for 128 KiB (32768:1)."""


HONEST_RATIO = 64
"""Most decompressed SPZ payload a genuine file holds per compressed byte. SPZ's
arrays are already quantised splat data, which gzip and zstd shrink little: real
files measure 1.1:1 (404's results) to about 4:1 (a degree-3 capture whose SH is
mostly zero). Past 64:1 a file is not splats but a decompression bomb: a few KB
claiming millions of identical splats would otherwise be decoded in full."""

HONEST_FLOOR = 16 << 20
"""Claims decoding to less than this are decoded anyway: harmless, and a cut-off
file then gets the message that it is cut off."""


class Inflater(Protocol):
    """A decompressed byte stream read in pieces."""

    kind: str

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream."""
        ...


class GzipInflater:
    """gzip (one or more members) via zlib, never inflating more than asked."""

    kind = "gzip"

    def __init__(self, data: bytes | memoryview) -> None:
        self._input = memoryview(data)
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending: bytes | memoryview = self._input

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        want = size
        try:
            while want > 0:
                if self._z.eof:
                    # Concatenated members are one stream, as gunzip reads them;
                    # anything else after the end (padding) is ignored, as gunzip does.
                    rest = self._z.unused_data
                    if not rest.startswith(b"\x1f\x8b"):
                        break
                    self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._pending = rest
                # With empty input this still drains output zlib holds back.
                chunk = self._z.decompress(self._pending, want)
                self._pending = self._z.unconsumed_tail
                if not chunk and not self._pending and not self._z.eof:
                    break  # input exhausted mid-stream: the file is cut off
                parts.append(chunk)
                want -= len(chunk)
        except zlib.error as exc:
            raise SplatFormatError(
                f"The gzip-compressed data is corrupt ({exc}). Download or export the file again."
            ) from exc
        return b"".join(parts)


_CHUNK = 1 << 20


class ZstdInflater:
    """zstd (one or more frames) through a streaming reader, never past what is asked."""

    kind = "zstd"

    def __init__(self, data: bytes | memoryview) -> None:
        self._reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        want = size
        try:
            while want > 0:
                # Bounded reads: python-zstandard reserves the whole request up front, so
                # a tiny file claiming a huge count must not get to ask for it at once.
                chunk = self._reader.read(min(want, _CHUNK))
                if not chunk:
                    break
                parts.append(chunk)
                want -= len(chunk)
        except zstandard.ZstdError as exc:
            raise SplatFormatError(
                f"The zstd-compressed data is corrupt or cut off ({exc}). "
                "Download or export the file again."
            ) from exc
        return parts[0] if len(parts) == 1 else b"".join(parts)


def check_ratio(kind: str, compressed: int, needed: int, claim: str) -> None:
    """Refuse a claim that ``compressed`` bytes of ``kind`` could never expand to."""
    if needed > compressed * MAX_RATIO[kind] + 1024:
        raise SplatFormatError(
            f"The file claims {claim}, which needs {needed:,} bytes of data, but its "
            f"{compressed:,} bytes of {kind} cannot hold that much. The header is corrupt "
            "or the file is cut off."
        )


def check_honest(compressed: int, needed: int, claim: str) -> None:
    """Refuse a claim that genuine SPZ data of ``compressed`` bytes never reaches."""
    if needed > max(compressed * HONEST_RATIO, HONEST_FLOOR):
        raise SplatFormatError(
            f"The file claims {claim} in only {compressed:,} bytes: decoded, that is "
            f"{needed:,} bytes, {needed // max(1, compressed):,} times the file, where real "
            f"SPZ files stay under {HONEST_RATIO} times (about 1 to 4). It is corrupt or "
            "made to exhaust memory, so it was not decoded."
        )


def zstd_frame(data: bytes | memoryview, expected: int, what: str) -> bytes:
    """Decompress one zstd stream that must expand to exactly ``expected`` bytes."""
    check_ratio("zstd", len(data), expected, what)
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise SplatFormatError(f"The {what} is not zstd data ({exc}).") from exc
    if declared >= 0 and declared != expected:
        raise SplatFormatError(
            f"The {what} declares {declared:,} bytes but the header's counts need "
            f"{expected:,}; the file is corrupt."
        )
    out = ZstdInflater(data).read(expected + 1)
    if len(out) != expected:
        raise SplatFormatError(
            f"The {what} expands to {'more than ' if len(out) > expected else ''}"
            f"{min(len(out), expected):,} bytes where the header's counts need exactly "
            f"{expected:,}; the file is cut off or corrupt."
        )
    return out
