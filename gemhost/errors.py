"""Errors a driver raises and the command error codes the host answers with.

Drivers raise the small set of exceptions below; the host turns them into device states
(liveness) or into command replies with a stable ``code`` (the MQTT contract), so no driver
has to know about MQTT.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error a driver raises on purpose. ``str(err)`` is one line for users."""


class AuthError(DriverError):
    """The device refused the credentials (HTTP 401, a rejected key).

    The host counts these: after two in a row the device goes to ``auth_failed`` and is
    not retried until the site is reloaded, because Hikvision locks accounts after ~5.
    """


class DeviceError(DriverError):
    """The device answered, but with an error; the message carries the device's reason."""


class DeviceUnreachable(DriverError):
    """The device could not be reached at all (refused, DNS, TLS, timeout)."""


class NotSupported(DriverError):
    """The device or driver does not offer this function; the message says why."""


class InvalidArgs(DriverError):
    """A command argument broke a rule the schema cannot express (the message names it)."""


class StartupError(Exception):
    """The host cannot start (e.g. the embedded broker's port is taken); one line for users."""


# Stable error codes of the command protocol (documented in docs/mqtt.md).
BAD_REQUEST = "bad_request"
UNKNOWN_DEVICE = "unknown_device"
UNKNOWN_COMMAND = "unknown_command"
INVALID_ARGS = "invalid_args"
DEVICE_OFFLINE = "device_offline"
DEVICE_ERROR = "device_error"
NOT_SUPPORTED = "not_supported"
UNAUTHORIZED = "unauthorized"
TIMEOUT = "timeout"
BUSY = "busy"
INTERNAL_ERROR = "internal_error"


class CommandError(Exception):
    """A command failed with one of the codes above; raised by the host's dispatcher."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def one_line(exc: BaseException) -> str:
    """A one-line reason for logs, device state and command replies; never empty, never
    multi-line, and with every known secret masked (driver text may quote a URL or body)."""
    from gemhost.model import mask_secrets

    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError) and not str(exc).strip():
        text = "timed out"
    return mask_secrets(" ".join(text.split()))[:300]
