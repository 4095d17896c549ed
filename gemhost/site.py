"""The site file model and its check: every problem at once, each with file, line and key path.

A site is only ever built whole: :func:`load_site` either returns a complete, valid
:class:`SiteConfig` or raises :class:`SiteFileError` with all problems, so a bad file can
never start half a site or replace a running one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import voluptuous as vol

from gemhost.model import DeviceConfig, Secret, ZoneConfig
from gemhost.schema import SLUG, DriverSchema, conditional_problems, friendly, mapping_validator
from gemhost.siteyaml import LoadedYaml, PathKey, Problem, SiteFileError, load_site_yaml

TOP_KEYS = ("site", "mqtt", "access", "host", "simulators", "devices")


@dataclass
class MqttConfig:
    """The ``mqtt`` block; see docs/mqtt.md for what each field does."""

    broker: str = "embedded"
    base_topic: str = ""
    client_id: str = ""
    username: str | None = None
    password: Secret | None = None
    tls_ca_file: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tls_verify: bool = True
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    queue_size: int = 10000
    max_payload: int = 65536
    embedded_host: str = "127.0.0.1"
    embedded_port: int = 1883
    protocol: str = "auto"
    keepalive: int = 30
    response_topics: tuple[str, ...] = ()
    """Topic prefixes MQTT 5 response topics must start with; empty: any topic outside
    gemhost's own tree and the discovery prefix (see docs/mqtt.md, response topics)."""

    @property
    def embedded(self) -> bool:
        return self.broker == "embedded"

    @property
    def host(self) -> str:
        return self.embedded_host if self.embedded else (urlsplit(self.broker).hostname or "")

    @property
    def port(self) -> int:
        if self.embedded:
            return self.embedded_port
        parts = urlsplit(self.broker)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return not self.embedded and urlsplit(self.broker).scheme == "mqtts"


@dataclass
class AccessConfig:
    require_token: bool = False


@dataclass
class HostConfig:
    """Host-wide timing: how long a driver call may take and how many run per device."""

    command_timeout: float = 30.0
    command_concurrency: int = 2
    shutdown_timeout: float = 5.0
    pulse_hold: float = 5.0
    """Seconds a pulse event (a card swipe, an instantaneous VMS alarm) keeps its zone active."""


@dataclass
class SimulatorConfig:
    """A vendor simulator the host starts before the devices (for the sample and demos)."""

    driver: str
    host: str
    port: int
    options: dict[str, Any]


@dataclass
class SiteConfig:
    id: str
    name: str
    path: Path | None
    mqtt: MqttConfig
    access: AccessConfig
    host: HostConfig
    devices: dict[str, DeviceConfig]
    simulators: list[SimulatorConfig] = field(default_factory=list)


# ----------------------------------------------------------------- blocks

_MQTT_SCHEMA = vol.Schema({
    vol.Optional("broker"): vol.Any(str, Secret),
    vol.Optional("base_topic"): str,
    vol.Optional("client_id"): str,
    vol.Optional("username"): vol.Any(str, Secret),
    vol.Optional("password"): vol.Any(str, Secret),
    vol.Optional("protocol"): vol.All(vol.Coerce(str), vol.In(["auto", "5", "3.1.1"],
                                                              msg="expected one of auto, 5, 3.1.1")),
    vol.Optional("keepalive"): vol.All(int, vol.Range(min=5, max=3600)),
    vol.Optional("queue_size"): vol.All(int, vol.Range(min=1, max=10_000_000)),
    vol.Optional("max_payload"): vol.All(int, vol.Range(min=256, max=256 * 1024 * 1024)),
    vol.Optional("tls"): {
        vol.Optional("ca_file"): str,
        vol.Optional("certfile"): str,
        vol.Optional("keyfile"): str,
        vol.Optional("verify"): bool,
    },
    vol.Optional("discovery"): vol.Any(bool, {
        vol.Optional("enabled"): bool,
        vol.Optional("prefix"): str,
    }),
    vol.Optional("embedded"): {
        vol.Optional("host"): str,
        vol.Optional("port"): vol.All(int, vol.Range(min=0, max=65535)),
    },
    vol.Optional("response_topics"): [str],
}, extra=vol.PREVENT_EXTRA)

