"""``gemhost import SITE DEVICE [--all | --new | CODE ...]``: pull zones from a VMS or cloud.

It runs the device's own ``import_*`` command (HikCentral's ``import_cameras``, Hik-Partner
Pro's ``import_devices``), the same code path as the MQTT command, so the shell and MQTT can
never import differently; the CLI only adds a progress line for long imports.

The import writes the site file; a host already running that site learns of it only by a
reload. So after a change the CLI asks the running host, over the site's broker, to run its
``reload`` host command (docs/mqtt.md), and says in one line what came of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from typing import Any

import aiomqtt

from gemhost import contain
from gemhost.errors import NOT_SUPPORTED, CommandError, one_line
from gemhost.hookspecs import AddCommand
from gemhost.mqtt.connection import parse_broker, tls_arguments
from gemhost.mqtt.topics import HOST, Topics
from gemhost.plugins import Registry

TOKEN_ENV = "GEMHOST_TOKEN"
CONNECT_TIMEOUT = 5.0  # seconds to reach the broker
STATUS_WAIT = 3.0  # seconds for the retained host status of a running host
RELOAD_WAIT = 60.0  # seconds for the reload reply (devices may restart)
NEEDED = "a running host needs a reload to use the new zones (SIGHUP or the host reload command)"


def add_import_parser(add_command: AddCommand, registry: Registry) -> None:
    p = add_command("import", help="import cameras/devices of a VMS or cloud account as zones")
    p.add_argument("site")
    p.add_argument("device")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true", help="everything not yet in the site file")
    group.add_argument("--new", action="store_true",
                       help="only what appeared since the last import or sync (the first time: everything)")
    group.add_argument("codes", nargs="*", default=[], help="camera index codes or device serials")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                   help="access token when the site requires one: for the import command and the running "
                        f"host's reload (default ${TOKEN_ENV})")
    p.set_defaults(func=lambda a: contain.run(_import(a, registry)))


def _import_command(schema: Any) -> tuple[str, str] | None:
    """The driver's import command and the list argument that takes the selection."""
    for command in schema.commands.values():
        if command.name.startswith("import_") and command.supported:
            for arg in command.args.values():
                if arg.type == "list":
                    return command.name, arg.name
    return None


async def _import(args: argparse.Namespace, registry: Registry) -> int:
    from gemhost.oneshot import run_one_shot

    if not (args.all or args.new or args.codes):
        print("give --all, --new or at least one code", file=sys.stderr)
        return 2
    selection = ["new"] if args.new else ["all"] if args.all else list(args.codes)
    seen: dict[str, Any] = {}

    async def job(host: Any, runner: Any) -> Any:
        found = _import_command(host.schemas[runner.config.driver])
        if found is None:
            raise CommandError(NOT_SUPPORTED, f"driver {runner.config.driver} of {args.device} "
                               "has no import command")
        command, arg = found
        seen["site"] = host.site
        runner.progress_listeners.append(_print_progress)
        await runner.first_attempt.wait()
        try:
            result = await host.call(args.device, command, {arg: selection}, token=args.token)
        finally:
            print(file=sys.stderr)  # end the progress line
        seen["changed"] = not isinstance(result, dict) or bool(result.get("count", True))
        return result

    code = await run_one_shot(args.site, args.device, registry, job)
    if code == 0 and seen.get("changed"):
        print(await tell_running_host(seen["site"], args.token), file=sys.stderr)
    return code


async def tell_running_host(site: Any, token: str | None = None) -> str:
    """Ask the host running ``site`` to reload; one line saying what happened."""
    cfg = site.mqtt
    topics = Topics((cfg.base_topic or f"gem/{site.id}").rstrip("/"))
    request = topics.command(HOST, "reload")
    try:
        async with (asyncio.timeout(CONNECT_TIMEOUT + STATUS_WAIT + RELOAD_WAIT),
                    aiomqtt.Client(**_client_args(cfg)) as client):
            return await _reload(client, topics.host_status, request, token)
    except (aiomqtt.MqttError, OSError, ValueError) as exc:
        return f"site file updated; {NEEDED}: the site's broker is not reachable ({one_line(exc)})"
    except TimeoutError:
        return f"site file updated; {NEEDED}: the site's broker or host did not answer in time"


async def _reload(client: aiomqtt.Client, status_topic: str, request: str, token: str | None) -> str:
    reply_topic = Topics.reply(request)
    await client.subscribe(status_topic, qos=1)
    await client.subscribe(reply_topic, qos=1)
    messages = client.messages
    if not await _host_online(messages, status_topic):
        return (f"site file updated; no host of this site is running on its broker ({status_topic} is not "
                "online): one started later reads the new zones, any other needs a reload")
    rid = f"gemhost-import-{secrets.token_hex(6)}"
    body: dict[str, Any] = {"id": rid}
    if token:
        body["token"] = token
    await client.publish(request, json.dumps(body), qos=1)
    async with asyncio.timeout(RELOAD_WAIT):
        async for message in messages:
            if message.topic.value != reply_topic:
                continue
            reply = _json(message.payload)
            if reply.get("id") == rid:
                return _reload_outcome(reply)
    return f"site file updated; {NEEDED}: the broker closed the connection"


async def _host_online(messages: Any, status_topic: str) -> bool:
    """True when the retained host status says a host is running (it arrives at once)."""
    try:
        async with asyncio.timeout(STATUS_WAIT):
            async for message in messages:
                if message.topic.value == status_topic:
                    return bytes(message.payload or b"") == b"online"
    except TimeoutError:
        return False
    return False


def _reload_outcome(reply: dict[str, Any]) -> str:
    if reply.get("ok") is True:
        result = reply.get("result") or {}
        if result.get("ok") is False:
            problems = result.get("problems") or ["unknown problem"]
            return f"the running host did not reload, the site file has problems: {problems[0]}"
        return "the running host reloaded the site: the new zones are live"
    error = reply.get("error") or {}
    return (f"site file updated; {NEEDED}: the running host refused the reload "
            f"({error.get('code', 'error')}: {error.get('message', '')})").rstrip()


def _client_args(cfg: Any) -> dict[str, Any]:
    """aiomqtt arguments for a short visit to the site's broker (never the host's client id)."""
    base = {"identifier": f"gemhost-import-{secrets.token_hex(4)}", "timeout": CONNECT_TIMEOUT,
            "protocol": aiomqtt.ProtocolVersion.V5 if str(cfg.protocol) in ("5", "5.0")
            else aiomqtt.ProtocolVersion.V311}
    if cfg.embedded:
        return {"hostname": cfg.embedded_host, "port": int(cfg.embedded_port), **base}
    addr = parse_broker(cfg.broker, cfg.username, cfg.password)
    password = addr.password.reveal() if addr.password else None  # the wire needs it here
    return {"hostname": addr.host, "port": addr.port, "username": addr.username, "password": password,
            **tls_arguments(cfg, addr), **base}


def _json(payload: Any) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _print_progress(done: int, total: int | None, what: str) -> None:
    total_text = f"/{total}" if total else ""
    print(f"\r{done}{total_text} {what}", end="", file=sys.stderr, flush=True)
