"""Registers the Hikvision ISAPI driver and its simulator with gemhost (entry point target)."""

from __future__ import annotations

from gemhost.hookspecs import hookimpl


@hookimpl
def register_drivers(register) -> None:
    from .driver import IsapiDriver

    register(IsapiDriver)


@hookimpl
def register_simulators(register) -> None:
    from .simulator import IsapiSimulator

    register("hikvision_isapi", IsapiSimulator)
