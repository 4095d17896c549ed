"""The host running real devices of the demo driver: liveness, isolation, back-off, reload."""

from __future__ import annotations

import asyncio

import pytest

from gemhost import errors
from gemhost.bus import DeviceStateChanged, EventRaised, SiteApplied, ZoneStateChanged
from gemhost.errors import CommandError
from gemhost.host import Host
from gemhost.model import AUTH_FAILED, OFFLINE, ONLINE, STOPPED
from gemhost.testing import until

SITE = """
site: {id: home}
host: {command_timeout: 0.3}
devices:
  - id: cam1
    driver: demo
    attributes: {host: 127.0.0.1, key: k1, status_interval: 50}
    zones:
      - id: door
        attributes: {channel: 1}
      - id: yard
        attributes: {channel: 2}
  - id: cam2
    driver: demo
    attributes: {host: 127.0.0.2, key: k2, status_interval: 50}
"""


@pytest.fixture
async def host(write_site, registry):
    h = Host(write_site(SITE), registry, mqtt=False)
    await h.start()
    yield h
    await h.stop()


async def test_devices_come_online_with_info(host, wait_until):
    await wait_until(lambda: all(r.state.status == ONLINE for r in host.runners.values()))
    state = host.runners["cam1"].state.as_dict()
    assert state["online"] is True and state["last_error"] is None
    assert state["info"] == {"model": "Demo-1", "firmware": "V1.0", "serial": "SN-cam1"}
    assert host.stats()["devices_online"] == 2


async def test_liveness_transitions_offline_and_back(host, demo, wait_until):
    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.status == ONLINE)
    went_online = runner.state.since
    demo.BEHAVIOUR["cam1"] = "down"
    await wait_until(lambda: runner.state.status == OFFLINE)
    assert runner.state.last_error == "connection refused by 127.0.0.1"
    assert runner.state.since > went_online
    demo.BEHAVIOUR["cam1"] = "ok"
    await wait_until(lambda: runner.state.status == ONLINE)
    assert runner.state.last_error is None


async def test_steady_polls_publish_nothing_new(host, demo, wait_until):
    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.status == ONLINE)
    seen = []
    host.bus.subscribe(lambda m: seen.append(m) if isinstance(m, DeviceStateChanged) else None)
    polls = demo.POLLS["cam1"]
    await wait_until(lambda: demo.POLLS["cam1"] >= polls + 3)
    assert [m for m in seen if m.device == "cam1"] == []
    demo.BEHAVIOUR["cam1"] = "down"
    await wait_until(lambda: any(m.device == "cam1" for m in seen))
    assert seen[-1].state.status == OFFLINE


async def test_live_device_traffic_replaces_most_polls(host, demo, wait_until):
    """While the driver says the device's own traffic is live, a liveness tick skips the poll,
    except every TRAFFIC_REFRESH_TICKS-th (device info stays fresh, the login proven)."""
    from gemhost.runner import TRAFFIC_REFRESH_TICKS

    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.status == ONLINE)
    demo.TRAFFIC.add("cam1")
    asked, polls = demo.TRAFFIC_ASKED["cam1"], demo.POLLS["cam1"]
    ticks = 3 * TRAFFIC_REFRESH_TICKS
    await wait_until(lambda: demo.TRAFFIC_ASKED["cam1"] >= asked + ticks)
    assert 2 <= demo.POLLS["cam1"] - polls <= 4  # one poll in TRAFFIC_REFRESH_TICKS ticks, not one per tick
    assert runner.state.status == ONLINE

    demo.TRAFFIC.discard("cam1")  # traffic stopped: every tick polls again
    polls = demo.POLLS["cam1"]
    asked = demo.TRAFFIC_ASKED["cam1"]
    await wait_until(lambda: demo.TRAFFIC_ASKED["cam1"] >= asked + 5)
    assert demo.POLLS["cam1"] - polls >= 4


async def test_traffic_never_keeps_an_offline_device_from_being_polled(host, demo, wait_until):
    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.status == ONLINE)
    demo.TRAFFIC.add("cam1")
    demo.BEHAVIOUR["cam1"] = "down"
    await wait_until(lambda: runner.state.status == OFFLINE)  # found by the refresh poll
    polls = demo.POLLS["cam1"]
    await wait_until(lambda: demo.POLLS["cam1"] >= polls + 3)  # offline: polled at every tick
    demo.BEHAVIOUR["cam1"] = "ok"
    await wait_until(lambda: runner.state.status == ONLINE)


