"""The strict fast reader of flat alerts (flatxml) against the hardened parser (kernel.load).

Differential: on every document the fast reader accepts, its fields equal what the full
parser (xmltodict on expat, entities refused, depth limit) makes of the same bytes; real flat
alerts are accepted (else the fast path would silently never run); everything outside the
strict subset -- hostile, broken, nested, or merely unusual XML -- is declined and left to the
full parser. Documents: the real captures of hikvision_next's fixtures
(../shared/fixtures/isapi-captures/events), the simulator's firmware-shaped alerts and
heartbeats, variants of them, and seeded byte-level mutations of a real capture.
"""

from __future__ import annotations

import random

import pytest
from gemhost_drivers.hikvision_isapi import events, flatxml, kernel
from gemhost_drivers.hikvision_isapi.simulator.alerts import AlertWriter
from isapi_helpers import captures

CAMERA = AlertWriter(host="127.0.0.1", port=80, https=False, nvr=False, mac="02:00:00:00:00:01")
NVR = AlertWriter(host="127.0.0.1", port=80, https=False, nvr=True, mac="02:00:00:00:00:02")
IO = CAMERA.alert(1, "IO", inputIOPortID="1").encode()


def full(doc: bytes):
    """What the decoder's full path reads: the root's fields, or None for another root."""
    tag, fields = kernel.load(doc, max_depth=events.MAX_DEPTH)
    return fields if tag == "EventNotificationAlert" else None