_HOST_SCHEMA = vol.Schema({
    vol.Optional("command_timeout"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=3600)),
    vol.Optional("command_concurrency"): vol.All(int, vol.Range(min=1, max=64)),
    vol.Optional("shutdown_timeout"): vol.All(vol.Coerce(float), vol.Range(min=0.5, max=120)),
    vol.Optional("pulse_hold"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=3600)),
}, extra=vol.PREVENT_EXTRA)

_ACCESS_SCHEMA = vol.Schema({vol.Optional("require_token"): bool}, extra=vol.PREVENT_EXTRA)

_SIMULATOR_SCHEMA = vol.Schema({
    vol.Required("driver"): str,
    vol.Optional("host", default="127.0.0.1"): str,
    vol.Required("port"): vol.All(int, vol.Range(min=0, max=65535)),
    vol.Optional("options", default={}): dict,
}, extra=vol.PREVENT_EXTRA)


class _Checker:
    """Walks the resolved document once, collecting every problem it finds."""

    def __init__(self, doc: LoadedYaml, schemas: dict[str, DriverSchema], path: Path | None,
                 simulators: set[str] | None = None) -> None:
        self.doc = doc
        self.schemas = schemas
        self.simulator_names = simulators
        self.path = path
        self.problems: list[Problem] = []

    def add(self, key: PathKey, display: str, message: str) -> None:
        self.problems.append(Problem(self.doc.line(key), display, message))

    def block(self, schema: vol.Schema, value: Any, key: PathKey, display: str) -> dict[str, Any]:
        if value is None:
            return {}
        try:
            return schema(value)
        except vol.MultipleInvalid as exc:
            for err in exc.errors:
                sub = tuple(err.path)
                self.add((*key, *sub), ".".join([display, *map(str, sub)]), _vol_message(err, schema))
            return {}

    def run(self) -> SiteConfig | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.add((), "", "expected a mapping with site, mqtt and devices blocks")
            return None
        for key in data:
            if key not in TOP_KEYS:
                self.add((key,), str(key), f"unknown key (allowed: {', '.join(TOP_KEYS)})")
        site_id, site_name = self.site_block(data.get("site"))
        mqtt = self.mqtt_block(data.get("mqtt"), site_id)
        access = AccessConfig(**self.block(_ACCESS_SCHEMA, data.get("access"), ("access",), "access"))
        host = HostConfig(**self.block(_HOST_SCHEMA, data.get("host"), ("host",), "host"))
        simulators = self.simulators(data.get("simulators"))
        devices = self.devices(data.get("devices"))
        if self.problems:
            return None
        return SiteConfig(site_id, site_name, self.path, mqtt, access, host, devices, simulators)

    def site_block(self, value: Any) -> tuple[str, str]:
        if not isinstance(value, dict):
            self.add(("site",), "site", "is required: a mapping with id and name")
            return "", ""
        for key in value:
            if key not in ("id", "name"):
                self.add(("site", key), f"site.{key}", "unknown key (allowed: id, name)")
        site_id = value.get("id")
        if not isinstance(site_id, str) or not SLUG.match(site_id):
            self.add(("site", "id"), "site.id", f"must be a short slug (a-z, 0-9, _ or -), got {site_id!r}")
            site_id = ""
        return site_id, str(value.get("name") or site_id)

    def mqtt_block(self, value: Any, site_id: str) -> MqttConfig:
        raw = self.block(_MQTT_SCHEMA, value, ("mqtt",), "mqtt")
        cfg = MqttConfig(base_topic=f"gem/{site_id}", client_id=f"gemhost-{site_id}")
        for key in ("broker", "base_topic", "client_id", "protocol", "keepalive", "queue_size", "max_payload"):
            if key in raw:
                setattr(cfg, key, _plain(raw[key]))
        if "username" in raw:
            cfg.username = _plain(raw["username"])
        if "password" in raw:
            cfg.password = raw["password"] if isinstance(raw["password"], Secret) else Secret(raw["password"])
        tls = raw.get("tls") or {}
        cfg.tls_ca_file, cfg.tls_certfile, cfg.tls_keyfile = tls.get("ca_file"), tls.get("certfile"), \
            tls.get("keyfile")
        cfg.tls_verify = tls.get("verify", True)
        for name in ("ca_file", "certfile", "keyfile"):
            if tls.get(name) and not self._resolve(tls[name]).is_file():
                self.add(("mqtt", "tls", name), f"mqtt.tls.{name}", f"file not found: {tls[name]}")
        discovery = raw.get("discovery", False)
        if isinstance(discovery, dict):
            cfg.discovery = discovery.get("enabled", True)
            cfg.discovery_prefix = discovery.get("prefix", cfg.discovery_prefix)
        else:
            cfg.discovery = bool(discovery)
        embedded = raw.get("embedded") or {}
        cfg.embedded_host = embedded.get("host", cfg.embedded_host)
        cfg.embedded_port = embedded.get("port", cfg.embedded_port)
        self.check_broker(cfg)
        base = cfg.base_topic
        if not site_id and "base_topic" not in raw:
            return cfg  # the default derives from site.id, already reported
        if not base or any(ch in base for ch in "#+") or base.startswith("/") or base.endswith("/"):
            self.add(("mqtt", "base_topic"), "mqtt.base_topic",
                     f"must be a topic without wildcards or leading/trailing '/', got {base!r}")
        cfg.response_topics = self.response_topics(raw.get("response_topics") or [], cfg)
        return cfg

    def response_topics(self, prefixes: list[str], cfg: MqttConfig) -> tuple[str, ...]:
        """The allow-list of response-topic prefixes; none may reach into gemhost's own
        topics or the discovery prefix, where a reply could overwrite state or configs."""
        for index, prefix in enumerate(prefixes):
            key, display = ("mqtt", "response_topics", index), f"mqtt.response_topics[{index}]"
            if not prefix or any(ch in prefix for ch in "#+\0") or prefix.startswith("$"):
                self.add(key, display, f"must be a topic prefix without wildcards or a leading '$', got {prefix!r}")
                continue
            for tree in (cfg.base_topic, cfg.discovery_prefix):
                if prefix == tree or prefix.startswith(tree + "/") or (tree + "/").startswith(prefix):
                    self.add(key, display, f"{prefix!r} reaches into {tree}/#, where only gemhost publishes")
                    break
        return tuple(prefixes)

    def _resolve(self, name: str) -> Path:
        """A file named in the site file, relative to the site file's folder."""
        path = Path(name).expanduser()
        return path if path.is_absolute() or self.path is None else self.path.parent / path

    def check_broker(self, cfg: MqttConfig) -> None:
        if cfg.embedded:
            return
        parts = urlsplit(cfg.broker)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == -1:
            self.add(("mqtt", "broker"), "mqtt.broker",
                     "expected 'embedded' or a URL like mqtt://host:1883 or mqtts://host:8883 "
                     "(port 1 to 65535)")
            return
        # Credentials in the URL are accepted, then kept apart from it (and out of logs).
        if parts.username and cfg.username is None:
            cfg.username = unquote(parts.username)
        if parts.password and cfg.password is None:
            cfg.password = Secret(unquote(parts.password))
        netloc = parts.hostname + (f":{port}" if port else "")
        cfg.broker = f"{parts.scheme}://{netloc}"

    def simulators(self, value: Any) -> list[SimulatorConfig]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(("simulators",), "simulators", "expected a list")
            return []
        out = []
        for index, item in enumerate(value):
            checked = self.block(_SIMULATOR_SCHEMA, item, ("simulators", index), f"simulators[{index}]")
            known = self.simulator_names
            if checked and known is not None and checked["driver"] not in known:
                self.add(("simulators", index, "driver"), f"simulators[{index}].driver",
                         f"no simulator for driver {checked['driver']!r} (available: {', '.join(sorted(known))})")
                continue
            if checked:
                out.append(SimulatorConfig(checked["driver"], checked["host"], checked["port"],
                                           dict(checked["options"])))
        return out

    def devices(self, value: Any) -> dict[str, DeviceConfig]:
        if value is None:
            return {}
        if not isinstance(value, list):
            self.add(("devices",), "devices", "expected a list of devices")
            return {}
        devices: dict[str, DeviceConfig] = {}
        seen: dict[str, int | None] = {}
        for index, raw in enumerate(value):
            device = self.device(index, raw, seen)
            if device:
                devices[device.id] = device
        return devices

    def device(self, index: int, raw: Any, seen: dict[str, int | None]) -> DeviceConfig | None:
        """One device; ``seen`` maps device ids met so far (valid or not) to their lines."""
        key: PathKey = ("devices", index)
        if not isinstance(raw, dict):
            self.add(key, f"devices[{index}]", "expected a mapping with id and driver")
            return None
        dev_id = raw.get("id")
        label = f"devices[{dev_id}]" if isinstance(dev_id, str) and dev_id else f"devices[{index}]"
        ok = True
        for extra in raw:
            if extra not in ("id", "driver", "name", "area", "attributes", "zones"):
                self.add((*key, extra), f"{label}.{extra}", "unknown key (allowed: id, driver, name, "
                         "area, attributes, zones)")
                ok = False
        if not isinstance(dev_id, str) or not SLUG.match(dev_id) or dev_id == "host":
            self.add((*key, "id"), f"{label}.id", "must be a short slug (a-z, 0-9, _ or -, not 'host'), "
                     f"got {dev_id!r}")
            ok = False
        elif dev_id in seen:
            self.add((*key, "id"), f"{label}.id", f"duplicate device id {dev_id!r} "
                     f"(first at line {seen[dev_id]})")
            ok = False
        else:
            seen[dev_id] = self.doc.line((*key, "id"))
        driver = raw.get("driver")
        schema = self.schemas.get(driver) if isinstance(driver, str) else None
        if schema is None:
            installed = ", ".join(sorted(self.schemas)) or "none"
            self.add((*key, "driver"), f"{label}.driver",
                     f"unknown driver {driver!r} (installed: {installed})")
            return None
        attrs = self.attributes(schema.device, raw.get("attributes"), (*key, "attributes"),
                                f"{label}.attributes")
        zones = self.zones(schema, raw.get("zones"), (*key, "zones"), label)
        if not ok or attrs is None or zones is None:
            return None
        area = raw.get("area")
        return DeviceConfig(dev_id, driver, str(raw.get("name") or dev_id), attrs, zones,
                            line=self.doc.line(key), area=str(area) if area else None)

    def attributes(self, spec: dict, value: Any, key: PathKey, display: str) -> dict[str, Any] | None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(key, display, "expected a mapping of attributes")
            return None
        checked = None
        try:
            checked = mapping_validator(spec)(value)
        except vol.MultipleInvalid as exc:
            for err in exc.errors:
                sub = tuple(err.path)
                self.add((*key, *sub), ".".join([display, *map(str, sub)]), friendly(err, spec))
        defaults = {a.name: a.default for a in spec.values() if a.default is not None}
        missing = conditional_problems(spec, checked or {**defaults, **value})
        for name, message in missing:
            self.add(key, f"{display}.{name}", message)
        return None if missing else checked

    def zones(self, schema: DriverSchema, value: Any, key: PathKey, label: str) -> dict[str, ZoneConfig] | None:
        if value is None:
            return {}
        if not isinstance(value, list):
            self.add(key, f"{label}.zones", "expected a list of zones")
            return None
        zones: dict[str, ZoneConfig] = {}
        unique_seen: dict[tuple[str, Any], str] = {}
        ok = True
        for index, raw in enumerate(value):
            zkey = (*key, index)
            if not isinstance(raw, dict):
                self.add(zkey, f"{label}.zones[{index}]", "expected a mapping with id and attributes")
                ok = False
                continue
            zone_id = raw.get("id")
            zlabel = f"{label}.zones[{zone_id}]" if isinstance(zone_id, str) and zone_id else \
                f"{label}.zones[{index}]"
            for extra in raw:
                if extra not in ("id", "name", "attributes"):
                    self.add((*zkey, extra), f"{zlabel}.{extra}", "unknown key (allowed: id, name, attributes)")
                    ok = False
            if not isinstance(zone_id, str) or not SLUG.match(zone_id) or zone_id == "cmd":
                self.add((*zkey, "id"), f"{zlabel}.id", "must be a short slug (a-z, 0-9, _ or -, not 'cmd', "
                         f"which is the device's command topic), got {zone_id!r}")
                ok = False
                continue
            if zone_id in zones:
                self.add((*zkey, "id"), f"{zlabel}.id", f"duplicate zone id {zone_id!r} "
                         f"(first at line {zones[zone_id].line})")
                ok = False
                continue
            attrs = self.attributes(schema.zone, raw.get("attributes"), (*zkey, "attributes"),
                                    f"{zlabel}.attributes")
            if attrs is None:
                ok = False
                continue
            for attr in schema.zone.values():
                if not (attr.unique or attr.name == schema.zone_key) or attr.name not in attrs:
                    continue
                marker = (attr.name, attrs[attr.name])
                if marker in unique_seen:
                    self.add((*zkey, "attributes", attr.name), f"{zlabel}.attributes.{attr.name}",
                             f"duplicate {attr.name} {attrs[attr.name]!r} (also zone {unique_seen[marker]!r})")
                    ok = False
                unique_seen[marker] = zone_id
            zones[zone_id] = ZoneConfig(zone_id, str(raw.get("name") or zone_id), attrs,
                                        line=self.doc.line(zkey))
        return zones if ok else None