async def test_a_failing_last_traffic_falls_back_to_polling(host, demo, wait_until):
    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.status == ONLINE)
    demo.TRAFFIC.add("cam1")
    demo.BEHAVIOUR["cam1"] = "traffic_bug"
    polls, asked = demo.POLLS["cam1"], demo.TRAFFIC_ASKED["cam1"]
    await wait_until(lambda: demo.TRAFFIC_ASKED["cam1"] >= asked + 5)
    assert demo.POLLS["cam1"] - polls >= 4 and runner.state.status == ONLINE  # polled at every tick


async def test_hanging_device_is_isolated(host, demo, wait_until):
    demo.BEHAVIOUR["cam1"] = "hang"
    await wait_until(lambda: host.runners["cam1"].state.status == OFFLINE)
    assert host.runners["cam1"].state.last_error == "no answer within 0.3s"
    assert host.runners["cam2"].state.status == ONLINE
    assert await host.call("cam2", "echo", {"text": "hi"}) == {"args": {"text": "hi", "count": 1}}


async def test_crashing_driver_is_isolated(host, demo, wait_until):
    demo.BEHAVIOUR["cam2"] = "crash"
    await wait_until(lambda: host.runners["cam2"].state.status == OFFLINE)
    assert host.runners["cam2"].state.last_error == "driver bug"
    assert host.runners["cam1"].state.status == ONLINE


async def test_driver_that_cannot_be_built_fails_only_its_device(write_site, registry, demo, wait_until):
    demo.BEHAVIOUR["cam1"] = "init_crash"
    async with Host(write_site(SITE), registry, mqtt=False) as host:
        await wait_until(lambda: host.runners["cam2"].state.status == ONLINE)
        broken = host.runners["cam1"]
        assert broken.state.status == OFFLINE
        assert broken.state.last_error == "driver could not start: unsupported firmware family"
        with pytest.raises(CommandError) as info:
            await host.call("cam1", "echo", {"text": "x"})
        assert info.value.code == errors.DEVICE_OFFLINE
    assert broken.state.status == STOPPED


async def test_auth_failures_stop_after_two_until_reload(write_site, registry, demo, wait_until):
    demo.BEHAVIOUR["cam1"] = "auth"
    path = write_site(SITE)
    async with Host(path, registry, mqtt=False) as host:
        runner = host.runners["cam1"]
        await wait_until(lambda: runner.state.status == AUTH_FAILED)
        assert demo.CONNECTS["cam1"] == 2
        assert "wrong credentials" in runner.state.last_error
        assert "not retried" in runner.state.last_error
        # The liveness loop is over: no third login attempt however long we wait.
        await host.runners["cam2"].first_attempt.wait()
        assert runner._tasks[0].done() and demo.CONNECTS["cam1"] == 2
        # A reload, even of the unchanged file, is the deliberate "try again".
        demo.BEHAVIOUR["cam1"] = "ok"
        cam2 = host.runners["cam2"]
        assert await host.reload() == []
        await wait_until(lambda: host.runners["cam1"].state.status == ONLINE)
        assert demo.CONNECTS["cam1"] == 3
        assert host.runners["cam2"] is cam2  # healthy devices are left alone


async def test_refused_logins_in_commands_count_toward_the_lockout_guard(host, demo, wait_until):
    runner = host.runners["cam1"]
    await wait_until(lambda: runner.state.online)
    with pytest.raises(CommandError) as info:
        await host.call("cam1", "login", {})
    assert info.value.code == errors.DEVICE_ERROR and "password changed" in info.value.message
    assert runner.state.status == OFFLINE  # later commands fail fast instead of each logging in
    with pytest.raises(CommandError) as info:
        await host.call("cam1", "echo", {"text": "x"})
    assert info.value.code == errors.DEVICE_OFFLINE
    await wait_until(lambda: runner.state.online)  # the next good poll clears it
    # Two refusals in a row (here: two commands at once) park the device, liveness included.
    results = await asyncio.gather(host.call("cam1", "login", {}), host.call("cam1", "login", {}),
                                   return_exceptions=True)
    assert [r.code for r in results] == [errors.DEVICE_ERROR, errors.DEVICE_ERROR]
    assert runner.state.status == AUTH_FAILED
    polls, other = demo.POLLS["cam1"], demo.POLLS["cam2"]
    await wait_until(lambda: demo.POLLS["cam2"] >= other + 3)  # several poll intervals go by
    assert demo.POLLS["cam1"] == polls and runner.state.status == AUTH_FAILED


