"""The gemhost hooks of gemhost-driver-example (entry point ``example`` in ``gemhost.plugins``)."""

from __future__ import annotations

from gemhost.hookspecs import hookimpl


@hookimpl
def register_drivers(register) -> None:
    from .driver import ExampleDriver

    register(ExampleDriver)


@hookimpl
def register_simulators(register) -> None:
    from .simulator import BoxSimulator

    register("example", BoxSimulator)
