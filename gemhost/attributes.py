"""Typed views of validated attributes, generated from the driver's schema.

A driver reads ``self.settings.timeout`` instead of ``self.attrs.get("timeout", 10)``: the
default lives once, in the schema, and a misspelt name is an AttributeError instead of a
silent default. The view is a frozen dataclass made from the schema at load time, with one
field per declared attribute (type from the schema type, ``None`` for an optional attribute
without a default, :class:`~gemhost.model.Secret` for secrets); ``dataclasses.fields()`` and
``repr`` work on it, and a secret still never prints.

The core owns three device attributes every driver has (:data:`CORE_ATTRIBUTES`):
``status_interval`` (the host's liveness poll), ``timeout`` (the driver's per-request
timeout) and ``events`` (whether the host runs the driver's event stream). A schema that does
not declare them gets them; one that does may change default, bounds and note, not the type.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from gemhost.model import Secret

if TYPE_CHECKING:
    from gemhost.schema import Attribute, DriverSchema

_PYTHON_TYPES: dict[str, Any] = {"string": str, "url": str, "host": str, "path": str, "int": int,
                                 "float": float, "bool": bool}


def core_attributes() -> dict[str, Attribute]:
    """Fresh copies of the attributes the core declares for every device."""
    from gemhost.schema import Attribute

    return {
        "status_interval": Attribute("status_interval", "int", default=60000, min=1000, max=86400000,
                                     note="Liveness poll interval in milliseconds."),
        "timeout": Attribute("timeout", "float", default=10, min=0.5, max=120,
                             note="Per-request timeout in seconds."),
        "events": Attribute("events", "bool", default=True,
                            note="Receive the device's events (the host runs the event stream only when on)."),
    }


CORE_ATTRIBUTES = tuple(core_attributes())
"""Names of the device attributes the core owns: status_interval, timeout, events."""


def annotation(attr: Attribute) -> Any:
    """The Python type of one attribute's validated value."""
    if attr.secret:
        base: Any = Secret
    elif attr.type == "enum":
        base = Literal[tuple(attr.values or ())]  # type: ignore[valid-type]
    elif attr.type == "list":
        base = list[_PYTHON_TYPES.get(attr.items or "string", str)]
    else:
        base = _PYTHON_TYPES[attr.type]
    return base if attr.required and not attr.required_when else base | None


def view_class(name: str, attrs: dict[str, Attribute]) -> type:
    """A frozen, keyword-only dataclass with one field per attribute, defaults from the schema."""
    fields = []
    for attr in attrs.values():
        if attr.required and not attr.required_when:
            fields.append((attr.name, annotation(attr)))
        else:
            fields.append((attr.name, annotation(attr), dataclasses.field(default=attr.default)))
    return dataclasses.make_dataclass(name, fields, frozen=True, kw_only=True)


def _class_name(driver: str, scope: str) -> str:
    return "".join(part.title() for part in driver.replace("-", "_").split("_")) + f"{scope.title()}Attributes"


def _view(schema: DriverSchema, scope: str, attrs: dict[str, Attribute], values: dict[str, Any]) -> Any:
    cls = schema.views.get(scope)
    if cls is None:
        cls = schema.views[scope] = view_class(_class_name(schema.driver, scope), attrs)
    missing = [a.name for a in attrs.values() if a.required and not a.required_when and a.name not in values]
    if missing:
        raise ValueError(f"{schema.driver}: {scope} attribute {missing[0]!r} is required but missing "
                         "(the view takes attributes the site check validated)")
    return cls(**{k: v for k, v in values.items() if k in attrs})


def device_view(schema: DriverSchema, values: dict[str, Any]) -> Any:
    """The typed view of a device's validated attributes (absent ones get the schema default)."""
    return _view(schema, "device", schema.device, values)


def zone_view(schema: DriverSchema, values: dict[str, Any]) -> Any:
    """The typed view of a zone's validated attributes."""
    return _view(schema, "zone", schema.zone, values)