def _vol_message(err: vol.Invalid, schema: vol.Schema) -> str:
    if err.msg == "extra keys not allowed":
        node = schema.schema
        for part in err.path[:-1]:  # descend to the mapping that holds the unknown key
            node = next((v for k, v in node.items() if str(k) == str(part)), {}) if isinstance(node, dict) else {}
            if isinstance(node, vol.Any):
                node = next((v for v in node.validators if isinstance(v, dict)), {})
        allowed = ", ".join(str(k) for k in node) if isinstance(node, dict) else "none"
        return f"unknown key (allowed: {allowed})"
    msg = friendly(err)
    if msg.startswith("expected int"):
        return "expected an integer"
    if msg.startswith("expected bool"):
        return "expected true or false"
    if msg.startswith("expected str"):
        return "expected a string"
    return msg


def _plain(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


def load_site(path: Path, schemas: dict[str, DriverSchema], simulators: set[str] | None = None) -> SiteConfig:
    """Load and check a site file; raises SiteFileError with every problem found.

    ``simulators`` (the installed simulator names) lets the check reject an unknown one."""
    doc = load_site_yaml(path)
    checker = _Checker(doc, schemas, path, simulators)
    site = checker.run()
    if site is None or doc.problems:
        # A value whose secret is missing would also fail its own check: report it once.
        unresolved = {p.path for p in doc.problems}
        problems = doc.problems + [p for p in checker.problems if p.path not in unresolved]
        raise SiteFileError(path.name, sorted(problems, key=lambda p: (p.line or 0)))
    return site


__all__ = ["load_site", "SiteConfig", "MqttConfig", "SiteFileError", "Problem"]
