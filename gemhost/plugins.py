"""Finding drivers: every plugin, built-in or third-party, comes through one entry point group.

A plugin that fails to import or registers something invalid is recorded with its name and
reason, and the others still load: one broken package must not take the host down.
``GEMHOST_PLUGINS`` (comma-separated entry point names) narrows what loads, handy in tests.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
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
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # e.g. a hook implementation with arguments the spec lacks
            registry.failures[name] = f"cannot register: {type(exc).__name__}: {exc}"
            log.error("plugin %s failed to load: %s", name, registry.failures[name])
            continue
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
        _hook_of(pm, "register_drivers", plugin_name)(register=found.append)
        _hook_of(pm, "register_simulators", plugin_name)(register=lambda name, cls: sims.append((name, cls)))
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


def _hook_of(pm: pluggy.PluginManager, hook: str, plugin_name: str) -> Any:
    """A caller of ``hook`` that runs only ``plugin_name``'s implementation (if any)."""
    return pm.subset_hook_caller(hook, remove_plugins=[p for n, p in pm.list_name_plugin() if n != plugin_name])


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
    mismatch = command_mismatch(cls, schema)
    if mismatch:
        return None, mismatch
    return schema, ""


def command_mismatch(cls: type[Driver], schema: DriverSchema) -> str:
    """Why the driver's ``cmd_*`` methods and its schema's commands disagree, or "".

    Checked at load time so a typo or a forgotten method is a plugin load failure naming the
    command, not a ``not_supported`` reply the first time someone calls it. A command the
    schema declares ``supported: false`` must have no method: it would never be called.
    """
    methods = {attr[4:]: getattr(cls, attr) for attr in dir(cls) if attr.startswith("cmd_")}
    supported = {n for n, c in schema.commands.items() if c.supported}
    problems = []
    missing = sorted(supported - set(methods))
    if missing:
        problems.append("schema commands without a cmd_ method: " + ", ".join(missing))
    undeclared = sorted(set(methods) - set(schema.commands))
    if undeclared:
        problems.append("cmd_ methods the schema does not declare: " + ", ".join(f"cmd_{n}" for n in undeclared))
    dead = sorted(set(methods) & (set(schema.commands) - supported))
    if dead:
        problems.append("commands declared supported: false but implemented: " + ", ".join(dead))
    not_async = sorted(n for n, m in methods.items() if n in supported and not inspect.iscoroutinefunction(m))
    if not_async:
        problems.append("cmd_ methods that are not async: " + ", ".join(f"cmd_{n}" for n in not_async))
    return "; ".join(problems)


def run_cli_hooks(registry: Registry, add_command: hookspecs.AddCommand) -> None:
    """Let each plugin add its subcommands through the ``register_cli`` hook, one plugin at a
    time: a failing one is recorded (``registry.failures["<plugin>:cli"]``) and skipped."""
    pm = registry.manager
    if pm is None:
        return
    for plugin_name, _plugin in pm.list_name_plugin():
        try:
            _hook_of(pm, "register_cli", plugin_name)(add_command=add_command)
        except Exception as exc:
            registry.failures[f"{plugin_name}:cli"] = f"register_cli failed: {type(exc).__name__}: {exc}"
            log.error("plugin %s: %s", plugin_name, registry.failures[f"{plugin_name}:cli"])
