"""The box's HTTP API (README.md, "The box's API"): JSON over HTTP with an ``X-Api-Key`` header.

Errors become gemhost's: 401 is an AuthError (the host stops retrying after two, so a wrong
key never hammers the box), no answer is DeviceUnreachable, anything else a DeviceError.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import Secret


class BoxClient:
    """Requests to one box, each with its own timeout; the key never appears in an error."""

    def __init__(self, host: str, port: int, api_key: Secret, timeout: float) -> None:
        self.base_url = f"http://{host}:{port}"
        self._headers = {"X-Api-Key": api_key.reveal()}
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def request(self, method: str, path: str, *, json: Any = None, wait: float = 0) -> Any:
        """One request; ``wait`` is how long the box may hold it open (long poll) on top of the timeout."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        timeout = aiohttp.ClientTimeout(total=self.timeout + wait)
        try:
            async with self._session.request(method, self.base_url + path, json=json, timeout=timeout) as resp:
                if resp.status == 401:
                    raise AuthError(f"HTTP 401 on {method} {path}: the box refused the API key")
                if resp.status >= 400:
                    raise DeviceError(f"HTTP {resp.status} on {method} {path}: {(await resp.text())[:200]}")
                return await resp.json()
        except TimeoutError:
            raise DeviceUnreachable(f"{self.base_url}: no answer to {method} {path} "
                                    f"within {self.timeout + wait:g} s") from None
        except aiohttp.ClientError as exc:
            raise DeviceUnreachable(f"{self.base_url}: {method} {path} failed: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
