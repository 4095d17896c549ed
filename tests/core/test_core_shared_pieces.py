"""Small shared pieces of the core: ids from names, atomic file replacement, the test JPEG,
numbers read from untrusted documents."""

from __future__ import annotations

import os
import struct

import pytest

from gemhost import atomicfile, ids
from gemhost.jpeg import grey_jpeg
from gemhost.values import int_or_none


def test_slugify_folds_accents_and_stays_unique():
    taken = {"entrance"}
    assert ids.slugify("Entrance", taken) == "entrance_2"
    assert ids.slugify("Caméra Nord / Tor 1", taken) == "camera_nord_tor_1"
    assert ids.slugify("!!!", taken) == "zone"
    assert ids.slugify("!!!", taken, fallback="camera 77") == "camera_77"
    assert ids.slugify("日本", taken) == "zone_2"  # nothing ASCII is left: the fallback, made unique
    long_id = ids.slugify("x" * 100, taken)
    assert len(long_id) == 64 and len(ids.slugify("x" * 100, taken)) == 64
    assert {"entrance_2", "camera_nord_tor_1", "zone", "camera_77", "zone_2"} <= taken


def test_unique_keeps_a_free_id():
    taken: set[str] = set()
    assert ids.unique("door", taken) == "door" and ids.unique("door", taken) == "door_2"


def test_write_text_replaces_whole_and_keeps_permissions(tmp_path):
    target = tmp_path / "site.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    atomicfile.write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640  # a private site file stays private
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.yaml"]  # no temporary left


def test_write_text_with_mode_and_in_a_new_folder(tmp_path):
    target = tmp_path / "state" / "tokens.json"
    atomicfile.write_text(target, "{}", mode=0o600)
    assert target.read_text() == "{}" and target.stat().st_mode & 0o777 == 0o600


def test_a_failed_check_leaves_the_old_file(tmp_path):
    target = tmp_path / "site.yaml"
    target.write_text("good\n")
    with pytest.raises(ValueError, match="invalid"), atomicfile.replacing(target) as tmp:
        tmp.write_text("bad\n")
        raise ValueError("the new content is invalid")
    assert target.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.yaml"]


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of a JPEG up to SOS, as a decoder walks it."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    out, i = [], 2
    while True:
        marker, length = struct.unpack(">HH", data[i:i + 4])
        out.append((marker, data[i + 4:i + 2 + length]))
        i += 2 + length
        if marker == 0xFFDA:
            return out


@pytest.mark.parametrize(("width", "height"), [(1, 1), (64, 48), (13, 9)])
def test_grey_jpeg_is_a_baseline_jpeg_of_the_asked_size(width, height):
    data = grey_jpeg(width, height, comment="stream 101")
    segments = dict(_segments(data))
    assert segments[0xFFFE] == b"stream 101"
    precision, h, w, components = struct.unpack(">BHHB", segments[0xFFC0][:6])
    assert (precision, w, h, components) == (8, width, height, 1)
    assert 0xFFDB in segments and 0xFFC4 in segments


def test_grey_jpeg_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="0x5"):
        grey_jpeg(0, 5)


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), ("3", 3), (" 42 ", 42), ("-1", -1), ("0", 0),  # HPP pads strings (guide 3.21 examples)
    (None, None), ("", None), ("  ", None), ("3.5", None), (3.5, None), ("abc", None), ({}, None), ([1], None),
])
def test_int_or_none_reads_whole_numbers_only(value, expected):
    assert int_or_none(value) == expected
