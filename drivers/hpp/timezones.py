"""Guide appendix A.2, Time Zone List: HPP's time zone numbers and their UTC offsets.

Device rows (guide 3.21, ``timeZone``) carry one of these numbers, and most event bodies
(A.3: ``triggerTime`` "yyyy-MM-ddThh:mm:ss") carry the device's local time without an offset.
The driver reads such a time in the device's zone from this table. The guide lists standard
offsets only (no daylight saving rule), so a device in a DST region is read one hour off
during summer time; bodies with an explicit offset (``dateTime`` with ``Z`` or ``+hh:mm``)
are exact.
"""

from __future__ import annotations

import datetime as dt

# number -> offset in minutes east of UTC (A.2, pages 160-165, in the guide's order).
_OFFSETS: dict[int, int] = {
    2: -540, 27: 60, 28: 60, 30: -360, 41: -300, 46: 120, 48: 0, 51: 120, 53: -600, 72: -420,
    86: -480, 87: -480, 90: 60, 119: -300, 120: -420, 133: 60, 134: 60, 135: 0, 136: 0, 137: 60,
    138: 60, 139: 120, 140: 120, 141: 120, 142: 120, 143: 120, 216: 780, 217: 840, 144: 120,
    118: 120, 145: 120, 146: 120, 147: 120, 148: 120, 149: 120, 150: 180, 151: 180, 152: 180,
    153: 180, 154: 180, 155: 180, 156: 210, 157: 240, 158: 240, 159: 240, 160: 240, 161: 240,
    162: 240, 163: 240, 164: 240, 165: 270, 166: 300, 167: 300, 168: 300, 169: 330, 170: 330,
    171: 345, 172: 360, 173: 360, 174: 360, 175: 390, 176: 420, 177: 420, 178: 420, 179: 420,
    180: 420, 181: 420, 182: 480, 183: 480, 184: 480, 185: 480, 186: 480, 187: 480, 188: 525,
    189: 540, 190: 540, 191: 540, 192: 540, 193: 540, 194: 570, 195: 570, 196: 600, 197: 600,
    198: 600, 199: 600, 200: 600, 201: 630, 202: 660, 203: 660, 204: 660, 205: 660, 206: 660,
    207: 660, 208: 720, 209: 720, 211: 720, 212: 720, 213: 765, 214: 780, 215: 780, 218: -60,
    219: -60, 220: -120, 222: -180, 223: -180, 224: -180, 225: -180, 226: -180, 227: -180,
    228: -180, 229: -180, 230: -180, 231: -180, 232: -240, 233: -240, 234: -240, 235: -240,
    236: -240, 237: -240, 238: -300, 239: -300, 240: -300, 241: -300, 242: -300, 243: -360,
    244: -360, 245: -360, 246: -360, 247: -420, 248: -480, 249: -540, 251: -570, 252: -600,
    253: -660, 254: -720, 261: 240, 262: 300,
}  # fmt: skip


def zone_of(number: object) -> dt.timezone | None:
    """The fixed-offset zone of an HPP time zone number (int or numeric string), or None."""
    try:
        minutes = _OFFSETS.get(int(str(number).strip()))
    except (TypeError, ValueError):
        return None
    return None if minutes is None else dt.timezone(dt.timedelta(minutes=minutes))