async def test_commands_are_validated_against_the_schema(host, wait_until):
    await wait_until(lambda: host.runners["cam1"].state.online)

    async def code_of(device, command, args):
        with pytest.raises(CommandError) as info:
            await host.call(device, command, args)
        return info.value.code, info.value.message

    assert (await code_of("nope", "echo", {}))[0] == errors.UNKNOWN_DEVICE
    assert (await code_of("cam1", "bogus", {}))[0] == errors.UNKNOWN_COMMAND
    code, message = await code_of("cam1", "echo", {"text": "x", "count": 11})
    assert code == errors.INVALID_ARGS and message == "argument 'count': must be at most 10, got 11"
    code, message = await code_of("cam1", "echo", {})
    assert code == errors.INVALID_ARGS and "'text'" in message and "required" in message
    code, message = await code_of("cam1", "echo", {"text": "x", "colour": 1})
    assert code == errors.INVALID_ARGS and "'colour'" in message
    assert (await code_of("cam1", "echo", ["not", "a", "dict"]))[0] == errors.INVALID_ARGS
    code, message = await code_of("cam1", "fail", {"reason": "busy"})
    assert (code, message) == (errors.DEVICE_ERROR, "device says no: busy")
    code, message = await code_of("cam1", "reset_password", {})
    assert code == errors.NOT_SUPPORTED and "password reset" in message
    code, message = await code_of("cam1", "sleep", {"ms": 5000})
    assert code == errors.TIMEOUT
    code, message = await code_of("cam1", "fire", {"zone": "garage"})
    assert code == errors.INVALID_ARGS and "garage" in message


async def test_offline_device_fails_fast_except_offline_ok(host, demo, wait_until):
    demo.BEHAVIOUR["cam2"] = "down"
    await wait_until(lambda: host.runners["cam2"].state.status == OFFLINE)
    with pytest.raises(CommandError) as info:
        await host.call("cam2", "echo", {"text": "x"})
    assert info.value.code == errors.DEVICE_OFFLINE and "connection refused" in info.value.message
    assert await host.call("cam2", "status", {}) == {"behaviour": "down"}


async def test_zone_commands_resolve_zone_by_id_or_key(host, wait_until):
    seen = []
    host.bus.subscribe(seen.append)
    await wait_until(lambda: host.runners["cam1"].state.online)
    assert await host.call("cam1", "fire", {"zone": "yard"}) == {"zone": "yard"}
    assert await host.call("cam1", "fire", {"channel": 1, "state": "active"}) == {"zone": "door"}
    assert await host.call("cam1", "fire", {"channel": 9}) == {"zone": None}
    events = [m for m in seen if isinstance(m, EventRaised)]
    assert [(m.event.zone, m.event.channel) for m in events] == [("yard", 2), ("door", 1), (None, 9)]
    assert host.runners["cam1"].zone_states["door"]["active"] == {"motion": True}
    await host.call("cam1", "fire", {"zone": "door", "state": "inactive"})
    assert host.runners["cam1"].zone_states["door"]["active"] == {"motion": False}
    await host.call("cam1", "mark", {"zone": "door", "note": "checked"})
    zone_msgs = [m for m in seen if isinstance(m, ZoneStateChanged) and m.zone == "door"]
    assert zone_msgs[-1].state["note"] == "checked"


