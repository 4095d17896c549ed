"""What the MQTT bridge may see of the host: one typed interface instead of ``host: Any``.

The bridge is a sink and a front door: it reads the host's devices and figures, listens to
its bus and hands it requests. Declaring exactly that here keeps the bridge honest (it cannot
reach into the host's internals) and lets unit tests stand a small fake in for the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gemhost.bus import Bus
    from gemhost.runner import DeviceRunner
    from gemhost.schema import DriverSchema
    from gemhost.site import SiteConfig
    from gemhost.tokens import TokenStore


class HostView(Protocol):
    """The parts of :class:`gemhost.host.Host` the bridge uses."""

    bus: Bus
    site: SiteConfig
    site_path: Path
    version: str
    runners: dict[str, DeviceRunner]

    @property
    def schemas(self) -> dict[str, DriverSchema]: ...

    @property
    def tokens(self) -> TokenStore: ...

    def stats(self) -> dict[str, Any]: ...

    def drivers_info(self) -> list[dict[str, str]]: ...

    async def call(self, device_id: str, command: str, args: dict[str, Any] | None = None,
                   token: str | None = None) -> Any: ...

    async def host_command(self, name: str, args: dict[str, Any] | None = None,
                           token: str | None = None) -> Any: ...
