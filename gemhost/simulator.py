"""The contract of a vendor simulator, so the host can start one from a site file or the CLI.

Simulators are aiohttp servers on loopback that behave like the vendor's API. They are
shipped with their driver (``drivers/<vendor>/simulator.py``) and registered through the
``register_simulators`` hook, so ``gemhost simulate <driver>`` and the ``simulators:`` block of
a site file work for third-party drivers too.
"""

from __future__ import annotations

import argparse
from typing import Any, ClassVar, Protocol


class Simulator(Protocol):
    """A running fake of one vendor endpoint."""

    driver: ClassVar[str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None: ...

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the simulator's options to ``gemhost simulate <driver>``."""

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Turn parsed CLI options into constructor keyword arguments."""

    async def start(self) -> None:
        """Bind (port 0 picks a free one) and serve; return once listening."""

    async def stop(self) -> None:
        """Stop serving and release everything."""

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:18080``."""
