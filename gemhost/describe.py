"""``gemhost describe``: a driver's schema as Markdown reference tables, like vendor docs."""

from __future__ import annotations

from typing import Any

from gemhost.schema import Attribute, DriverSchema


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") if text not in (None, "") else ""


def _attribute_rows(attrs: dict[str, Attribute]) -> list[str]:
    rows = ["| Attribute | Required | Type | Default | Notes |", "|---|---|---|---|---|"]
    for attr in attrs.values():
        if attr.required_when:
            required = "when " + ", ".join(f"{k} = {v}" for k, v in attr.required_when.items())
        else:
            required = "yes" if attr.required else "no"
        note = attr.note + (" Secret: never logged or published." if attr.secret else "")
        if attr.default is None:
            default = attr.default_label
        else:
            default = str(attr.default).lower() if isinstance(attr.default, bool) else attr.default
        rows.append(f"| `{attr.name}` | {required} | {_cell(attr.type_label())} | {_cell(default)} "
                    f"| {_cell(note.strip())} |")
    return rows


def to_markdown(schema: DriverSchema) -> str:
    """The whole reference of one driver, generated from its schema file."""
    out = [f"# {schema.title} (`{schema.driver}`)", ""]
    if schema.description:
        out += [schema.description, ""]
    out += ["## Device attributes", "", *_attribute_rows(schema.device), ""]
    if schema.zone:
        out += ["## Zone attributes", ""]
        if schema.zone_key:
            out += [f"Zones are addressed by `{schema.zone_key}`.", ""]
        out += [*_attribute_rows(schema.zone), ""]
    supported = [c for c in schema.commands.values() if c.supported]
    unsupported = [c for c in schema.commands.values() if not c.supported]
    if supported:
        out += ["## Commands", "", "| Command | Scope | Arguments | Notes |", "|---|---|---|---|"]
        for cmd in supported:
            args = ", ".join(_arg_label(a) for a in cmd.args.values()) or "none"
            note = cmd.note.rstrip() + " Reply: " + ", ".join(f"`{k}`" for k in cmd.reply) + "." if cmd.reply \
                else cmd.note
            out.append(f"| `{cmd.name}` | {cmd.scope} | {_cell(args)} | {_cell(note)} |")
        out.append("")
    if unsupported:
        out += ["## Not supported", "", "| Command | Reason |", "|---|---|"]
        out += [f"| `{c.name}` | {_cell(c.reason)} |" for c in unsupported]
        out.append("")
    if schema.events:
        out += ["## Events", "",
                "Kinds: `stateful` ends when the device says so, `repeating` after `event_quiet_time` "
                "without a repeat, `pulse` is instantaneous (the zone stays active for `pulse_hold`). "
                f"Types not listed here are `{schema.event_default_kind}`.", "",
                "| Event type | Kind | Notes |", "|---|---|---|"]
        out += [f"| `{e.name}` | {e.kind} | {_cell(e.note)} |" for e in schema.events.values()]
        out.append("")
    for title, rows in schema.tables.items():
        if not rows:
            continue
        columns = list(dict.fromkeys(k for row in rows for k in row))
        out += [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in rows:
            out.append("| " + " | ".join(_cell(_yes_no(row.get(c))) for c in columns) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _yes_no(value: Any) -> Any:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


def _arg_label(attr: Attribute) -> str:
    label = f"{attr.name}: {attr.type_label()}"
    if not attr.required:
        default = str(attr.default).lower() if isinstance(attr.default, bool) else attr.default
        label += f" = {default}" if attr.default is not None else " (optional)"
    return label
