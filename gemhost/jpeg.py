"""A tiny but valid baseline JPEG, built by hand so simulators need no imaging library.

Every simulator that serves snapshots (ISAPI's picture endpoint, Hik-Partner Pro's capture
URLs, third-party ones) uses this one. Every 8x8 block is flat mid-grey: its DC difference is
category 0 and its AC coefficients end at once (EOB). With one-symbol Huffman tables both
codes are the single bit ``0``, so the entropy-coded data is two zero bits per block. A COM
segment can name the stream so tests can tell snapshots of different channels apart.
"""

from __future__ import annotations

import struct


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def grey_jpeg(width: int = 64, height: int = 48, comment: str = "") -> bytes:
    """A ``width`` x ``height`` grey JPEG; the last row and column of 8x8 blocks are cropped
    by the decoder where the size is not a multiple of 8 (as in any JPEG)."""
    if width < 1 or height < 1 or width > 65535 or height > 65535:
        raise ValueError(f"a JPEG is 1..65535 pixels wide and high, not {width}x{height}")
    blocks = -(-width // 8) * -(-height // 8)
    dqt = bytes([0x00]) + bytes([1] * 64)
    sof = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])
    one_symbol = bytes([1] + [0] * 15) + bytes([0x00])
    dht = bytes([0x00]) + one_symbol + bytes([0x10]) + one_symbol
    sos = bytes([1, 1, 0x00, 0, 63, 0])
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i: i + 8], 2) for i in range(0, len(bits), 8))
    out = b"\xff\xd8"
    if comment:
        out += _segment(0xFE, comment.encode("ascii", "replace")[:60000])
    out += _segment(0xDB, dqt) + _segment(0xC0, sof) + _segment(0xC4, dht) + _segment(0xDA, sos)
    return out + scan + b"\xff\xd9"
