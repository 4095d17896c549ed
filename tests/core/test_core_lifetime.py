"""The core's event lifetime on its own (unit tests; the end-to-end routes through a real
broker are in tests/e2e): one active and one inactive per condition, by every route."""

from __future__ import annotations

import asyncio

import pytest

from gemhost.lifetime import EventLifetime
from gemhost.model import Event

KINDS = {"motion": "repeating", "line_crossing": "repeating", "io": "stateful", "card": "pulse"}


class Recorder:
    def __init__(self, quiet: float = 60, hold: float = 60) -> None:
        self.published: list[Event] = []
        self.flags: list[tuple[str, str, bool]] = []
        self.life = EventLifetime(lambda t: KINDS.get(t, "pulse"), self.publish, self.flag,
                                  quiet_time=quiet, pulse_hold=hold)

    def publish(self, event: Event) -> asyncio.Future[None]:
        self.published.append(event)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def flag(self, zone: str, event_type: str, on: bool) -> None:
        self.flags.append((zone, event_type, on))

    def states(self) -> list[tuple[str, str, str | None]]:
        return [(e.type, e.state, e.ended_by) for e in self.published]

    async def settle(self) -> None:
        while self.life.open_count:
            await asyncio.sleep(0.01)


def ev(event_type: str, state: str = "active", zone: str | None = "z1", **kw) -> Event:
    return Event(type=event_type, vendor_type=event_type.upper(), state=state, zone=zone, channel=1, **kw)


async def test_repeating_repeats_are_silent_and_quiet_time_ends_it():
    r = Recorder(quiet=0.05)
    for _ in range(4):
        r.life.report(ev("motion"))
    assert r.states() == [("motion", "active", None)]
    await asyncio.wait_for(r.settle(), 5)
    assert r.states() == [("motion", "active", None), ("motion", "inactive", "quiet_time")]
    start, end = r.published
    assert start.event_id == end.event_id and start.event_id and start.kind == end.kind == "repeating"
    assert end.repeats == 3
    assert r.flags == [("z1", "motion", True), ("z1", "motion", False)]


async def test_stateful_waits_for_the_device_end_and_ignores_repeats():
    r = Recorder(quiet=0.01)
    r.life.report(ev("io", key="1"))
    r.life.report(ev("io", key="1"))
    await asyncio.sleep(0.05)  # no quiet-time end for a stateful type
    assert r.states() == [("io", "active", None)]
    r.life.report(ev("io", "inactive", key="1", data={"cid": "3130"}))
    assert r.states() == [("io", "active", None), ("io", "inactive", "device")]
    assert r.published[1].data == {"cid": "3130"} and r.published[1].repeats == 1
    r.life.report(ev("io", "inactive", key="1"))  # an end with nothing open publishes nothing
    assert len(r.published) == 2


async def test_an_end_without_a_key_ends_every_condition_of_that_type_on_the_channel():
    # Real linedetection inactive parts carry no region while the active ones name region 1.
    r = Recorder()
    r.life.report(ev("line_crossing", key="1"))
    r.life.report(ev("line_crossing", key="2"))
    r.life.report(ev("motion"))
    r.life.report(ev("line_crossing", "inactive"))
    assert [s for s in r.states() if s[1] == "inactive"] == [("line_crossing", "inactive", "device")] * 2
    assert r.life.is_active("z1", "motion") and not r.life.is_active("z1", "line_crossing")
    # the next crossing is a new condition, not a repeat of the old one
    r.life.report(ev("line_crossing", key="1"))
    assert r.states()[-1] == ("line_crossing", "active", None)
    ids = {e.event_id for e in r.published if e.type == "line_crossing" and e.state == "active"}
    assert len(ids) == 3


async def test_each_pulse_is_its_own_condition_held_for_pulse_hold():
    r = Recorder(hold=0.05)
    r.life.report(ev("card", "pulse", id="swipe-1"))
    r.life.report(ev("card", "pulse", id="swipe-2"))
    assert r.states() == [("card", "active", None), ("card", "active", None)]
    assert r.flags == [("z1", "card", True), ("z1", "card", True)]
    await asyncio.wait_for(r.settle(), 5)
    assert r.states()[2:] == [("card", "inactive", "pulse")] * 2
    assert r.flags[-1] == ("z1", "card", False)
    assert [e.id for e in r.published[2:]] == ["swipe-1", "swipe-2"]


