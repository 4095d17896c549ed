"""The host's bus on its own: typed routes, publication order, isolation of a broken sink."""

from __future__ import annotations

import asyncio

from gemhost.bus import Bus, DeviceStateChanged, EventRaised, SiteApplied
from gemhost.model import DeviceState, Event


def _event() -> Event:
    return Event(type="io", vendor_type="IO")


async def test_each_message_reaches_only_the_subscribers_of_its_kind():
    bus = Bus()
    everything, events, states = [], [], []
    bus.subscribe(everything.append)
    bus.subscribe(events.append, kinds=(EventRaised,))
    bus.subscribe(states.append, kinds=(DeviceStateChanged, SiteApplied))
    state = DeviceStateChanged("cam1", DeviceState(driver="demo"))
    site = SiteApplied(["cam1"], [], [])
    bus.publish(state)
    bus.publish_event("cam1", _event())
    bus.publish(site)
    assert [type(m) for m in everything] == [DeviceStateChanged, EventRaised, SiteApplied]
    assert [type(m) for m in events] == [EventRaised]
    assert states == [state, site]


async def test_routes_follow_subscribe_and_unsubscribe():
    bus = Bus()
    first, second = [], []
    leave = bus.subscribe(first.append, kinds=(EventRaised,))
    bus.publish_event("cam1", _event())
    bus.subscribe(second.append, kinds=(EventRaised,), durable=True)
    assert bus.has_durable_sink
    bus.publish_event("cam1", _event())
    leave()
    bus.publish_event("cam1", _event())
    assert (len(first), len(second)) == (2, 2)


async def test_a_broken_subscriber_costs_only_itself_and_delivery_waits_for_durable_sinks():
    bus = Bus()
    seen = []

    def broken(message) -> None:
        raise RuntimeError("sink bug")

    bus.subscribe(broken, kinds=(EventRaised,))
    bus.subscribe(seen.append, kinds=(EventRaised,), durable=True)
    delivered = bus.publish_event("cam1", _event())
    assert len(seen) == 1 and not delivered.done()  # the durable sink resolves it, not the bus
    seen[0].delivered.set_result(None)
    await asyncio.wait_for(delivered, 1)
    no_sink = Bus().publish_event("cam1", _event())
    assert no_sink.done()  # nobody durable: nothing to wait for
