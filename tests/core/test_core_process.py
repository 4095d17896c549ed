"""``gemhost run`` as a real process: SIGHUP reloads, SIGTERM stops cleanly, secrets stay out of logs."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gemhost.testing import free_port

SITE = """
site: {{id: proc}}
mqtt:
  broker: embedded
  embedded: {{host: 127.0.0.1, port: {port}}}
devices:
  - id: d1
    driver: demo
    attributes: {{host: 127.0.0.1, key: !secret demo_key, status_interval: 200}}
"""


def _read_until(proc: subprocess.Popen[str], needle: str, seen: list[str], limit: float = 30.0) -> str:
    """Read the process log until a line contains ``needle`` (bounded, so a hang fails)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never logged; log was:\n{''.join(seen)}")


def test_run_reload_on_sighup_and_clean_stop_on_sigterm(plugin_path: Path, tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(port=free_port()))
    (tmp_path / "secrets.yaml").write_text("demo_key: very-secret-demo-key\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")]),
           "GEMHOST_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "gemhost.cli", "--log-level", "DEBUG", "run", str(site)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen: list[str] = []
    try:
        # uvloop where installed (a dependency except on Windows), the standard loop otherwise
        loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
        assert f"on the {loop} event loop" in _read_until(proc, "event loop", seen)
        _read_until(proc, "d1 is online", seen)
        site.write_text(site.read_text() + "  - id: d2\n    driver: demo\n"
                        "    attributes: {host: 127.0.0.2, key: k2, status_interval: 200}\n")
        proc.send_signal(signal.SIGHUP)
        assert "1 added, 0 removed, 0 changed" in _read_until(proc, "reloaded:", seen)
        _read_until(proc, "d2 is online", seen)
        site.write_text(site.read_text().replace("id: d2", "id: d1"))  # duplicate id: rejected
        proc.send_signal(signal.SIGHUP)
        assert "duplicate device id 'd1'" in _read_until(proc, "reload rejected", seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        seen.extend(proc.stderr.readlines())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(seen)
    assert "shutting down" in log and "d1 is stopped" in log and "d2 is stopped" in log
    assert "very-secret-demo-key" not in log
