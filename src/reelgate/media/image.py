"""Decoding input images (image-to-video) into RGB frames.

The declared size is read from the file's header before anything is decoded: a 16 MiB PNG of
one colour can claim billions of pixels, and decoding it first would exhaust memory.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.errors import ImageDecodeError

MAX_IMAGE_PIXELS = 40_000_000  # about 8K x 5K


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by a PNG, GIF, JPEG or WebP header; None if unrecognised."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def decode_image(data: bytes) -> npt.NDArray[np.uint8]:
    """RGB uint8 pixels of a PNG, JPEG, WebP or GIF (its first frame)."""
    size = image_size(data)
    if size is None:
        raise ImageDecodeError("the file is not a PNG, JPEG, WebP or GIF image")
    width, height = size
    if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
        raise ImageDecodeError(
            f"the image is {width}x{height}; at most {MAX_IMAGE_PIXELS} pixels are accepted"
        )
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ImageDecodeError("the image could not be decoded")
    return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), dtype=np.uint8)
