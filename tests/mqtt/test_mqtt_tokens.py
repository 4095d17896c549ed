"""Access tokens: the store, the CLI, and enforcement end to end over MQTT."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging

import pytest
from mqtt_helpers import site_for

from gemhost.cli_token import add_token_parser
from gemhost.errors import CommandError
from gemhost.tokens import TokenStore, parse_ttl

B = "gem/lab"


def test_store_scopes_expiry_and_revocation(tmp_path, monkeypatch):
    store = TokenStore(tmp_path / "tokens.json")
    cams = store.create("cams", ["cam1"], [], ["echo", "snapshot"], 3600)
    zone = store.create("yard-only", [], ["cam1/yard"], ["snapshot"], None)
    assert cams.startswith("gh_") and cams != zone
    assert store.authorize(cams, "cam1", None, "echo") == "cams"
    assert store.authorize(zone, "cam1", "yard", "snapshot") == "yard-only"
    for token, device, zone_id, command, why in [
        (cams, "cam2", None, "echo", "does not cover device 'cam2'"),
        (cams, "cam1", None, "reboot", "does not allow command 'reboot'"),
        (zone, "cam1", "door", "snapshot", "does not cover zone cam1/door"),
        (zone, "cam1", None, "snapshot", "does not cover device 'cam1'"),
        ("gh_forged", "cam1", None, "echo", "unknown token"),
        (None, "cam1", None, "echo", "requires a token"),
    ]:
        with pytest.raises(CommandError) as info:
            store.authorize(token, device, zone_id, command)
        assert info.value.code == "unauthorized" and why in info.value.message
    # the file holds hashes only, and is private to its owner
    text = (tmp_path / "tokens.json").read_text()
    assert cams not in text and zone not in text
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0
    listed = store.list()
    assert [t["name"] for t in listed] == ["cams", "yard-only"]
    assert all(cams not in json.dumps(t) and "sha256" not in t for t in listed)
    # expiry: move the clock past it
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    monkeypatch.setattr("gemhost.tokens._now", lambda: later)
    with pytest.raises(CommandError, match="expired"):
        store.authorize(cams, "cam1", None, "echo")
    assert {t["name"]: t["status"] for t in store.list()} == {"cams": "expired", "yard-only": "active"}
    # revocation is seen by another store on the same file (a running host)
    other = TokenStore(tmp_path / "tokens.json")
    assert other.authorize(zone, "cam1", "yard", "snapshot") == "yard-only"
    assert store.revoke("yard-only") and not store.revoke("yard-only")
    with pytest.raises(CommandError, match="revoked"):
        other.authorize(zone, "cam1", "yard", "snapshot")


def test_store_rejects_bad_input(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    for args in [("bad name", ["*"], [], None, None), ("x", [], [], None, None),
                 ("x", [], ["cam1"], None, None), ("x", ["*"], [], None, -5)]:
        with pytest.raises(ValueError):
            store.create(*args)
    store.create("dup", ["*"], [], None, None)
    with pytest.raises(ValueError, match="exists"):
        store.create("dup", ["*"], [], None, None)
    assert parse_ttl("90s") == 90 and parse_ttl("1h") == 3600 and parse_ttl("7d") == 604800
    assert parse_ttl("never") is None
    with pytest.raises(ValueError):
        parse_ttl("soon")


def test_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    parser = argparse.ArgumentParser(prog="gemhost")
    add_token_parser(parser.add_subparsers(dest="command").add_parser)  # the add_command(name, help=) shape

    def run(*argv: str) -> int:
        args = parser.parse_args(["token", "--site", str(tmp_path / "site.yaml"), *argv])
        return args.func(args)

    assert run("create", "--name", "early", "--devices", "cam1") == 2  # no site file yet
    assert "not found" in capsys.readouterr().err
    (tmp_path / "site.yaml").write_text("site: {id: lab}\n")
    assert run("create", "--name", "frigate", "--devices", "cam1,cam2", "--commands", "snapshot",
               "--ttl", "1h") == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("gh_")
    assert run("list") == 0
    out = capsys.readouterr().out
    assert "frigate" in out and "cam1, cam2" in out and "snapshot" in out and token not in out
    assert run("list", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "active"
    assert run("revoke", "frigate") == 0 and run("revoke", "frigate") == 1
    assert run("create", "--name", "x", "--devices", "*", "--ttl", "later") == 2
    assert TokenStore.for_site(tmp_path / "site.yaml").list()[0]["status"] == "revoked"
    # --site is accepted after the action too, as in `gemhost token create --site site.yaml ...`
    args = parser.parse_args(["token", "list", "--site", str(tmp_path / "site.yaml")])
    assert args.site == tmp_path / "site.yaml" and args.func(args) == 0
    assert "frigate" in capsys.readouterr().out


async def test_tokens_enforced_over_mqtt(mqtt_broker, host_factory, watcher_factory, caplog):
    host = await host_factory(site_for(mqtt_broker, require_token=True))
    store = host.tokens
    good = store.create("ops", ["cam1"], [], ["echo"], 3600)
    yard = store.create("yard", [], ["cam1/yard"], ["snapshot"], 3600)
    w = await watcher_factory(mqtt_broker.port)
    await host.bridge.connected.wait()
    caplog.set_level(logging.INFO)

    async def ask(command: str, body: dict) -> dict:
        return await w.request(f"{B}/cam1/cmd/{command}", body)

    reply = await ask("echo", {"id": 1, "args": {"text": "a"}})
    assert reply["error"]["code"] == "unauthorized"
    assert (await ask("echo", {"id": 2, "args": {"text": "a"}, "token": good}))["ok"]
    assert (await ask("echo", {"id": 3, "args": {"text": "a"}, "token": yard}))["error"]["code"] == "unauthorized"
    assert (await ask("snapshot", {"id": 4, "args": {"zone": "yard"}, "token": yard}))["ok"]
    denied = await ask("snapshot", {"id": 5, "args": {"address": 1}, "token": yard})
    # address 1 is zone door: the refusal must not name it (the token learns nothing of door)
    assert denied["error"] == {"code": "unauthorized",
                               "message": "token 'yard' does not cover this request on device 'cam1'"}
    store.revoke("ops")
    assert (await ask("echo", {"id": 6, "args": {"text": "a"}, "token": good}))["error"]["code"] == "unauthorized"
    assert good not in caplog.text and yard not in caplog.text
    assert "token yard" in caplog.text  # logs name the token


async def test_host_commands_need_a_host_token(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker, require_token=True))
    admin = host.tokens.create("admin", ["host"], [], ["reload", "list_devices"], 3600)
    camera_only = host.tokens.create("cams", ["cam1"], [], [], 3600)
    w = await watcher_factory(mqtt_broker.port)
    await host.bridge.connected.wait()

    async def ask(command: str, body: dict) -> dict:
        return await w.request(f"{B}/host/cmd/{command}", body)

    assert (await ask("reload", {"id": "a"}))["error"]["code"] == "unauthorized"
    denied = await ask("reload", {"id": "b", "token": camera_only})
    assert denied["error"] == {"code": "unauthorized", "message": "token 'cams' does not cover device 'host'"}
    assert (await ask("describe", {"id": "c", "token": admin}))["error"]["code"] == "unauthorized"
    reloaded = {"ok": True, "problems": [], "restart_required": []}
    assert await ask("reload", {"id": "d", "token": admin}) == {"id": "d", "ok": True, "result": reloaded}
    listed = await ask("list_devices", {"id": "e", "token": admin})
    assert [d["id"] for d in listed["result"]["devices"]] == ["cam1", "cam2"]
