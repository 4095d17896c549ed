"""The account binding: recorded on first connect, a changed account refused, unbind on purpose."""

from __future__ import annotations

import argparse
import json
import re

import pytest
import voluptuous as vol
from gemhost_drivers.hpp import binding, cli

from gemhost.errors import DeviceError
from gemhost.model import Secret
from gemhost.schema import conditional_problems, mapping_validator
from gemhost.site import SiteFileError, load_site

AK_RULE = "(10 characters: the ARC ID of an alarm-receiving-centre account; 32: the Access Key issued"
SK_RULE = "(10 characters: the ARC Key of an alarm-receiving-centre account; 32: the Secret Key issued"
HTTPS_RULE = "(an https:// URL; plain http:// only for a simulator on this machine"


async def test_first_connect_records_the_binding_without_the_secret(make_driver, hpp, sim, tmp_path):
    driver, ctx = make_driver()
    info = await driver.connect()
    record = json.loads((tmp_path / "state" / binding.FILE_NAME).read_text())
    assert record["access_mode"] == "key"
    assert record["domain"] == sim.url
    assert record["key_id"] == binding.key_fingerprint(hpp.KEY) and record["key_id"].startswith("sha256:")
    assert hpp.KEY not in json.dumps(record) and hpp.KEY[:4] not in json.dumps(record)
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
    keys = ("KEYS-gqwx-1", "KEYS-gqwx-2")  # every 3-character run has a non-hex character
    a, b = (binding.key_fingerprint(k) for k in keys)
    assert a != b and binding.key_fingerprint(Secret(keys[0])) == a
    for key, print_ in zip(keys, (a, b), strict=True):
        assert re.fullmatch(r"sha256:[0-9a-f]{12}", print_)
        assert not [key[i : i + 3] for i in range(len(key) - 2) if key[i : i + 3] in print_]
def test_cli_unbind(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site.yaml"
    site.write_text("devices: {}\n")
    monkeypatch.delenv("GEMHOST_STATE_DIR", raising=False)
    state = tmp_path / ".gemhost-state" / "hpp1"
    binding.record(state, binding.Binding("key", "sha256:0123456789ab", "https://isgp.hik-partner.com"))
    parser = argparse.ArgumentParser()
    cli.add_parsers(parser.add_subparsers().add_parser)  # the register_cli add_command shape
    args = parser.parse_args(["hpp", "unbind", str(site), "hpp1"])
    assert args.func(args) == 0
    assert "removed the binding to key sha256:0123456789ab" in capsys.readouterr().out
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
    with pytest.raises(vol.Invalid, match="10 or 32 characters") as err:
        mapping_validator(hpp.SCHEMA.device)(attrs)
    assert AK_RULE in str(err.value)


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


def write_site(tmp_path, attributes: str, secrets: str = "") -> tuple:
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {id: t, name: T}\n"
        "devices:\n"
        "  - id: hpp1\n"
        "    driver: hpp\n"
        "    attributes:\n" + "".join(f"      {row}\n" for row in attributes.strip().splitlines())
    )
    (tmp_path / "secrets.yaml").write_text(secrets)
    return site, site.read_text().splitlines()


def site_problems(hpp, site) -> list[str]:
    with pytest.raises(SiteFileError) as err:
        load_site(site, {"hpp": hpp.SCHEMA})
    return [p.format(site.name) for p in err.value.problems]


def test_check_explains_the_ak_sk_length_rule(hpp, tmp_path):
    site, rows = write_site(
        tmp_path,
        """
access_mode: aksk
access_key: ABCDEF123456
secret_key: !secret sk
domain: https://isgp.hik-partner.com
""",
        "sk: TOPSECRET12345\n",
    )
    problems = site_problems(hpp, site)
    ak_line = next(n for n, row in enumerate(rows, 1) if "access_key:" in row)
    sk_line = next(n for n, row in enumerate(rows, 1) if "secret_key:" in row)
    assert len(problems) == 2
    assert problems[0].startswith(
        f"site.yaml:{ak_line} devices[hpp1].attributes.access_key: must be 10 or 32 characters long, got 12"
    )
    assert problems[0].endswith(f"{AK_RULE} on application)")
    assert problems[1] == (
        f"site.yaml:{sk_line} devices[hpp1].attributes.secret_key: must be 10 or 32 characters long "
        f"(value from a secret) {SK_RULE} on application)"
    )
    assert "TOPSECRET" not in "".join(problems)


def test_check_explains_the_rule_through_the_cli(hpp, tmp_path, capsys):
    from gemhost import cli

    site, _ = write_site(tmp_path, "access_mode: aksk\naccess_key: ABCDEF123456\nsecret_key: S123456789\n"
                         "domain: https://isgp.hik-partner.com")
    assert cli.main(["check", str(site)]) == 1
    err = capsys.readouterr().err
    assert "access_key: must be 10 or 32 characters long, got 12" in err and AK_RULE in err
    assert "S123456789" not in err


@pytest.mark.parametrize(
    "domain",
    [
        "https://isgp.hik-partner.com",
        "https://ieu.hik-partner.com/",
        "http://127.0.0.1:18090",
        "http://127.1.2.3",
        "http://localhost:8080",
        "http://[::1]:18090",
    ],
)
def test_domain_https_or_loopback_http_is_accepted(hpp, domain):
    attrs = mapping_validator(hpp.SCHEMA.device)({"key": "k", "domain": domain})
    assert attrs["domain"] == domain


@pytest.mark.parametrize(
    "domain",
    [
        "http://isgp.hik-partner.com",
        "http://10.0.0.5:18090",
        "http://127.0.0.1.example.com",
        "http://localhost@example.com",
        "http://127.0.0.1:80@example.com",
        "http://localhost.example.com",
    ],
)
def test_domain_plain_http_elsewhere_is_rejected_with_the_reason(hpp, domain):
    with pytest.raises(vol.Invalid) as err:
        mapping_validator(hpp.SCHEMA.device)({"key": "k", "domain": domain})
    assert HTTPS_RULE in str(err.value)


def test_check_rejects_a_plain_http_cloud_domain(hpp, tmp_path):
    site, rows = write_site(tmp_path, "key: some-key\ndomain: http://isgp.hik-partner.com")
    line = next(n for n, row in enumerate(rows, 1) if "domain:" in row)
    (problem,) = site_problems(hpp, site)
    assert problem.startswith(f"site.yaml:{line} devices[hpp1].attributes.domain: must match ")
    assert "got 'http://isgp.hik-partner.com'" in problem and HTTPS_RULE in problem
