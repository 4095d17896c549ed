"""Contact ID reports of AX PRO panels (guide A.3.1 ``CIDEvent``): what each one means for gemhost.

A ``CIDEvent.code`` is the Contact ID event code with its qualifier in front (the guide's
examples: ``1401`` "DisarmOperation", ``1103``): qualifier 1 is a new event (for 4xx: an
opening, i.e. a disarm), 3 a restore (for 4xx: a closing, i.e. an arm), 6 a status report.
``evttype`` (A.3.1: 11 alarm, 12 exception, 13 operation, 31 alarm restore, 32 exception
restore, 33 operation over) decides when the code alone does not. The event code families are
those of the SIA DC-05 Contact ID standard the panels implement.

The classification follows the event-lifetime contract: arming, disarming and bypass reports
are panel *state* (published as ``arming`` / ``bypass`` pulses, never as alarms); alarms and
troubles are conditions that a restore (qualifier 3) ends; anything else is a pulse.
"""

from __future__ import annotations

from dataclasses import dataclass

QUALIFIERS = {1: "event", 3: "restore", 6: "status"}
RESTORE_EVTTYPES = {"31", "32"}

# Stateful condition types (declared "stateful" in schemas/hpp.yaml) and pulse types.
ALARM, FIRE, MEDICAL, PANIC, TAMPER, FAULT = "alarm", "fire", "medical", "panic", "tamper", "fault"
ARMING, BYPASS, CID = "arming", "bypass", "cid"
STATEFUL = (ALARM, FIRE, MEDICAL, PANIC, TAMPER, FAULT)

# Contact ID descriptions (SIA DC-05) of the codes AX PRO panels report most.
DESCRIPTIONS: dict[int, str] = {
    100: "medical", 101: "personal emergency", 110: "fire", 111: "smoke", 113: "water flow",
    114: "heat", 115: "pull station", 117: "flame", 120: "panic", 121: "duress", 122: "silent panic",
    123: "audible panic", 130: "burglary", 131: "perimeter", 132: "interior", 133: "24-hour",
    134: "entry/exit", 135: "day/night", 136: "outdoor", 137: "panel tamper", 139: "intrusion verifier",
    140: "general alarm", 144: "sensor tamper", 145: "expansion module tamper", 146: "silent burglary",
    150: "24-hour non-burglary", 151: "gas", 154: "water leakage", 158: "high temperature",
    159: "low temperature", 162: "carbon monoxide", 301: "AC power loss", 302: "low system battery",
    305: "system reset", 311: "battery missing", 321: "bell trouble", 350: "communication trouble",
    351: "telco line fault", 354: "failure to communicate", 373: "fire trouble", 380: "sensor trouble",
    381: "loss of supervision (RF)", 383: "sensor tamper", 384: "RF low battery", 400: "open/close",
    401: "open/close by user", 402: "group open/close", 403: "automatic open/close", 406: "cancel",
    407: "remote arm/disarm", 408: "quick arm", 409: "keyswitch open/close", 441: "armed stay",
    442: "keyswitch armed stay", 453: "failed to open", 454: "failed to close", 455: "auto-arm failed",
    456: "partial arm", 461: "wrong code entry", 570: "zone bypass", 571: "fire bypass",
    572: "24-hour zone bypass", 573: "burglary bypass", 574: "group bypass", 601: "manual test",
    602: "periodic test",
}  # fmt: skip

ARMING_CODES = frozenset({400, 401, 402, 403, 407, 408, 409, 441, 442, 456})
STAY_CODES = frozenset({441, 442, 456})
BYPASS_CODES = frozenset(range(570, 576))
TAMPER_CODES = frozenset({137, 144, 145, 383})
# Codes about one zone (a detector) rather than a partition or the panel.
ZONE_CODES = frozenset(range(100, 200)) | frozenset(range(380, 390)) | BYPASS_CODES


@dataclass(frozen=True)
class Meaning:
    """How one CID report is published: event type, lifetime state, and panel-state effects."""

    type: str
    state: str  # "active", "inactive" or "pulse" (the lifetime contract's report states)
    qualifier: int | None
    code: int | None
    arming: str | None = None  # away | stay | disarmed, for arming reports
    bypassed: bool | None = None  # for bypass reports

    @property
    def zone_related(self) -> bool:
        return self.code in ZONE_CODES


def split_code(value: object) -> tuple[int | None, int | None]:
    """(qualifier, event code) of ``1130``, ``"3401"``, ``"E130"``/``"R130"`` or a bare ``130``."""
    text = str(value if value is not None else "").strip().upper()
    if text[:1] in ("E", "R") and text[1:].isdigit():
        return (1 if text[0] == "E" else 3), int(text[1:])
    if text.isdigit() and len(text) == 4:
        return int(text[0]), int(text[1:])
    if text.isdigit():
        return None, int(text)
    return None, None


def _family(code: int | None, evttype: str) -> str:
    if code is not None:
        if code in TAMPER_CODES:
            return TAMPER
        if 100 <= code <= 102:
            return MEDICAL
        if 110 <= code <= 118:
            return FIRE
        if 120 <= code <= 126:
            return PANIC
        if code in (141, 142, 143, 147) or 200 <= code <= 399:
            return FAULT
        if 130 <= code <= 199:
            return ALARM
    return {"11": ALARM, "31": ALARM, "12": FAULT, "32": FAULT}.get(evttype, CID)


def classify(code_value: object, evttype: object = None) -> Meaning:
    """The meaning of a CIDEvent's code (and evttype), per the module docstring."""
    qualifier, code = split_code(code_value)
    kind = str(evttype or "").strip()
    restore = qualifier == 3 or (qualifier is None and kind in RESTORE_EVTTYPES)
    if code in ARMING_CODES:
        arming = ("stay" if code in STAY_CODES else "away") if restore else "disarmed"
        return Meaning(ARMING, "pulse", qualifier, code, arming=arming)
    if code in BYPASS_CODES:
        return Meaning(BYPASS, "pulse", qualifier, code, bypassed=not restore)
    family = _family(code, kind)
    if family in STATEFUL:
        if qualifier == 6:  # a status report of an open condition: a repeat of it
            return Meaning(family, "active", qualifier, code)
        return Meaning(family, "inactive" if restore else "active", qualifier, code)
    return Meaning(CID, "pulse", qualifier, code)


def partitions(value: object) -> list[int]:
    """Partition numbers of A.3.1 ``partitionNo``: 32-bit words, highest first, right bit = lowest.

    The guide's examples: ``"43"`` (101011) is 1, 2, 4, 6; ``"21,2"`` is 2, 33, 35, 37.
    """
    words = [w.strip() for w in str(value or "").split(",") if w.strip()]
    out: list[int] = []
    for index, word in enumerate(reversed(words)):
        if not word.isdigit():
            return []
        bits = int(word)
        out.extend(index * 32 + bit + 1 for bit in range(32) if bits >> bit & 1)
    return sorted(out)
