"""Registers the HikCentral driver and its simulator with gemhost (entry point gemhost.plugins)."""

from __future__ import annotations

from gemhost_drivers.hikcentral.driver import HikCentralDriver
from gemhost_drivers.hikcentral.simulator import HikCentralSimulator

from gemhost.hookspecs import hookimpl


@hookimpl
def register_drivers(register):
    register(HikCentralDriver)


@hookimpl
def register_simulators(register):
    register("hikcentral", HikCentralSimulator)
