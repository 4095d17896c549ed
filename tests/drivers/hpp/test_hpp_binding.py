"""The account binding: recorded on first connect, a changed account refused, unbind on purpose."""

from __future__ import annotations

import argparse
import json

import pytest
import voluptuous as vol
from gemhost_drivers.hpp import binding, cli

from gemhost.errors import DeviceError
from gemhost.schema import conditional_problems, mapping_validator


async def test_first_connect_records_the_binding_without_the_secret(make_driver, hpp, sim, tmp_path):
    driver, ctx = make_driver()
    info = await driver.connect()
    record = json.loads((tmp_path / "state" / binding.FILE_NAME).read_text())
    assert record["access_mode"] == "key"
    assert record["domain"] == sim.url
    assert record["key_id"].startswith(hpp.KEY[:4]) and hpp.KEY not in json.dumps(record)
    assert info.extra["devices"] == 3


async def test_changed_key_is_refused_before_contacting_the_cloud(make_driver, sim, tmp_path):
    first, _ = make_driver()
    await first.connect()
    requests = sim.cloud.counters["token_requests"]
    other, _ = make_driver(key="another-key-for-another-account")
    with pytest.raises(DeviceError, match="cannot be changed once saved.*gemhost hpp unbind"):
        await other.connect()
    assert sim.cloud.counters["token_requests"] == requests


async def test_changed_access_mode_is_refused_then_unbind_allows_it(make_driver, hpp, tmp_path):
    first, _ = make_driver()
    await first.connect()
    second, _ = make_driver(access_mode="aksk", key=None, access_key=hpp.AK, secret_key=hpp.SK)
    with pytest.raises(DeviceError, match="bound to key"):
        await second.connect()
    assert binding.unbind(tmp_path / "state") is True
    await second.connect()
    assert binding.load(tmp_path / "state") == binding.Binding("aksk", hpp.AK, first.client.domain)
    assert binding.unbind(tmp_path / "state") is True
    assert binding.unbind(tmp_path / "state") is False


async def test_same_account_reconnects(make_driver):
    driver, _ = make_driver()
    await driver.connect()
    await driver.connect()


def test_fingerprint_tells_keys_apart_and_hides_them():
    a, b = binding.key_fingerprint("abcdefgh-1"), binding.key_fingerprint("abcdefgh-2")
    assert a != b and a.startswith("abcd") and "efgh" not in a


def test_cli_unbind(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site.yaml"
    site.write_text("devices: {}\n")
    monkeypatch.delenv("GEMHOST_STATE_DIR", raising=False)
    state = tmp_path / ".gemhost-state" / "hpp1"
    binding.record(state, binding.Binding("key", "abcd…0123", "https://isgp.hik-partner.com"))
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["hpp", "unbind", str(site), "hpp1"])
    assert args.func(args) == 0
    assert "removed the binding to key abcd…0123" in capsys.readouterr().out
    assert not (state / binding.FILE_NAME).exists()
    assert args.func(args) == 1
    assert "nothing to do" in capsys.readouterr().out


def test_corrupt_binding_is_reported(tmp_path):
    (tmp_path / binding.FILE_NAME).write_text("{not json")
    with pytest.raises(DeviceError, match="unbind"):
        binding.check(tmp_path, binding.Binding("key", "x", "https://a"))


@pytest.mark.parametrize("length", [9, 11, 31, 33])
def test_schema_rejects_other_ak_sk_lengths(hpp, length):
    attrs = {
        "access_mode": "aksk",
        "access_key": "A" * length,
        "secret_key": "S" * 10,
        "domain": "https://isgp.hik-partner.com",
    }
    with pytest.raises(vol.Invalid, match="10 or 32 characters"):
        mapping_validator(hpp.SCHEMA.device)(attrs)


def test_schema_requires_the_secret_of_the_chosen_mode(hpp):
    attrs = mapping_validator(hpp.SCHEMA.device)(
        {"access_mode": "aksk", "access_key": "A" * 10, "domain": "https://isgp.hik-partner.com"}
    )
    assert conditional_problems(hpp.SCHEMA.device, attrs) == [
        ("secret_key", "is required when access_mode is aksk")
    ]
    attrs = mapping_validator(hpp.SCHEMA.device)({"domain": "https://isgp.hik-partner.com"})
    assert [p[0] for p in conditional_problems(hpp.SCHEMA.device, attrs)] == ["key"]
    assert attrs["receive_events"] is True


def test_secret_lengths_message_does_not_show_the_secret(hpp):
    attrs = {
        "access_mode": "aksk",
        "access_key": "A" * 10,
        "secret_key": "TOPSECRET12345",
        "domain": "https://isgp.hik-partner.com",
    }
    with pytest.raises(vol.Invalid) as err:
        mapping_validator(hpp.SCHEMA.device)(attrs)
    assert "TOPSECRET" not in str(err.value)