async def test_an_active_report_of_a_pulse_kind_type_is_a_pulse():
    r = Recorder(hold=0.02)
    r.life.report(ev("doorbell"))  # undeclared: the default kind, pulse
    await asyncio.wait_for(r.settle(), 5)
    assert r.states() == [("doorbell", "active", None), ("doorbell", "inactive", "pulse")]


async def test_update_carries_the_event_id_and_changes_no_zone_state():
    r = Recorder()
    r.life.report(ev("motion", "active", id="v-1"))
    flags = list(r.flags)
    r.life.report(ev("motion", "update", zone=None, refers_to="v-1", data={"picture": "p.jpg"}))
    start, update = r.published
    assert update.state == "update" and update.event_id == start.event_id and update.zone == "z1"
    assert r.flags == flags
    # after the condition ended, a late update still finds its event
    r.life.end_all("stop")
    r.life.report(ev("motion", "update", refers_to="v-1"))
    assert r.published[-1].event_id == start.event_id
    # an update for an unknown event is published without an event id rather than lost
    r.life.report(ev("motion", "update", refers_to="nope"))
    assert r.published[-1].state == "update" and r.published[-1].event_id is None


@pytest.mark.parametrize("reason", ["offline", "reload", "stop"])
async def test_end_all_ends_every_open_condition_once(reason):
    r = Recorder()
    r.life.report(ev("motion"))
    r.life.report(ev("io", key="2", zone="z2"))
    r.life.report(ev("card", "pulse"))
    assert r.life.end_all(reason) == 3
    assert sorted(s for s in r.states() if s[1] == "inactive") == [
        ("card", "inactive", reason), ("io", "inactive", reason), ("motion", "inactive", reason)]
    assert r.life.end_all(reason) == 0


async def test_end_all_for_one_zone_leaves_the_others():
    r = Recorder()
    r.life.report(ev("motion", zone="a"))
    r.life.report(ev("motion", zone="b"))
    assert r.life.end_all("reload", zone="a") == 1
    assert r.life.is_active("b", "motion") and not r.life.is_active("a", "motion")


async def test_zone_flag_stays_on_while_any_condition_of_the_type_is_open():
    r = Recorder()
    r.life.report(ev("io", key="1"))
    r.life.report(ev("io", key="2"))
    r.life.report(ev("io", "inactive", key="1"))
    assert r.flags[-1] == ("z1", "io", True)
    r.life.report(ev("io", "inactive", key="2"))
    assert r.flags[-1] == ("z1", "io", False)


async def test_a_device_end_returns_the_delivery_of_what_it_ended():
    # HPP commits a batch only after the broker acked it: a restore must not look delivered early
    pending: list[asyncio.Future[None]] = []

    def publish(event: Event) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending.append(fut)
        return fut

    life = EventLifetime(lambda t: "stateful", publish, lambda *a: None, quiet_time=60, pulse_hold=60)
    life.report(ev("alarm", key="3"))
    life.report(ev("alarm", key="4"))
    end_one = life.report(ev("alarm", "inactive", key="3"))
    end_all = life.report(ev("alarm", "inactive"))
    assert not end_one.done()
    pending[2].set_result(None)
    await asyncio.sleep(0)
    assert end_one.done() and not end_all.done()
    pending[3].set_result(None)
    await asyncio.wait_for(end_all, 5)
    assert life.report(ev("alarm", "inactive")).done()  # nothing open: nothing to wait for


def test_evolve_copies_and_refuses_unknown_fields():
    """The lifetime's copies (``Event.evolve``) leave the report untouched and, like
    ``dataclasses.replace``, refuse a field the event does not have."""
    report = Event(type="io", vendor_type="IO", zone="z1", data={"a": 1}, key="1")
    started = report.evolve(state="active", event_id="e1", kind="stateful")
    assert (report.event_id, report.kind) == (None, None)
    assert started == Event(type="io", vendor_type="IO", zone="z1", data={"a": 1}, key="1", time=report.time,
                            event_id="e1", kind="stateful")
    assert isinstance(started, Event) and started is not report
    with pytest.raises(TypeError, match="no field 'colour'"):
        report.evolve(colour="red")