async def test_reload_applies_a_diff(write_site, registry, demo, wait_until):
    path = write_site(SITE)
    async with Host(path, registry, mqtt=False) as host:
        await wait_until(lambda: all(r.state.online for r in host.runners.values()))
        seen = []
        host.bus.subscribe(seen.append)
        cam1, cam2 = host.runners["cam1"], host.runners["cam2"]
        changed = SITE.replace(
            """      - id: yard
        attributes: {channel: 2}
""", "").replace("key: k2", "key: k2-rotated") + """  - id: cam3
    driver: demo
    attributes: {host: 127.0.0.3, key: k3, status_interval: 50}
"""
        path.write_text(changed)
        connects = dict(demo.CONNECTS)
        assert await host.reload() == []
        assert set(host.runners) == {"cam1", "cam2", "cam3"}
        # Only cam1's zones changed: same runner, same connection, zone list updated.
        assert host.runners["cam1"] is cam1 and cam1.state.online
        assert list(cam1.config.zones) == ["door"] and list(cam1.zone_states) == ["door"]
        assert demo.CONNECTS["cam1"] == connects["cam1"]
        # cam2's attributes changed: restarted with the new configuration.
        assert host.runners["cam2"] is not cam2 and cam2.state.status == STOPPED
        applied = [m for m in seen if isinstance(m, SiteApplied)][-1]
        assert applied.removed_zones == [("cam1", "yard")] and applied.removed_devices == []
        path.write_text(SITE.replace("devices:\n", "devices:\n  - id: cam9\n    driver: demo\n"
                                     "    attributes: {host: 1.2.3.4, key: k, status_interval: 50}\n", 1)
                        .replace("id: cam2", "id: cam1"))  # duplicate id: invalid
        problems = await host.reload()
        assert any("duplicate device id 'cam1'" in p.message for p in problems)
        assert set(host.runners) == {"cam1", "cam2", "cam3"}  # running site unchanged
        path.write_text(SITE)
        assert await host.reload() == []
        assert set(host.runners) == {"cam1", "cam2"}


async def test_clean_shutdown_closes_every_device(write_site, registry, demo, wait_until):
    host = Host(write_site(SITE), registry, mqtt=False)
    await host.start()
    await wait_until(lambda: all(r.state.online for r in host.runners.values()))
    await host.stop()
    assert sorted(demo.CLOSED) == ["cam1", "cam2"]
    assert all(r.state.status == STOPPED for r in host.runners.values())


async def test_bad_site_never_starts_half_a_site(write_site, registry, demo):
    from gemhost.siteyaml import SiteFileError

    host = Host(write_site(SITE + "  - id: bad\n    driver: demo\n"), registry, mqtt=False)
    with pytest.raises(SiteFileError):
        await host.start()
    assert host.runners == {} and demo.CONNECTS == {}


async def test_add_zones_round_trips_the_site_file(write_site, registry, wait_until):
    text = SITE.replace("site: {id: home}", "# my cameras\nsite: {id: home}  # keep me")
    path = write_site(text)
    async with Host(path, registry, mqtt=False) as host:
        await wait_until(lambda: host.runners["cam2"].state.online)
        result = await host.call("cam2", "add", {"id": "Porch Cam", "channel": 4})
        assert result == {"added": ["porch_cam"]}
        written = path.read_text()
        assert written.startswith("# my cameras\nsite: {id: home}  # keep me")
        assert "id: porch_cam" in written and "channel: 4" in written
        assert list(path.parent.glob("site.yaml.*.bak"))
        runner = host.runners["cam2"]
        assert "porch_cam" in runner.config.zones and runner.state.online  # no reconnect for an import
        assert runner.driver.device.zones["porch_cam"].attributes == {"channel": 4}


async def test_taken_broker_port_is_a_clear_startup_error_and_frees_everything(write_site, registry):
    import socket

    from gemhost.errors import StartupError
    from gemhost.testing import free_port

    sim_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker_port = taken.getsockname()[1]
        path = write_site(f"""
        site: {{id: home}}
        mqtt: {{broker: embedded, embedded: {{host: 127.0.0.1, port: {broker_port}}}}}
        simulators:
          - {{driver: hikvision_isapi, port: {sim_port}}}
        devices: []
        """)
        host = Host(path, registry)
        with pytest.raises(StartupError) as info:
            await host.start()
    assert str(info.value).startswith(f"cannot start the embedded MQTT broker on 127.0.0.1:{broker_port}: ")
    assert "address already in use" in str(info.value)
    with socket.socket() as again:  # the simulator started before the broker was stopped again
        again.bind(("127.0.0.1", sim_port))


