"""Which outputs a device has and whether each is on: an AX PRO's relays (guide A.4.17) and a
camera's or recorder's alarm outputs (A.4.20, A.4.21), read through the transparent channel.

They become zone state of the device's own zone (``SERIAL``): ``outputs``, the numbers as
``set_output`` takes them (a fact: the schema's capabilities build one switch per number),
and ``output_states``, number -> on (true), off (false) or unknown (null). They are read at
connect, at every status poll and after each ``set_output`` switch, and only for devices that have
a device zone in the site file (nothing else would show them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp import assumptions
from gemhost_drivers.hpp.address import DEVICE
from gemhost_drivers.hpp.parsing import BodyError, as_list, load_xml

from gemhost.errors import DeviceError, DeviceUnreachable, NotSupported, one_line

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

RELAY_STATES = {"on": True, "off": False}
"""A.5.6 Output.status; "offline" and "heartbeatAbnormal" leave the state unknown."""
IO_STATES = {"active": True, "inactive": False}
"""A.5.24 ioState (assumption 14: active is on)."""
OutputStates = dict[int, bool | None]


def output_cond(position: int) -> dict[str, Any]:
    """A.5.4 JSON_OutputCond: one page of the relay search (its three members are required)."""
    return {"OutputCond": {"searchID": assumptions.OUTPUT_SEARCH_ID, "searchResultPosition": int(position),
                           "maxResults": assumptions.OUTPUT_PAGE}}


def relays_from(doc: dict[str, Any]) -> tuple[OutputStates, int, bool]:
    """(relays of one page, results on it, whether more follow) of A.5.6 JSON_OutputSearch_Status.

    A relay with status ``notRelated`` (nothing linked to it) or ``isAvailable`` false can never
    be switched, so it is left out."""
    search = doc.get("OutputSearch")
    if not isinstance(search, dict):
        raise BodyError("no OutputSearch object")
    relays: OutputStates = {}
    items = as_list(search.get("OutputList"))
    for item in items:
        output = item.get("Output") if isinstance(item, dict) else None
        number = output.get("id") if isinstance(output, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            continue
        status = str(output.get("status") or "").strip()
        if status == "notRelated" or output.get("isAvailable") is False:
            continue
        relays[number] = RELAY_STATES.get(status)
    more = str(search.get("responseStatusStrg") or "").strip().upper() == "MORE"
    return relays, len(items), more


def io_output_ids(body: bytes) -> list[int]:
    """The ids of A.5.22 XML_IOOutputPortList (each an A.5.21 IOOutputPort)."""
    tag, content = load_xml(body)
    if tag != "IOOutputPortList":
        raise BodyError(f"expected IOOutputPortList, got {tag}")
    ids = []
    for port in as_list(content.get("IOOutputPort")):
        text = str(port.get("id") or "").strip() if isinstance(port, dict) else ""
        if text.isdigit():
            ids.append(int(text))
    return sorted(set(ids))


def io_state(body: bytes) -> bool | None:
    """On, off or unknown from A.5.24 XML_IOPortStatus."""
    tag, content = load_xml(body)
    if tag != "IOPortStatus":
        raise BodyError(f"expected IOPortStatus, got {tag}")
    return IO_STATES.get(str(content.get("ioState") or "").strip())


class OutputReader:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def load_outputs(self: HppDriver, serial: str) -> OutputStates | None:
        """Read a device's outputs into ``self.outputs`` (the previous reading stays when the
        device cannot be asked now; a device that does not support the URI has none)."""
        row = self.inventory.get(serial)
        if row is None or not row.online:
            return self.outputs.get(serial)
        try:
            if row.is_alarm_host:
                found = await self._relays(serial)
            elif row.is_encoding:
                found = await self._io_outputs(serial)
            else:
                return None
        except NotSupported as exc:
            self.log.debug("outputs of %s: %s", serial, one_line(exc))
            found = {}
        except (DeviceError, BodyError) as exc:
            self.log.debug("outputs of %s: %s", serial, one_line(exc))
            return self.outputs.get(serial)
        self.outputs[serial] = found
        return found

    async def _relays(self: HppDriver, serial: str) -> OutputStates:
        """A.4.17, paged: POST status/outputStatus with the next position until no MORE."""
        relays: OutputStates = {}
        position = 0
        for _page in range(assumptions.OUTPUT_PAGES):
            doc = await self.isapi_json(serial, "POST", "ISAPI/SecurityCP/status/outputStatus?format=json",
                                        output_cond(position))
            found, count, more = relays_from(doc)
            relays.update(found)
            position += count
            if not more or count == 0:
                break
        return relays

    async def _io_outputs(self: HppDriver, serial: str) -> OutputStates:
        """A.4.20 for the list, A.4.21 for each output's state."""
        reply = await self.isapi(serial, "GET", "ISAPI/System/IO/outputs")
        states: OutputStates = {}
        for number in io_output_ids(reply.body)[: assumptions.OUTPUT_PAGE]:
            try:
                status = await self.isapi(serial, "GET", f"ISAPI/System/IO/outputs/{number}/status")
                states[number] = io_state(status.body)
            except (DeviceError, BodyError) as exc:
                self.log.debug("state of output %d of %s: %s", number, serial, one_line(exc))
                states[number] = None
        return states

    def output_fields(self: HppDriver, serial: str) -> dict[str, Any]:
        """The zone-state fields of a device zone: ``outputs`` and ``output_states``."""
        found = self.outputs.get(serial)
        if found is None:
            return {}
        return {"outputs": sorted(found), "output_states": {str(n): found[n] for n in sorted(found)}}

    def has_device_zone(self: HppDriver, serial: str) -> bool:
        return any(address.kind == DEVICE for _zone, address in self.zones_of(serial))

    async def refresh_outputs(self: HppDriver, serial: str) -> None:
        """After a switch: read the device's outputs again and show them at once (the switch
        itself succeeded: a cloud that does not answer now only delays that to the next poll)."""
        if not self.has_device_zone(serial):
            return
        try:
            await self.load_outputs(serial)
        except DeviceUnreachable as exc:
            self.log.debug("outputs of %s after the switch: %s", serial, one_line(exc))
            return
        for zone_id, address in self.zones_of(serial):
            if address.kind == DEVICE:
                self.publish_zone(zone_id, address)

