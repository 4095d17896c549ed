"""``gemhost diagnose`` against the ISAPI simulator replaying a real capture.

The capture is DS-7608NXI-I2 from ../shared/fixtures/isapi-captures (hikvision_next's test
fixtures), copied to a temporary folder with secrets planted where real devices can carry
them: the device name set to the account password, an HTTP notification host with its own
user name and password. The written file must hold none of them, keep the capture format,
and replay in the simulator as the same device.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.cli import main
from gemhost.diagnostics import REDACTED
from gemhost.testing import free_port

CAPTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "isapi-captures"
MODEL = "DS-7608NXI-I2"
PASSWORD = "Diag-Pass-7791"
HOST_USER, HOST_PASSWORD = "receiver-user", "Receiver-Pass-3310"


@pytest.fixture
def planted(tmp_path) -> Path:
    source = CAPTURES / "devices" / f"{MODEL}.json"
    if not source.is_file():
        pytest.skip(f"real ISAPI captures not found at {CAPTURES}")
    doc = json.loads(source.read_text())
    isapi = doc["data"]["ISAPI"]
    isapi["System/deviceInfo"]["response"]["DeviceInfo"]["deviceName"] = f"nvr {PASSWORD}"
    host = isapi["Event/notification/httpHosts"]["response"]["HttpHostNotificationList"]["HttpHostNotification"]
    host.update({"httpAuthenticationMethod": "MD5digest", "userName": HOST_USER, "password": HOST_PASSWORD})
    folder = tmp_path / "captures"
    folder.mkdir()
    (folder / f"{MODEL}.json").write_text(json.dumps(doc))
    return folder


@contextmanager
def running(sim: IsapiSimulator) -> Iterator[IsapiSimulator]:
    """The simulator on its own loop in a thread, since the CLI runs its own asyncio.run."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(sim.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield sim
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(sim.stop())
        loop.close()


def site(tmp_path: Path, port: int, password: str) -> Path:
    (tmp_path / "secrets.yaml").write_text(f"nvr_password: {password}\n")
    path = tmp_path / "site.yaml"
    path.write_text(f"site: {{id: home}}\ndevices:\n  - id: nvr\n    driver: hikvision_isapi\n    attributes:\n"
                    f"      ip: 127.0.0.1\n      port: {port}\n      username: admin\n"
                    f"      password: !secret nvr_password\n")
    return path


def test_diagnose_writes_the_capture_without_secrets(tmp_path, planted, capsys):
    sim = IsapiSimulator(port=free_port(), fixture=MODEL, fixtures_dir=planted, password=PASSWORD)
    out = tmp_path / "report" / "nvr-capture.json"
    with running(sim):
        assert main(["diagnose", str(site(tmp_path, sim.port, PASSWORD)), "nvr", "-o", str(out)]) == 0
    reply = json.loads(capsys.readouterr().out)
    text = out.read_text()
    for secret in (PASSWORD, HOST_USER, HOST_PASSWORD):
        assert secret not in text
    isapi = json.loads(text)["data"]["ISAPI"]
    assert reply == {"ok": True, "file": str(out), "responses": len(isapi)}
    info = isapi["System/deviceInfo"]["response"]["DeviceInfo"]
    assert info["model"] == "DS-7608NXI-I2/8P/S" and info["firmwareVersion"] == "V4.62.210"
    assert info["deviceName"] == f"nvr {REDACTED}"
    assert info["serialNumber"] == info["macAddress"] == info["deviceID"] == REDACTED
    notification = isapi["Event/notification/httpHosts"]["response"]["HttpHostNotificationList"][
        "HttpHostNotification"]
    assert notification["userName"] == notification["password"] == notification["ipAddress"] == REDACTED
    # what the real device refused is recorded as it refused it
    assert isapi["System/Video/inputs/channels"] == {"status_code": 403}
    assert isapi["Streaming/channels/101"]["response"]["StreamingChannel"]["id"] == "101"
    assert isapi["Streaming/channels/401"] == {"status_code": 403}
    assert sim.auth.failed_logins_total == 0

    replay = IsapiSimulator(fixture=out.stem, fixtures_dir=out.parent)
    assert replay.channel_set == sim.channel_set == {1, 2, 3, 4}
    assert replay.fixture["System/deviceInfo"] == isapi["System/deviceInfo"]


def test_a_refused_login_ends_diagnose_before_any_capture(tmp_path, planted, capsys):
    sim = IsapiSimulator(port=free_port(), fixture=MODEL, fixtures_dir=planted, password=PASSWORD)
    out = tmp_path / "nvr-capture.json"
    with running(sim):
        assert main(["diagnose", str(site(tmp_path, sim.port, "Wrong-Pass-1")), "nvr", "-o", str(out)]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "device_offline" and "Wrong-Pass-1" not in error["message"]
    assert not out.exists()
    assert sim.auth.failed_logins_total == 1  # the one connect; diagnose itself tried nothing
