"""The one hook a gemhost plugin implements.

Hooks are synchronous (pluggy has none that are async); what a plugin registers is a
driver class whose methods are async. A callback-style hook lets one plugin register
several drivers, the way llm's ``register_models`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from gemhost.driver import Driver
    from gemhost.simulator import Simulator

PROJECT = "gemhost"
ENTRY_POINT_GROUP = "gemhost.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_drivers(register: Callable[[type[Driver]], None]) -> None:
    """Call ``register(DriverClass)`` once for every driver this plugin provides."""


@hookspec
def register_simulators(register: Callable[[str, type[Simulator]], None]) -> None:
    """Call ``register(driver_name, SimulatorClass)`` for each vendor simulator shipped."""


class AddCommand(Protocol):
    """What ``register_cli`` is given: adds ``gemhost <name>`` and returns its parser."""

    def __call__(self, name: str, *, help: str, description: str | None = None) -> argparse.ArgumentParser: ...


@hookspec
def register_cli(add_command: AddCommand) -> None:
    """Call ``add_command(name, help=...)`` for each top-level subcommand this plugin adds
    (e.g. ``gemhost hpp unbind``); configure the returned ``argparse.ArgumentParser`` and give
    every runnable parser ``func=<callable(args) -> int exit code>`` with ``set_defaults``.
    A name that is already taken is refused and reported as this plugin's failure.
    """
