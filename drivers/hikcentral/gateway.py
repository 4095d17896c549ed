"""HikCentral's status and error codes, and what the Artemis gateway says when it refuses a call.

A real gateway answers most refusals with HTTP 200 and the code in the JSON envelope
(``{"code": "0x02401003", "msg": "..."}``), so the client classifies by that code first and
only then by the HTTP status. The table holds the codes of the OpenAPI guide's "Status or
Error Code" appendix that the driver can meet; sources and open questions are listed in
docs/drivers/hikcentral.md.

An invalid signature (``0x02401003``) comes with the gateway's *StringToSign* echoed in
``msg``. That string holds no secret and is exactly what an integrator needs to see, but
some gateway versions append ``apiName : ..., appKey : ..., secret : <AppSecret>`` to the
same message, so nothing of ``msg`` is shown before :func:`gateway_string_to_sign` and
:func:`sanitize` have cut it down.
"""

from __future__ import annotations

import re

# Failure reasons (stable strings: test_connection returns them, docs list them).
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
TLS = "tls"
AUTH = "auth"
API_DISABLED = "api_disabled"
PERMISSION = "permission"
BAD_RESPONSE = "bad_response"
API_ERROR = "api_error"

INVALID_SIGNATURE = "0x02401003"
# "Requested resource doesn't exist": what HikCentral answers for an unknown camera.
NOT_FOUND = "128"

# code -> (reason, what the guide says it means)
CODES: dict[str, tuple[str, str]] = {
    "0x02401000": (AUTH, "no AppKey was sent"),
    "0x02401001": (AUTH, "no partner has this AppKey"),
    "0x02401002": (AUTH, "no signature was sent"),
    INVALID_SIGNATURE: (AUTH, "invalid signature"),
    "0x02401004": (AUTH, "token authentication failed"),
    "0x02401005": (AUTH, "no token was sent"),
    "0x02401006": (AUTH, "token exception"),
    "0x02401007": (PERMISSION, "no permission; the administrator must grant this API to the partner"),
    "0x02401008": (API_ERROR, "authentication exception; check the gateway service"),
    "0x02401009": (API_ERROR, "maximum number of API calls reached"),
    "0x0240100a": (API_ERROR, "parameter conversion exception"),
    "0x00072001": (API_ERROR, "a required parameter is missing"),
    "0x00072002": (API_ERROR, "a parameter is out of range"),
    "0x00072003": (API_ERROR, "a parameter has the wrong format"),
    "0x00072004": (API_ERROR, "the response is too long; use smaller pages"),
    "0x00052101": (API_ERROR, "the service is at its highest load; try again later"),
    "0x00052102": (API_ERROR, "service error; try again later"),
    "0x00052103": (API_ERROR, "the service timed out"),
    "0x00052104": (API_ERROR, "the service is not available"),
    "0x00072201": (PERMISSION, "no permission for this resource"),
    "8": (API_ERROR, "this product version does not support the API"),
    "17": (PERMISSION, "no permission for OpenAPI access"),
    NOT_FOUND: (API_ERROR, "the requested resource does not exist"),
    "129": (API_ERROR, "the resource is offline"),
    "130": (PERMISSION, "no permission for this resource"),
    "192": (API_ERROR, "the operation failed"),
    "194": (API_ERROR, "HikCentral could not connect to the device"),
    "195": (API_ERROR, "the device does not support this function"),
}

_ECHO = "StringToSign:"
_SECRET_FIELD = re.compile(r"(?i)(secret\s*:\s*)[^,\s]+")


def classify(code: str) -> tuple[str, str] | None:
    """(reason, meaning) of a known code, None for a code the guide does not list."""
    key = code.strip()
    return CODES.get(key.lower() if key.lower().startswith("0x") else key)


def gateway_string_to_sign(msg: str) -> str | None:
    """The StringToSign a gateway echoed in ``msg``, cut after the request path.

    The echo is the canonical lines (method, standard headers, ``x-ca-*: value``) followed by
    the path; whatever the gateway appends after the path (``, apiName : ..., secret : ...``)
    is dropped.
    """
    start = msg.find(_ECHO)
    if start < 0:
        return None
    lines: list[str] = []
    for line in msg[start + len(_ECHO):].lstrip(" ").split("\n"):
        if line.startswith("/"):
            lines.append(line.split(",", 1)[0].strip())
            return "\n".join(lines)
        lines.append(line)
    return None


def sanitize(msg: str, secret: str | None = None) -> str:
    """``msg`` without an echoed StringToSign, ``secret : ...`` fields or the AppSecret."""
    start = msg.find(_ECHO)
    if start >= 0:
        msg = msg[:start].rstrip(" ,:") + " (StringToSign echoed)"
    msg = _SECRET_FIELD.sub(r"\1***", msg)
    if secret:
        msg = msg.replace(secret, "***")
    return " ".join(msg.split())[:200]


def first_difference(theirs: str, ours: str) -> str:
    """Where two strings to sign part, in words (``""`` when they are the same)."""
    their_lines, our_lines = theirs.split("\n"), ours.split("\n")
    for number, (a, b) in enumerate(zip(their_lines, our_lines, strict=False), start=1):
        if a != b:
            return f"line {number}: the gateway has {a!r}, the driver signed {b!r}"
    if len(their_lines) != len(our_lines):
        return (f"the gateway's string has {len(their_lines)} lines, the driver's "
                f"{len(our_lines)}")
    return ""
