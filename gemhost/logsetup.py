"""Logging: one line per record, and a last line of defence that masks every known secret.

Secrets are kept in :class:`gemhost.model.Secret` objects that never print themselves, but a
driver could still format a URL or an exception that contains one; the formatter below masks
every secret value the process has seen, wherever it appears in a log line.
"""

from __future__ import annotations

import logging

from gemhost.model import mask_secrets


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter (broker internals) stays at WARNING unless debugging.
    if level.upper() != "DEBUG":
        for noisy in ("amqtt", "transitions", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
