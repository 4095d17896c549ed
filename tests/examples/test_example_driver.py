"""The example third-party driver (examples/gemhost-driver-example), loaded the way a plugin loads.

Nothing is installed: the package folder goes on sys.path with a .dist-info that carries the
entry point of its pyproject.toml, which is all importlib.metadata looks at, so the host finds
it exactly as it finds a pip-installed driver. CI (.ci/run) additionally builds its wheel and
installs it beside the gemhost wheel in a fresh venv; this test gives the same answer on every
test run in seconds and covers the driver's behaviour against its simulator, which CI does not.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from gemhost.cli import main
from gemhost.errors import AuthError
from gemhost.model import DeviceConfig, Secret, ZoneConfig
from gemhost.plugins import load_registry
from gemhost.testing import FakeDeviceContext, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gemhost-driver-example"


@pytest.fixture(scope="module")
def example_path(tmp_path_factory: pytest.TempPathFactory):
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]["gemhost.plugins"]
    root = tmp_path_factory.mktemp("site-packages")
    dist = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[gemhost.plugins]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items()))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLE))
        mp.syspath_prepend(str(root))
        yield root


@pytest.fixture
def only_example(example_path, monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "example")


def test_found_through_its_entry_point(only_example):
    registry = load_registry()
    assert registry.failures == {}
    entry = registry.drivers["example"]
    assert entry.source == "gemhost-driver-example 1.0.0 (entry point gemhost_example.plugin)"
    assert entry.schema.zone_key == "input" and entry.schema.event_kind("doorbell") == "pulse"
    assert "example" in registry.simulators


def test_drivers_and_describe(only_example, capsys):
    assert main(["drivers"]) == 0
    assert capsys.readouterr().out.startswith("example ")
    assert main(["describe", "example"]) == 0
    out = capsys.readouterr().out
    assert "| `api_key` | yes | string |  | The box's API key; use !secret. Secret: never logged or published. |" in out
    assert "| `reboot` | The box's API cannot restart it. |" in out
    assert "| `events` | no | bool | true |" in out  # the core's attribute, declared by the core


def test_call_against_the_site_files_simulator(only_example, tmp_path, capsys):
    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text((EXAMPLE / "site.yaml").read_text().replace("18190", str(port)))
    assert main(["check", str(site)]) == 0
    capsys.readouterr()
    assert main(["call", str(site), "box", "set_output", "output=2", "state=on"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": 2, "state": "on"}
    assert main(["call", str(site), "box", "set_output", "output=9", "state=on"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "invalid_args"


@pytest.fixture
async def box(example_path):
    from gemhost_example.simulator import BoxSimulator

    sim = BoxSimulator(api_key="right-key")
    await sim.start()
    yield sim
    await sim.stop()


def make_driver(key: str, port: int):
    from gemhost_example.driver import ExampleDriver

    zones = {"door": ZoneConfig("door", "Door", {"input": 1})}
    device = DeviceConfig("box", "example", "Box", {"host": "127.0.0.1", "port": port, "api_key": Secret(key),
                                                    "long_poll": 1}, zones)
    ctx = FakeDeviceContext(device, ExampleDriver.schema())
    return ExampleDriver(ctx), ctx


async def test_events_from_the_simulator(box):
    import asyncio

    driver, ctx = make_driver("right-key", box.port)
    info = await driver.connect()
    assert (info.model, info.serial) == ("EX-1", "EX1-000042")
    task = asyncio.create_task(driver.run_events())
    try:
        box.set_input(1, True)
        box.press()
        await ctx.wait_for(lambda: len(ctx.events) >= 2)
        assert ctx.zone_state["door"]["active"] == {"input": True}
        box.set_input(1, False)
        await ctx.wait_for(lambda: ctx.zone_state["door"]["active"] == {"input": False})
    finally:
        task.cancel()
        await driver.close()
    opened, pressed, closed = ctx.events[:3]
    assert (opened.type, opened.state, opened.zone, opened.kind) == ("input", "active", "door", "stateful")
    assert (pressed.type, pressed.state, pressed.zone, pressed.kind) == ("doorbell", "active", None, "pulse")
    assert (closed.state, closed.ended_by, closed.event_id) == ("inactive", "device", opened.event_id)


async def test_a_wrong_key_is_an_auth_error_without_the_key(box):
    driver, _ = make_driver("wrong-key", box.port)
    with pytest.raises(AuthError) as raised:
        await driver.connect()
    await driver.close()
    assert "wrong-key" not in str(raised.value) and box.refused == 1


async def test_the_simulator_has_the_cores_control_routes_and_faults(box):
    """Issue 16 item 4: the box simulator is built on gemhost.simulator.SimulatorBase: the
    core's /_sim/state and /_sim/fault, with the core's fault names, answered the box's way."""
    import aiohttp

    from gemhost.errors import DeviceError, DeviceUnreachable

    driver, _ = make_driver("right-key", box.port)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{box.url}/_sim/fault", json={"kind": "error500", "count": 1}) as resp:
            assert resp.status == 200
        with pytest.raises(DeviceError, match="HTTP 500 on GET /api/info"):
            await driver.connect()
        assert (await driver.connect()).model == "EX-1"  # the queued fault was for one request
        async with http.post(f"{box.url}/_sim/fault", json={"kind": "dropped_call"}) as resp:
            assert resp.status == 400 and "fault must be one of none, error500, slow, no_answer" in (
                await resp.json())["error"]
        box.set_fault("no_answer")
        driver.client.timeout = 0.2
        with pytest.raises(DeviceUnreachable, match="no answer to GET /api/info"):
            await driver.connect()
        box.set_fault("none")
        await driver.cmd_set_output({"output": 3, "state": "on"}, None)
        async with http.get(f"{box.url}/_sim/state") as resp:
            state = await resp.json()
    await driver.close()
    assert state == {"fault": "none", "outputs": {"1": "off", "2": "off", "3": "on", "4": "off"},
                     "events": 0, "refused": 0}


