"""Image sniffing the way the gateway does it: format from the bytes, size from the header.

Only headers are read (no decoding), which is all the gateway's checks need.
"""

from __future__ import annotations

import struct
import zlib


class ImageError(ValueError):
    """An upload the gateway would refuse; the message is the gateway's wording."""


def sniff_format(data: bytes) -> str:
    """``png``, ``jpg`` or ``webp`` from the magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise ImageError("Failed to guess image format: The image format could not be determined")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageError("Failed to read image dimensions: PNG has no IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xDA)])


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments up to the first start-of-frame (SOFn)."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE_MARKERS:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise ImageError("Failed to read image dimensions: JPEG has no frame header")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(body) >= 10:
        w = int.from_bytes(body[4:7], "little") + 1
        h = int.from_bytes(body[7:10], "little") + 1
        return w, h
    raise ImageError("Failed to read image dimensions: unsupported WebP header")


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a PNG/JPEG/WebP, or ImageError."""
    fmt = sniff_format(data)
    reader = {"png": _png_size, "jpg": _jpeg_size, "webp": _webp_size}[fmt]
    width, height = reader(data)
    return fmt, width, height


def check_image(data: bytes, *, max_bytes: int, max_side: int) -> tuple[str, int, int]:
    """The gateway's image rules, in its order: bytes, format, width, height."""
    if len(data) > max_bytes:
        raise ImageError(f"Image too large: {len(data)} bytes (max: {max_bytes} bytes)")
    fmt, width, height = image_size(data)
    if width > max_side:
        raise ImageError(f"Image too wide: {width}px (max: {max_side}px)")
    if height > max_side:
        raise ImageError(f"Image too tall: {height}px (max: {max_side}px)")
    return fmt, width, height


def png_bytes(width: int, height: int, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A valid solid-colour RGB PNG, written with zlib alone (for upload tests)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )
