"""One device, one job, then exit: the common part of ``gemhost call`` and ``gemhost import``.

A one-shot host starts only the named device, without MQTT and without event subscriptions
(a short-lived CLI must not take a VMS's push destination away from the running host), and
turns every failure into a printed error and exit code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gemhost.cli_output import print_json
from gemhost.errors import CommandError, StartupError, one_line
from gemhost.host import Host
from gemhost.plugins import Registry
from gemhost.runner import DeviceRunner
from gemhost.siteyaml import SiteFileError

Job = Callable[[Host, DeviceRunner], Awaitable[Any]]


async def run_one_shot(site: str, device: str, registry: Registry, job: Job) -> int:
    """Run ``job`` against ``device`` of ``site``; print its JSON result or the error."""
    host = Host(Path(site), registry, mqtt=False, events=False)
    try:
        await host.start(only=[device])
        result = await job(host, host.runners[device])
    except CommandError as exc:
        print_json({"ok": False, "error": exc.as_dict()})
        return 1
    except SiteFileError as exc:
        for problem in exc.problems:
            print(problem.format(site), file=sys.stderr)
        return 1
    except (StartupError, OSError) as exc:
        print(f"{site}: {one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        await host.stop()
    print_json(result)
    return 0
