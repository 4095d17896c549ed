"""Issue 13, items 8 and 13: the broker flaps, hangs, or is not who it claims to be.

* Item 8: the reconnect backoff reset only when ``_connect_once`` returned, but a session
  always ends by raising; after a few flaps every reconnect waited up to 60 s.
* Item 13: a broker that hangs (SIGSTOP) must be detected by the keepalive while events
  queue, and delivered once it is back (before the fix the reconnect silently fell back to
  MQTT 3.1.1); MQTT over TLS with a certificate from another CA must fail cleanly and keep
  retrying; a flood of ``online`` on Home Assistant's status topic re-published discovery
  once per message.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
from fault_helpers import KEEP_EVERYTHING, B, connected, publish_lines, site_yaml, until

from gemhost.model import Event
from gemhost.mqtt.session import FAST_RETRY_CEILING, STABLE_SESSION
from gemhost.selfsigned import write_self_signed

pytestmark = pytest.mark.mosquitto

FLAPS = 5


async def test_the_backoff_starts_afresh_after_every_good_connection(mosquitto, start_host):
    host = await start_host(site_yaml(mosquitto))
    bridge = host.bridge
    await connected(host)
    for flap in range(FLAPS):
        await asyncio.sleep(STABLE_SESSION + 0.2)  # a connection that lasted
        connections = bridge.connections
        await mosquitto.stop()
        await until(lambda: not bridge.connected.is_set(), "the host noticing the broker gone", timeout=10)
        await asyncio.sleep(0.3)
        await mosquitto.start()  # same port
        # bounded wait: before the fix the fifth flap alone could wait up to 16 s
        await until(lambda c=connections: bridge.connections > c and bridge.connected.is_set(),
                    f"reconnect after flap {flap + 1}", timeout=2 * FAST_RETRY_CEILING + 4)
    # every wait the loop chose stayed within the fast ceiling: none grew with the flaps
    assert bridge.reconnect_ceilings and max(bridge.reconnect_ceilings) <= FAST_RETRY_CEILING


async def test_a_hung_broker_is_detected_and_events_wait_for_it(mosquitto, start_host, watch):
    host = await start_host(site_yaml(mosquitto))
    bridge = host.bridge
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    w = await watch(mosquitto.port, f"{B}/cam1/door/event")
    proc = mosquitto._proc
    proc.send_signal(signal.SIGSTOP)
    try:
        # straight onto the bus: this is about the bridge's queue, not the event lifetime (whose
        # pulse-hold ends would add their own events while the broker hangs)
        delivered = [host.bus.publish_event("cam1", Event(type="motion", vendor_type="VMD", zone="door",
                                                          id=f"hung-{n}", data={"n": n})) for n in range(20)]
        # keepalive 5 s: no PINGRESP (or PUBACK) from a stopped broker ends the session
        await until(lambda: not bridge.connected.is_set(), "the keepalive noticing the hung broker", timeout=30)
        assert len(bridge.queue) == 20 and not any(f.done() for f in delivered)
        # still hung for a while: reconnect attempts time out (an MQTT 5 CONNECT that gets no
        # answer must not be taken for a broker that only speaks 3.1.1)
        await asyncio.sleep(4)
    finally:
        proc.send_signal(signal.SIGCONT)
    await asyncio.wait_for(asyncio.gather(*delivered), 40)
    await until(lambda: len({m.payload for m in w.on(f"{B}/cam1/door/event")}) == 20, "all 20 events", timeout=20)
    assert bridge.queue.dropped == 0 and bridge.protocol.name == "V5"  # no silent downgrade to 3.1.1


async def test_tls_with_a_certificate_from_another_ca_fails_cleanly_and_retries(tmp_path, mosquitto_factory,
                                                                                start_host, caplog):
    broker_dir, other_dir = tmp_path / "broker-ca", tmp_path / "other-ca"
    broker_dir.mkdir()
    other_dir.mkdir()
    cert, key = write_self_signed(broker_dir, common_name="the broker's own CA")
    other_ca, _ = write_self_signed(other_dir, common_name="some other CA")
    broker = await mosquitto_factory(f"cafile {cert}\ncertfile {cert}\nkeyfile {key}\n")
    tls = f"  tls: {{ca_file: {other_ca}, verify: true}}"
    host = await start_host(site_yaml(broker, broker_url=f"mqtts://gemhost:tls-secret-pw@127.0.0.1:{broker.port}",
                                      mqtt=tls))
    # the host runs its devices without the broker, and keeps trying with backoff
    await until(lambda: host.runners["cam1"].state.online, "cam1 online without MQTT")
    await until(lambda: len(host.bridge.reconnect_ceilings) >= 3, "three reconnect attempts", timeout=20)
    assert not host.bridge.connected.is_set() and host.bridge.connections == 0
    failures = [r.getMessage() for r in caplog.records if "MQTT connection" in r.getMessage()]
    assert failures and all("certificate verify failed" in m for m in failures), failures
    assert "tls-secret-pw" not in caplog.text
    assert host.bridge.protocol is None  # nothing was taken for a working protocol


async def test_a_flood_on_home_assistants_status_costs_one_republish(mosquitto_factory, start_host, watch):
    # The broker keeps everything it queues for gemhost: with mosquitto's default (1,000 queued
    # per client, the rest dropped) the broker itself drops some of the 50 requests when the
    # 5,000 status messages arrive first, and the test would measure mosquitto, not gemhost.
    mosquitto = await mosquitto_factory(KEEP_EVERYTHING)
    host = await start_host(site_yaml(mosquitto, mqtt="  discovery: true"))
    bridge = host.bridge
    await connected(host)
    await until(lambda: all(r.state.online for r in host.runners.values()), "both cameras online")
    config = "homeassistant/device/flt_cam1/config"
    w = await watch(mosquitto.port, config, f"{B}/cam1/cmd/echo/reply")
    await w.wait(config)  # the retained one
    await asyncio.sleep(0.5)  # let the start-up publishing settle
    before = len(w.on(config))

    flood = asyncio.create_task(publish_lines(mosquitto.port, "homeassistant/status", [b"online"] * 5000))
    requests = asyncio.create_task(publish_lines(
        mosquitto.port, f"{B}/cam1/cmd/echo", [b'{"id": %d, "args": {"text": "x"}}' % n for n in range(50)]))
    await asyncio.gather(flood, requests)
    await until(lambda: len(w.on(f"{B}/cam1/cmd/echo/reply")) >= 50, "the 50 replies during the flood")
    await until(lambda: bridge.discovery_republished >= 1, "the re-publish after the flood", timeout=20)
    await w.wait(config, lambda m: len(w.on(config)) > before)
    await asyncio.sleep(1.5)  # nothing else follows
    assert bridge.discovery_republished == 1 and len(w.on(config)) == before + 1
    assert sorted(r["id"] for r in (json.loads(m.payload) for m in w.on(f"{B}/cam1/cmd/echo/reply"))) == \
        list(range(50))
