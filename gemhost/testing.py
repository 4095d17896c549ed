"""Test utilities for gemhost and for third-party driver authors: an MQTT consumer that
records what the host publishes and sends commands the way an integration would.

Used by gemhost's own end-to-end tests (simulator -> host -> real broker -> this client).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from typing import Any

import aiomqtt


def skip_without(what: str) -> None:
    """Skip a test whose external binary (mosquitto, its clients) is absent, except where
    ``GEMHOST_REQUIRE_MOSQUITTO`` is set (CI): there a missing binary fails loudly."""
    import pytest

    message = f"{what} not installed (apt-get install mosquitto mosquitto-clients); CI installs it"
    if os.environ.get("GEMHOST_REQUIRE_MOSQUITTO"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for brokers and simulators in tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MqttWatcher:
    """A plain MQTT client that records everything under a filter, as a consumer would."""

    def __init__(self, url_port: int, protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311) -> None:
        self.port = url_port
        self.protocol = protocol
        self.messages: list[aiomqtt.Message] = []
        self._new = asyncio.Condition()
        self.client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *filters: str) -> MqttWatcher:
        self.client = aiomqtt.Client("127.0.0.1", self.port, protocol=self.protocol, timeout=5)
        await self.client.__aenter__()
        for f in filters:
            await self.client.subscribe(f, qos=1)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self.client is not None
        async for message in self.client.messages:
            async with self._new:
                self.messages.append(message)
                self._new.notify_all()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.client:
            try:
                await self.client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if m.topic.value == topic]

    async def wait(self, topic: str, check: Callable[[aiomqtt.Message], bool] = lambda m: True,
                   timeout: float = 10) -> aiomqtt.Message:
        async def find() -> aiomqtt.Message:
            async with self._new:
                while True:
                    for m in self.messages:
                        if m.topic.value == topic and check(m):
                            return m
                    await self._new.wait()
        return await asyncio.wait_for(find(), timeout)

    async def wait_json(self, topic: str, check: Callable[[Any], bool] = lambda d: True,
                        timeout: float = 10) -> Any:
        msg = await self.wait(topic, lambda m: bool(m.payload) and check(json.loads(m.payload)), timeout)
        return json.loads(msg.payload)

    async def request(self, topic: str, body: Any, timeout: float = 10) -> Any:
        """Publish a command and wait for its reply on ``<topic>/reply`` (matched by id)."""
        assert self.client is not None
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.client.subscribe(topic + "/reply", qos=1)
        seen = len(self.on(topic + "/reply"))
        await self.client.publish(topic, payload, qos=1)
        req_id = body.get("id") if isinstance(body, dict) else None

        def check(m: aiomqtt.Message) -> bool:
            return json.loads(m.payload).get("id") == req_id
        if req_id is None:
            async def nth() -> aiomqtt.Message:
                async with self._new:
                    while len(self.on(topic + "/reply")) <= seen:
                        await self._new.wait()
                return self.on(topic + "/reply")[seen]
            return json.loads((await asyncio.wait_for(nth(), timeout)).payload)
        return json.loads((await self.wait(topic + "/reply", check, timeout)).payload)
