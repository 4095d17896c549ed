"""``gemhost run`` as a real process: SIGHUP reloads, SIGTERM stops cleanly, secrets stay out of logs."""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

from gemhost.testing import GemhostProcess, free_port

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


def test_run_reload_on_sighup_and_clean_stop_on_sigterm(plugin_path: Path, tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(port=free_port()))
    (tmp_path / "secrets.yaml").write_text("demo_key: very-secret-demo-key\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")]),
           "GEMHOST_STATE_DIR": str(tmp_path / "state")}
    with GemhostProcess("--log-level", "DEBUG", "run", str(site), env=env) as run:
        # uvloop where installed (a dependency except on Windows), the standard loop otherwise
        loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
        assert f"on the {loop} event loop" in run.read_until("event loop")
        run.read_until("d1 is online")
        site.write_text(site.read_text() + "  - id: d2\n    driver: demo\n"
                        "    attributes: {host: 127.0.0.2, key: k2, status_interval: 200}\n")
        run.send_signal(signal.SIGHUP)
        assert "1 added, 0 removed, 0 changed" in run.read_until("reloaded:")
        run.read_until("d2 is online")
        site.write_text(site.read_text().replace("id: d2", "id: d1"))  # duplicate id: rejected
        run.send_signal(signal.SIGHUP)
        assert "duplicate device id 'd1'" in run.read_until("reload rejected")
        assert run.terminate(timeout=30) == 0
    log = run.log
    assert "shutting down" in log and "d1 is stopped" in log and "d2 is stopped" in log
    assert "very-secret-demo-key" not in log