async def test_set_output_is_the_cores_outputs_command(box):
    """Issue 16 item 5: the example's set_output is the core's capability command (use: [outputs]):
    the shared reply keys, a pulse on now and off after it, state and pulse together refused."""
    from gemhost.errors import InvalidArgs
    from gemhost.schema import mapping_validator
    from gemhost.testing import check_reply_contract, until

    driver, _ = make_driver("right-key", box.port)
    schema = type(driver).schema()
    args = mapping_validator(schema.commands["set_output"].args)
    try:
        reply = await driver.command("set_output", args({"output": 2, "state": "on"}), None)
        assert check_reply_contract(schema, "set_output", reply) == {"output": 2, "state": "on"}
        reply = await driver.command("set_output", args({"output": 3, "pulse": 50}), None)
        assert reply == {"output": 3, "pulse": 50, "state": "on"} and box.outputs[3] == "on"
        await until(lambda: box.outputs[3] == "off", "the end of the pulse")
        with pytest.raises(InvalidArgs, match="exactly one of state"):
            await driver.command("set_output", args({"output": 1, "state": "on", "pulse": 50}), None)
    finally:
        await driver.close()
    assert box.outputs == {1: "off", 2: "on", 3: "off", 4: "off"}


def test_the_simulator_listens_on_loopback_only(example_path):
    from gemhost_example.simulator import BoxSimulator

    with pytest.raises(ValueError, match="only listens on loopback"):
        BoxSimulator(host="0.0.0.0")  # refused in the constructor: nothing is ever bound


def test_the_schema_in_writing_a_driver_is_a_valid_schema(tmp_path):
    """The first YAML block of docs/writing-a-driver.md loads as a schema, as documented."""
    import re

    from gemhost.schema import load_schema

    doc = (EXAMPLE.parents[1] / "docs" / "writing-a-driver.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "mydriver.yaml"
    path.write_text(block)
    schema = load_schema(path)
    assert schema.driver == "mydriver" and schema.device["status_interval"].note == "Liveness poll, ms."
    assert schema.device["status_interval"].default == 30000 and "timeout" in schema.device
    assert not schema.commands["reset_password"].supported
