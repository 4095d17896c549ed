"""The simulator's digest header parsing (standard library) and its captures-folder rule."""

from __future__ import annotations

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from gemhost_drivers.hikvision_isapi.simulator.auth import parse_digest

from gemhost.cli import main

# The shape aiohttp's DigestAuthMiddleware sends (RFC 7616 section 3.4), with a quoted comma
# in the uri and an escaped quote in the cnonce.
HEADER = ('Digest username="admin", realm="IP Camera(SIM01)", nonce="6e6f6e6365", '
          'uri="/ISAPI/Streaming/channels/101/picture?a=1,2", qop=auth, nc=00000001, '
          'cnonce="c\\"q", response="0123456789abcdef0123456789abcdef", algorithm=MD5')


def test_parse_digest_fields():
    fields = parse_digest(HEADER)
    assert fields == {"username": "admin", "realm": "IP Camera(SIM01)", "nonce": "6e6f6e6365",
                      "uri": "/ISAPI/Streaming/channels/101/picture?a=1,2", "qop": "auth",
                      "nc": "00000001", "cnonce": 'c"q', "response": "0123456789abcdef0123456789abcdef",
                      "algorithm": "MD5"}


@pytest.mark.parametrize("header", ["Digest", "Digest garbage", "Digest nonce=, uri", 'Digest "unclosed'])
def test_parse_digest_tolerates_hostile_headers(header):
    assert "nonce" not in parse_digest(header)


def test_keys_are_case_insensitive():
    assert parse_digest('Digest UserName="a", NONCE="n"') == {"username": "a", "nonce": "n"}


def test_a_capture_needs_its_folder_named(capsys):
    """The captures are not part of the installed package, so there is no default folder."""
    with pytest.raises(ValueError, match="needs fixtures_dir"):
        IsapiSimulator(fixture="DS-7608NXI-I2")
    assert main(["simulate", "hikvision_isapi", "--fixture", "DS-7608NXI-I2"]) == 1
    assert "needs fixtures_dir" in capsys.readouterr().err
