"""Issue 13, item 12: a misbehaving driver stays contained.

* A driver that swallows ``CancelledError`` kept its device "connecting" forever, its
  commands never answered, and SIGTERM never completed (``shutdown_timeout`` not enforced).
* A driver that blocks the event loop stalls every device; that cannot be preempted, but it
  must be noticed, with the driver named in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from fault_helpers import B, connected, site_yaml, until

from gemhost.model import OFFLINE
from gemhost.testing import GemhostProcess, free_port

STUBBORN = """
  - id: stuck
    driver: faultcam
    attributes: {connect: stubborn}
  - id: cam1
    driver: faultcam
    zones:
      - {id: door, attributes: {address: 1}}
"""


async def test_a_driver_that_ignores_cancellation_is_contained(amqtt_broker, start_host, watch, caplog):
    caplog.set_level(logging.INFO)
    host = await start_host(site_yaml(amqtt_broker, devices=STUBBORN))
    w = await watch(amqtt_broker.port)
    await connected(host)
    stuck, cam1 = host.runners["stuck"], host.runners["cam1"]
    # its connect() never ends and swallows the timeout's cancellation: offline, not connecting
    await until(lambda: stuck.state.status == OFFLINE, "the stubborn device offline", timeout=10)
    assert stuck.state.last_error == "no answer within 2s"
    assert cam1.state.online
    # its commands are answered, and so are the other device's
    reply = await w.request(f"{B}/stuck/cmd/echo", {"id": 1, "args": {"text": "x"}})
    assert reply["error"]["code"] == "device_offline"
    # a command that swallows its cancellation is answered at its timeout, others meanwhile
    slow = asyncio.create_task(w.request(f"{B}/cam1/cmd/stubborn", {"id": 2, "args": {"seconds": 4}}))
    assert (await w.request(f"{B}/cam1/cmd/echo", {"id": 3, "args": {"text": "y"}}))["ok"]
    assert (await slow)["error"]["code"] == "timeout"
    # stopping is bounded by shutdown_timeout although close() ignores cancellation too
    await asyncio.wait_for(host.stop(), 15)
    assert stuck.state.status == "stopped" and host.stopped.is_set()
    assert "close did not finish within the shutdown timeout; abandoned" in caplog.text


async def test_a_blocked_event_loop_is_reported_with_the_driver(amqtt_broker, start_host, watch, caplog):
    caplog.set_level(logging.WARNING, logger="gemhost.watchdog")
    host = await start_host(site_yaml(amqtt_broker))
    w = await watch(amqtt_broker.port)
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    reply = await w.request(f"{B}/cam1/cmd/block", {"id": 1, "args": {"seconds": 2.0}}, timeout=15)
    assert reply["ok"]
    await until(lambda: "event loop was blocked" in caplog.text, "the end of the stall reported")
    started = next(r.getMessage() for r in caplog.records if "blocked for" in r.getMessage())
    assert "by driver 'faultcam'" in started and "device cam1" in started and "in cmd_block" in started
    assert host._watchdog.stalls == 1


PLUGIN = """
from pathlib import Path
from fault_helpers import FaultCam, FaultPlugin
FaultCam.schema_path = Path(__file__).with_name("faultcam.yaml")
plugin = FaultPlugin()
"""


def _install_faultcam(root: Path, schema: Path) -> None:
    """The in-test driver as an installed plugin (package + entry point), for a real process."""
    package = root / "gemhost_faultcam"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    (package / "faultcam.yaml").write_text(schema.read_text())
    dist = root / "gemhost_faultcam-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gemhost-faultcam\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gemhost.plugins]\nfaultcam = gemhost_faultcam:plugin\n")


def test_sigterm_ends_gemhost_run_despite_a_stubborn_driver(site_path: Path, tmp_path: Path):
    _install_faultcam(tmp_path / "plugins", site_path.with_name("faultcam.yaml"))
    site_path.write_text(f"""
site: {{id: flt}}
mqtt: {{broker: embedded, embedded: {{host: 127.0.0.1, port: {free_port()}}}}}
host: {{command_timeout: 1, shutdown_timeout: 1}}
devices:
{STUBBORN}
""")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), str(Path(__file__).parent),
                                                        os.environ.get("PYTHONPATH", "")]),
           "GEMHOST_STATE_DIR": str(tmp_path / "state")}
    with GemhostProcess("run", str(site_path), env=env) as run:
        run.read_until("stuck is offline")
        assert run.terminate(timeout=20) == 0
    log = run.log
    assert "shutting down" in log and "stuck is stopped" in log and "abandoned" in log
