"""Registers the Hik-Partner Pro driver, its simulator and its CLI with gemhost."""

from __future__ import annotations

from gemhost_drivers.hpp import cli
from gemhost_drivers.hpp.driver import HppDriver
from gemhost_drivers.hpp.simulator import HppSimulator

from gemhost.hookspecs import hookimpl


@hookimpl
def register_drivers(register):
    register(HppDriver)


@hookimpl
def register_simulators(register):
    register("hpp", HppSimulator)


@hookimpl
def register_cli(add_command):
    cli.add_parsers(add_command)
