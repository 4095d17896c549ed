"""Everything this driver does that the vendor's guide does not say, in one place.

The wire formats of the driver and of its simulator come from "Hik-Partner Pro OpenAPI
V2.14.0 Developer Guide" (cited by section where they are used). What follows does not: it is
asked for by HikCentral Professional 2.4's "access HPP devices" page (the project's seed), or it
fills a gap the guide leaves. Each item is listed in docs/drivers/hpp.md under "Assumptions",
and nothing outside this module decides any of it, so a correction lands here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gemhost.model import Secret

# 1. The "Key" access mode (seed: HCP 2.4 offers "Key" or "AK/SK"). The guide only knows
#    appKey/secretKey (2.2, 3.1; the ARC ID/ARC Key of 2.6 are the same pair). A key issued by
#    the vendor's support is therefore posted to the same token API under the name "key".
KEY_MODE = "key"
AKSK_MODE = "aksk"


def key_mode_token_body(key: Secret) -> dict[str, str]:
    """The token request body of the "Key" mode (assumption 1)."""
    return {"key": key.reveal()}


# 2. The binding lock (seed: "the HPP connection cannot be edited once saved"). The guide has
#    no notion of it; binding.py records the account on the first good connect and refuses a
#    changed one until `gemhost hpp unbind`.
BINDING_LOCK = True

# 3. The events on/off switch (seed: "receive events"). Pulling mq/messages consumes the
#    account's queue for every consumer (guide 3.34/3.35), so off means never calling it.
EVENTS_SWITCH = "receive_events"


def events_enabled(settings: Any) -> bool:
    """The switch's value in the driver's typed settings (its default is the schema's)."""
    return bool(getattr(settings, EVENTS_SWITCH))


# 4. Streams (seed: without an HPP camera licence a stream stops after 5 minutes). The guide
#    sends live view and playback through HPNetSDK (2.7), which gemhost does not embed; the
#    limit is documented behaviour of HCP, repeated in `describe`, not enforced here.
UNLICENSED_STREAM_LIMIT_S = 300

# 5. Message ids. The webhook example of guide 2.10 carries `messageId` on every queue item,
#    the mq/messages table (3.34) does not list it. Without one, the id is derived from the
#    message itself (the same re-delivered message gives the same id), so duplicate
#    suppression still works.


def message_id(message: dict[str, Any]) -> str:
    given = message.get("messageId")
    if isinstance(given, str | int) and str(given).strip():
        return str(given).strip()
    digest = hashlib.sha256(repr(sorted((str(k), str(v)) for k, v in message.items())).encode())
    return "sha256:" + digest.hexdigest()[:24]


# 6. Times without an offset (A.3 `triggerTime`) are read in the device's A.2 time zone from
#    device/list; for a device the inventory does not know, in the host's local zone.

# 7. Transport: the guide shows every answer as HTTP 200 with `errorCode` in the body. A
#    non-2xx HTTP status is reported as a device error naming the status, never parsed.

# 8. LAP068001 ("Other user is in search progress", A.1) is read as: a second mq/messages
#    while one is open with the same credentials is refused. The driver never pulls twice at
#    once; a refusal means another consumer uses the account, and the pull backs off.

# 9. Which domain answers what. The guide requests the token at the general domain and sends
#    every other call to `areaDomain` (3.1). The simulator's token listener therefore answers the
#    token API only (404 for the rest, so a client that ignored `areaDomain` would fail), and its
#    regional listener answers everything, the token API included.

# 10. Transparent channel (3.23): the response headers X-EZO-Code, X-ErrorCode, X-DeviceCode
#     are "returned code", "error code", "error code returned from the device". A value other
#     than empty or "0" in X-ErrorCode or X-DeviceCode is read as a failure; X-EZO-Code is
#     quoted in the message. The body then is the device's ResponseStatus (A.5.8 / A.5.27).
HEADER_OK = ("", "0", "200")

# 11. Panel zone numbers in addresses (SERIAL:zone:N) are the panel's own zone ids: the `id`
#     of status/zones (A.5.13), the `zone` of a CID event (A.3.1) and the `id` of a bypass list
#     (A.5.3), which "starts from 0". The HPP app's "Zone 1" is SERIAL:zone:0 (A.3.1: zoneV30 =
#     zone + 1). Partition numbers start from 1 (A.4.10).

# 12. Subscriptions (3.33) are left as the account has them: the driver does not subscribe on
#     start; `arm` / `disarm` of a device zone subscribe or unsubscribe it.

# 13. A Linkage (A.3.6) names its CID event by `relationId`. The driver remembers the last
#     RELATIONS_KEPT CID events' relationId -> message id in memory; a Linkage whose alarm is
#     not remembered (it came before a restart) is published as its own pulse.
RELATIONS_KEPT = 2000

# 14. Outputs (drivers/hpp/outputs.py). A.4.17's relay search takes a JSON_OutputCond (A.5.4)
#     whose searchID, page size and position are the caller's choice: one fixed searchID (the
#     guide: the same one lets the device keep its search history), pages of OUTPUT_PAGE, at
#     most OUTPUT_PAGES pages, the next position = the previous one + numOfMatches while the
#     answer says MORE. A camera output's ioState (A.5.24) "active" is read as on, as it follows
#     the "high" level set_output sends for on (A.5.23); at most OUTPUT_PAGE camera outputs are read.
OUTPUT_SEARCH_ID = "gemhost-outputs"
OUTPUT_PAGE = 32
OUTPUT_PAGES = 8
