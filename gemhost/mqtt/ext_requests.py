"""Command requests over MQTT, each answered exactly once (see :mod:`gemhost.mqtt.commands`).

This extension decides where a reply goes (the request's MQTT 5 response topic when allowed,
else ``<request>/reply``, correlation data echoed), refuses what must never run (retained
commands, refused response topics) with a reply that says why, and answers ``busy`` on the
spot when the incoming backlog is full. Running the request is the command runner's job.
"""

from __future__ import annotations

import logging
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from gemhost.errors import BAD_REQUEST, BUSY, CommandError
from gemhost.mqtt.client import payload_bytes
from gemhost.mqtt.commands import CommandRunner, Router, reply_payload, request_id
from gemhost.mqtt.connection import publish_now
from gemhost.mqtt.extension import BridgeContext, Extension, Subscription

log = logging.getLogger("gemhost.mqtt")


class RequestsExtension(Extension):
    def __init__(self, ctx: BridgeContext, router: Router | None = None) -> None:
        super().__init__(ctx)
        self.runner = CommandRunner(ctx.host, max_payload=ctx.cfg.max_payload, router=router)
        self.busy_replies = 0
        """Requests answered ``busy`` on arrival because the incoming backlog was full."""
        self.refused_response_topics = 0

    def subscriptions(self) -> list[Subscription]:
        # MQTT 5: Retain As Published, so a retained command keeps its flag even when the
        # broker delivers it live, and is never taken for a request. (3.1.1 has no such
        # option: its brokers clear the flag on live delivery, see docs/mqtt.md.)
        return [(self.ctx.topics.command_filter, SubscribeOptions(qos=1, retainAsPublished=True))]

    async def on_message(self, message: aiomqtt.Message) -> bool:
        topic = message.topic.value
        parsed = self.ctx.topics.parse_command(topic)
        if parsed is None:
            return False
        payload = payload_bytes(message.payload)
        if message.retain and not payload:
            return True  # a retained command being cleared
        reply_topic, reply_props, refusal = self._reply_route(topic, message.properties)
        if message.retain:  # never run: a leftover (or a mistake) that would run on every connect
            refusal = CommandError(BAD_REQUEST, "retained commands are not run; publish the request without "
                                   "retain, and clear the retained one with an empty retained message")

        async def send(body: bytes) -> None:
            live = self.ctx.link.client
            if live is None:
                raise aiomqtt.MqttError("not connected")
            await live.publish(reply_topic, body, qos=1, retain=False, properties=reply_props)

        await self.runner.submit(parsed.target, parsed.command, payload, send, refusal=refusal)
        return True

    def on_overflow(self, message: aiomqtt.Message) -> bool:
        client = self.ctx.link.client
        parsed = self.ctx.topics.parse_command(message.topic.value)
        if client is None or parsed is None or message.retain:
            return False
        reply_topic, reply_props, _ = self._reply_route(message.topic.value, message.properties)
        busy = CommandError(BUSY, "gemhost has too many requests waiting; retry later")
        body = reply_payload(request_id(payload_bytes(message.payload), self.ctx.cfg.max_payload), error=busy)
        if not publish_now(client, reply_topic, body, reply_props):
            return False
        self.busy_replies += 1
        return True

    def _reply_route(self, topic: str, props: Any) -> tuple[str, Properties | None, CommandError | None]:
        """Where the reply goes and with which properties: the request's MQTT 5 response
        topic when it is allowed, else the standard ``<request>/reply`` (with the refusal as
        the reply); correlation data is echoed either way."""
        standard = self.ctx.topics.reply(topic)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        reply_props: Properties | None = None
        if correlation is not None and self.ctx.link.v5:
            reply_props = Properties(PacketTypes.PUBLISH)
            reply_props.CorrelationData = correlation
        wanted = getattr(props, "ResponseTopic", None) if props is not None else None
        if not wanted:
            return standard, reply_props, None
        why = self.ctx.topics.response_topic_refusal(wanted, topic, self.ctx.cfg.response_topics)
        if why is None:
            return wanted, reply_props, None
        self.refused_response_topics += 1
        if self.refused_response_topics == 1 or self.refused_response_topics % 1000 == 0:
            log.warning("refused response topic %r of a request on %s: %s (%d refused so far)", wanted[:200],
                        topic, why, self.refused_response_topics)
        return standard, reply_props, CommandError(BAD_REQUEST, f"response topic {wanted[:200]!r} refused: {why}; "
                                                   "the request was not run")

    async def stop(self) -> None:
        await self.runner.cancel_all()
