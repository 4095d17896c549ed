"""Finding drivers: every plugin, built-in or third-party, comes through one entry point group.

A plugin that fails to import or registers something invalid is recorded with its name and
reason, and the others still load: one broken package must not take the host down.
``GEMHOST_PLUGINS`` (comma-separated entry point names) narrows what loads, handy in tests.
"""

from __future__ import annotations

import importlib.metadata as metadata
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from gemhost import hookspecs
from gemhost.driver import Driver
from gemhost.schema import DriverSchema, SchemaError, load_schema

log = logging.getLogger("gemhost.plugins")
ENV_FILTER = "GEMHOST_PLUGINS"


@dataclass
class DriverEntry:
    """A loaded driver: its class, its schema, and where it came from."""

    name: str
    cls: type[Driver]
    schema: DriverSchema
    version: str
    source: str

    def info(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "source": self.source}


@dataclass
class Registry:
    """Everything the plugins provided, plus what failed to load and why."""

    drivers: dict[str, DriverEntry] = field(default_factory=dict)
    simulators: dict[str, type] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    @property
    def schemas(self) -> dict[str, DriverSchema]:
        return {name: entry.schema for name, entry in self.drivers.items()}


def load_registry(extra_plugins: list[Any] | None = None) -> Registry:
    """Load entry-point plugins (and any plugin objects given, e.g. by tests)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(manager=pm)
    sources: dict[str, str] = {}
    wanted = {n.strip() for n in os.environ.get(ENV_FILTER, "").split(",") if n.strip()}
    for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if wanted and ep.name not in wanted:
            continue
        dist = ep.dist.name if ep.dist else "unknown distribution"
        version = ep.dist.version if ep.dist else "0"
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # any import error is reported, never fatal
            registry.failures[ep.name] = f"cannot load {ep.value}: {type(exc).__name__}: {exc}"
            log.error("plugin %s failed to load: %s", ep.name, registry.failures[ep.name])
            continue
        sources[ep.name] = f"{dist} {version} (entry point {ep.value})"
    for plugin in extra_plugins or []:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        sources[name] = f"{_module_origin(plugin)} (registered directly)"

    for plugin_name, plugin in pm.list_name_plugin():
        _collect(pm, plugin_name, plugin, sources.get(plugin_name, plugin_name), registry)
    return registry


def _module_origin(plugin: Any) -> str:
    module = plugin if isinstance(plugin, ModuleType) else type(plugin)
    return getattr(module, "__module__", None) or getattr(module, "__name__", "plugin")


def _collect(pm: pluggy.PluginManager, plugin_name: str, plugin: Any, source: str,
             registry: Registry) -> None:
    """Run one plugin's hooks in isolation so its failure is attributed to it alone."""
    found: list[type[Driver]] = []
    sims: list[tuple[str, type]] = []
    try:
        caller = pm.subset_hook_caller("register_drivers", remove_plugins=[
            p for n, p in pm.list_name_plugin() if n != plugin_name])
        caller(register=found.append)
        sim_caller = pm.subset_hook_caller("register_simulators", remove_plugins=[
            p for n, p in pm.list_name_plugin() if n != plugin_name])
        sim_caller(register=lambda name, cls: sims.append((name, cls)))
    except Exception as exc:
        registry.failures[plugin_name] = f"register hook failed: {type(exc).__name__}: {exc}"
        log.error("plugin %s: %s", plugin_name, registry.failures[plugin_name])
        return
    for cls in found:
        schema, problem = _validate_driver(cls, registry)
        if schema is None:
            label = getattr(cls, "name", None) or getattr(cls, "__name__", repr(cls))
            registry.failures[f"{plugin_name}:{label}"] = problem
            log.error("plugin %s: driver %s is invalid: %s", plugin_name, label, problem)
            continue
        registry.drivers[cls.name] = DriverEntry(cls.name, cls, schema, str(cls.version), source)
    for name, cls in sims:
        registry.simulators[name] = cls


def _validate_driver(cls: Any, registry: Registry) -> tuple[DriverSchema | None, str]:
    """The driver's schema, or None and the reason the driver cannot be used."""
    if not isinstance(cls, type) or not issubclass(cls, Driver):
        return None, "registered object is not a gemhost.driver.Driver subclass"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return None, "driver class has no 'name'"
    if name in registry.drivers:
        return None, f"driver name {name!r} is already provided by {registry.drivers[name].source}"
    path = getattr(cls, "schema_path", None)
    if path is None:
        return None, "driver class has no 'schema_path'"
    try:
        schema = load_schema(Path(path))
    except SchemaError as exc:
        return None, f"schema file invalid: {exc}"
    if schema.driver != name:
        return None, f"schema file declares driver {schema.driver!r}, class is named {name!r}"
    return schema, ""


def run_cli_hooks(registry: Registry, subparsers: Any) -> None:
    """Let plugins add their own subcommands; a failing one is logged and skipped."""
    if registry.manager is None:
        return
    for plugin_name, plugin in registry.manager.list_name_plugin():
        if not hasattr(plugin, "register_cli"):
            continue
        try:
            plugin.register_cli(subparsers=subparsers)
        except Exception as exc:
            log.error("plugin %s: register_cli failed: %s", plugin_name, exc)
