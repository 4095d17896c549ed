"""``gemhost diagnose SITE DEVICE [-o FILE]``: a device's raw responses for a bug report.

It starts only that device (no MQTT, no event subscriptions), waits for its first login, asks
the driver for its capture (``Driver.diagnostics``) and writes it in the capture format of the
test fixtures with the secrets removed (gemhost/diagnostics.py), so a maintainer can replay
the user's device in the simulator. Drivers that support it: hikvision_isapi.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gemhost import atomicfile, contain, diagnostics
from gemhost.hookspecs import AddCommand
from gemhost.plugins import Registry


def add_diagnose_parser(add_command: AddCommand, registry: Registry) -> None:
    p = add_command("diagnose", help="write a device's raw responses, secrets removed, for a bug report")
    p.add_argument("site")
    p.add_argument("device")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: DEVICE-diagnostics.json)")
    p.set_defaults(func=lambda a: contain.run(_diagnose(a, registry)))


async def _diagnose(args: argparse.Namespace, registry: Registry) -> int:
    from gemhost.oneshot import run_one_shot

    output: Path = args.output or Path(f"{args.device}-diagnostics.json")

    async def job(host: Any, runner: Any) -> Any:
        await runner.first_attempt.wait()
        capture = await runner.diagnostics()
        text = diagnostics.to_json(capture, diagnostics.device_secrets(runner.config))
        atomicfile.write_text(output, text)
        responses = sum(len(paths) for paths in (capture.get("data") or {}).values() if isinstance(paths, dict))
        print(f"{args.device}: {responses} responses written to {output} (secrets removed; "
              "look it over before you send it)", file=sys.stderr)
        return {"ok": True, "file": str(output), "responses": responses}

    return await run_one_shot(args.site, args.device, registry, job)