async def test_command_timeout_counts_from_the_request_not_from_a_free_slot(write_site, registry, wait_until):
    site = SITE.replace("host: {command_timeout: 0.3}", "host: {command_timeout: 0.3, command_concurrency: 1}")
    async with Host(write_site(site), registry, mqtt=False) as host:
        await wait_until(lambda: host.runners["cam1"].state.online)
        first = asyncio.create_task(host.call("cam1", "sleep", {"ms": 200}))
        await asyncio.sleep(0)  # the first takes the only slot
        with pytest.raises(CommandError) as info:
            # queued behind the first, this one could only finish at >= 400 ms: over 300 ms
            await host.call("cam1", "sleep", {"ms": 200})
        assert info.value.code == errors.TIMEOUT
        await asyncio.gather(first, return_exceptions=True)


async def test_shutdown_abandons_a_task_that_ignores_cancellation(write_site, registry, demo, wait_until):
    site = SITE.replace("host: {command_timeout: 0.3}", "host: {command_timeout: 30, shutdown_timeout: 0.5}")
    host = Host(write_site(site), registry, mqtt=False)
    await host.start()
    await wait_until(lambda: host.runners["cam1"].state.online)
    demo.BEHAVIOUR["cam1"] = "stubborn"
    polls = demo.POLLS["cam1"]
    await wait_until(lambda: demo.POLLS["cam1"] > polls)  # now stuck inside the stubborn poll
    await asyncio.wait_for(host.stop(), 10)  # bounded, not forever
    assert host.runners["cam1"].state.status == STOPPED and "cam1" in demo.CLOSED
    demo.BEHAVIOUR["cam1"] = "ok"  # release the abandoned task so the test's loop can close
    abandoned = [t for t in asyncio.all_tasks() if t.get_name() == "liveness:cam1"]
    assert abandoned
    for task in abandoned:
        task.cancel()
    await asyncio.gather(*abandoned, return_exceptions=True)


async def test_reload_reports_blocks_that_need_a_restart(write_site, registry):
    path = write_site(SITE)
    async with Host(path, registry, mqtt=False) as host:
        path.write_text(SITE.replace("host: {command_timeout: 0.3}", "host: {command_timeout: 5}"))
        assert await host.reload() == []
        assert host.restart_required == ["host"]
        reply = await host.host_command("reload")
        assert reply == {"ok": True, "problems": [], "restart_required": ["host"]}


async def test_gc_freeze_waits_for_first_attempts():
    """The start-up objects are frozen only once every device made its first attempt."""
    import gc

    from gemhost.gcfreeze import freeze_when_started

    class Runner:
        def __init__(self) -> None:
            self.first_attempt = asyncio.Event()

    runners = [Runner(), Runner()]
    gc.unfreeze()
    task = asyncio.create_task(freeze_when_started(lambda: runners, settle=0.01, longest=30))
    try:
        runners[0].first_attempt.set()
        await asyncio.sleep(0.7)
        assert not task.done() and gc.get_freeze_count() == 0
        runners[1].first_attempt.set()
        await asyncio.wait_for(task, 10)
        assert gc.get_freeze_count() > 0
    finally:
        task.cancel()
        gc.unfreeze()


async def test_gc_freeze_freezes_in_stages_while_many_devices_start():
    """With more devices than a stage, what the first ones created is frozen before the last
    one has started, so no single collection walks the whole start-up."""
    import gc

    from gemhost.flag import Flag
    from gemhost.gcfreeze import freeze_when_started

    class Runner:
        def __init__(self) -> None:
            self.first_attempt = Flag()

    runners = [Runner() for _ in range(5)]
    gc.unfreeze()
    task = asyncio.create_task(freeze_when_started(lambda: runners, settle=0.01, longest=30, stage=2))
    try:
        for runner in runners[:2]:
            runner.first_attempt.set()
        await until(lambda: gc.get_freeze_count() > 0, "the first stage frozen", timeout=10)
        assert not task.done()  # three devices have not started yet
        for runner in runners[2:]:
            runner.first_attempt.set()
        await asyncio.wait_for(task, 10)
    finally:
        task.cancel()
        gc.unfreeze()