def flat_documents() -> list[bytes]:
    """Flat alerts as devices send them, and legal variants of their form."""
    docs = [CAMERA.alert(1, "VMD").encode(), CAMERA.alert(1, "VMD", "inactive").encode(), IO,
            CAMERA.heartbeat().encode(), NVR.heartbeat().encode(), NVR.alert(3, "tamperdetection").encode()]
    docs += [
        IO.replace(b"\n", b"\r\n"),                                               # CRLF line ends
        IO.replace(b"Camera 01", b"Gate > yard"),                                 # a raw > is legal text
        IO.split(b"?>", 1)[1].lstrip(),                                           # no declaration
        IO.replace(b'<?xml version="1.0" encoding="UTF-8"?>', b"<?xml version='1.0' encoding='utf-8'?>"),
        IO.replace(b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.0" standalone="yes"?>'),
        IO.replace(b'version="2.0"', b'version="2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'),
        IO.replace(b"<channelName>Camera 01</channelName>", b"<channelName/><channelName >x</channelName >"),
        IO.replace(b"<eventDescription>IO alarm</eventDescription>", b"<eventDescription>  \t</eventDescription>"),
        IO.replace(b"<eventDescription>IO alarm</eventDescription>",
                   "<eventDescription>Entrée caméra</eventDescription>".encode()),
        IO.replace(b"<eventDescription>IO alarm</eventDescription>", b"<eventDescription>a\r\nb\rc</eventDescription>"),
        IO.replace(b"<channelName>Camera 01</channelName>", b"<a/><a>1</a><a></a>"),  # a repeated name: a list
    ]
    return docs


def test_flat_alerts_read_fast_equal_the_full_parse():
    for doc in flat_documents():
        fields = flatxml.flat_alert_fields(doc)
        assert fields is not None, doc
        assert fields == full(doc), doc
    assert flatxml.flat_alert_fields(flat_documents()[-1])["a"] == ["", "1", ""]


def test_real_captures_agree_with_the_full_parse():
    accepted = 0
    for path in sorted((captures() / "events").glob("*.xml")):
        doc = path.read_bytes().strip()
        fields = flatxml.flat_alert_fields(doc)
        if fields is not None:
            accepted += 1
            assert fields == full(doc), path.name
        else:  # nested (regions, Extensions) or entities: the full parser's business
            assert b"<Extensions" in doc or b"List>" in doc or b"&" in doc, path.name
    assert accepted == 4  # the three IO captures and the thermometry VMD are flat


def test_nested_simulator_alerts_go_the_full_way():
    """A smart event's region list and a duration part are nested: declined, read fully."""
    for doc in (CAMERA.alert(1, "linedetection", region=1).encode(), CAMERA.duration(1, "linedetection").encode()):
        assert flatxml.flat_alert_fields(doc) is None
        assert events.parse_alert_xml(doc)[0].event_type == "linedetection"


HOSTILE = {
    "entity bomb": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                   b"<EventNotificationAlert><eventType>&b;</eventType></EventNotificationAlert>",
    "external entity": b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                       b"<EventNotificationAlert><eventType>&e;</eventType></EventNotificationAlert>",
    "character reference": IO.replace(b">IO<", b">&#73;O<"),
    "escaped ampersand": IO.replace(b"Camera 01", b"A &amp; B"),
    "raw ampersand": IO.replace(b"Camera 01", b"A & B"),
    "comment": IO.replace(b"<eventType>", b"<!-- x --><eventType>"),
    "cdata": IO.replace(b">IO<", b"><![CDATA[IO]]><"),
    "processing instruction": IO.replace(b"<eventType>", b"<?pi x?><eventType>"),
    "nested": IO.replace(b"<channelName>Camera 01</channelName>", b"<a><b>1</b></a>"),
    "deep": b"<EventNotificationAlert>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</EventNotificationAlert>",
    "child attribute": IO.replace(b"<eventType>", b'<eventType id="1">'),
    "prefixed element": IO.replace(b"<eventType>IO</eventType>", b"<x:eventType>IO</x:eventType>"),
    "prefixed root": IO.replace(b"EventNotificationAlert", b"h:EventNotificationAlert"),
    "unbound attribute prefix": IO.replace(b'version="2.0"', b'version="2.0" xsi:type="a"'),
    "duplicate attribute": IO.replace(b'version="2.0"', b'version="2.0" version="2.1"'),
    "empty prefix declaration": IO.replace(b'version="2.0"', b'version="2.0" xmlns:p=""'),
    "mismatched close": IO.replace(b"</eventType>", b"</eventState>"),
    "truncated": IO[: IO.index(b"</eventState>")],
    "trailing garbage": IO + b"<x/>",
    "second root": IO + IO.split(b"?>", 1)[1],
    "control character": IO.replace(b"Camera 01", b"Camera\x0101"),
    "invalid utf-8": IO.replace(b"Camera 01", b"Camera \xff"),
    "noncharacter": IO.replace(b"Camera 01", "Camera \ufffe".encode()),
    "cdata end in text": IO.replace(b"Camera 01", b"a]]>b"),
    "latin-1 declared": IO.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
    "xml 1.1": IO.replace(b'version="1.0"', b'version="1.1"'),
    "byte order mark": b"\xef\xbb\xbf" + IO,
    "form feed between tags": IO.replace(b"\n<eventType>", b"\x0c<eventType>"),
    "other root": IO.replace(b"EventNotificationAlert", b"ResponseStatus"),
    "empty root": b"<EventNotificationAlert></EventNotificationAlert>",
    "attribute with >": IO.replace(b'version="2.0"', b'version="2>0"'),
    "text before the root": b"junk" + IO.split(b"?>", 1)[1],
    "doctype without entities": b"<!DOCTYPE EventNotificationAlert>" + IO.split(b"?>", 1)[1],
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_everything_outside_the_strict_form_goes_the_full_way(name):
    doc = HOSTILE[name]
    assert flatxml.flat_alert_fields(doc) is None
    try:  # the decoder's answer comes from the full parser: alerts, or a part it refuses
        assert isinstance(events.parse_alert_xml(doc), list)
    except events.PartError:
        pass


def test_hostile_entities_are_still_refused_by_the_decoder():
    for name in ("entity bomb", "external entity"):
        with pytest.raises(events.PartError):
            events.parse_alert_xml(HOSTILE[name])


def test_mutations_of_a_real_capture_never_read_differently():
    """Seeded single and double byte edits of a real IO capture (characters that matter to
    XML): whatever the fast reader accepts, the full parser reads alike; the rest it declines.
    Some edits must stay acceptable (text edits), else the test would prove nothing."""
    doc = (captures() / "events" / "cam1_DS-2CD2T46G2-ISU_io_notification.xml").read_bytes().strip()
    assert flatxml.flat_alert_fields(doc) == full(doc)
    alphabet = [b"<", b">", b"/", b"&", b";", b"'", b'"', b"=", b" ", b"\r", b"\n", b"\t", b"\x00", b"\x0b",
                b"!", b"?", b"[", b"]", b":", b"-", b"x", b"\xc3", b"\xe9", b"\xef\xbf\xbe"]
    rng = random.Random(14)
    accepted = 0
    for _ in range(3000):
        mutated = bytearray(doc)
        for _ in range(rng.choice((1, 2))):
            at = rng.randrange(len(mutated) + 1)
            piece = rng.choice(alphabet)
            if rng.random() < 0.5 and at < len(mutated):
                mutated[at: at + 1] = piece  # replace a byte
            else:
                mutated[at:at] = piece  # insert
        candidate = bytes(mutated)
        fields = flatxml.flat_alert_fields(candidate)
        if fields is None:
            continue
        accepted += 1
        assert fields == full(candidate), candidate
    assert accepted > 300


def test_decoder_results_do_not_depend_on_the_path():
    """The part decoder on flat and non-flat forms of one alert yields the same Alert."""
    fast = events.parse_alert_xml(IO)[0]
    slow = events.parse_alert_xml(IO.replace(b"<channelName>", b"<!-- c --><channelName>"))[0]
    assert flatxml.flat_alert_fields(IO) is not None
    assert (fast.event_type, fast.state, fast.channel_id, fast.key, fast.fields, fast.data()) == \
        (slow.event_type, slow.state, slow.channel_id, slow.key, slow.fields, slow.data())


def test_two_flat_documents_in_one_part_are_both_read():
    """The multi-document search still runs when a part names the root more than twice."""
    two = IO + b"\n" + CAMERA.alert(2, "VMD").encode()
    assert [(a.event_type, a.channel_id) for a in events.parse_alert_xml(two)] == [("IO", 1), ("VMD", 2)]
