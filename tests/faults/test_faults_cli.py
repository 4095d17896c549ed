"""Issue 13, items 10 and 11: the CLI's own corners.

* Item 10: ``gemhost check`` printed a secret attribute's value when it had the wrong type
  (``password: expected a string, got ['...']``). Secret values are never shown, whatever
  their type, in the site file or in a command's arguments.
* Item 11: ``--ttl 0`` created a token that never expires while ``--ttl 0s`` was refused.
"""

from __future__ import annotations

import argparse
import json
import logging

import pytest

from gemhost import cli
from gemhost.cli_token import add_token_parser
from gemhost.errors import CommandError
from gemhost.schema import Attribute, validator
from gemhost.tokens import TokenStore

SECRETS = ["list-secret-4f1c", "map-secret-9d2e", "nested-secret-77ab", "enum-secret-0b3c"]

SITE = f"""
site: {{id: flt}}
mqtt: {{broker: "mqtt://127.0.0.1:1"}}
devices:
  - id: nvr
    driver: hikvision_isapi
    attributes: {{ip: 127.0.0.1, username: admin, password: ["{SECRETS[0]}"]}}
  - id: cloud
    driver: hpp
    attributes: {{access_mode: key, key: {{value: "{SECRETS[1]}"}}, domain: "http://127.0.0.1:9"}}
  - id: arc
    driver: hpp
    attributes: {{access_mode: aksk, access_key: ARCID00017, secret_key: [["{SECRETS[2]}"]],
                  domain: "http://127.0.0.1:9"}}
  - id: cam
    driver: hikvision_isapi
    attributes: {{ip: 127.0.0.1, username: admin, password: true}}
"""


def run_cli(argv: list[str]) -> int:
    """gemhost's CLI entry point; it reconfigures root logging, so put pytest's back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return cli.main(argv)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_check_never_prints_a_secret_value_whatever_its_type(site_path, capsys):
    site_path.write_text(SITE)
    assert run_cli(["check", str(site_path)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    for secret in SECRETS:
        assert secret not in text
    # ...while the problem itself is still named, with its place
    for place in ("devices[nvr].attributes.password", "devices[cloud].attributes.key",
                  "devices[arc].attributes.secret_key", "devices[cam].attributes.password"):
        line = next(line for line in text.splitlines() if place in line)
        assert "expected a string" in line and "secret value not shown" in line, line
    assert "True" not in text


def test_secret_command_arguments_of_the_wrong_type_are_not_echoed():
    check = validator(Attribute(name="verification_code", type="string", secret=True))
    for value in (["code-1234-secret"], {"v": "code-1234-secret"}, [["code-1234-secret"]]):
        with pytest.raises(Exception) as info:
            check(value)
        assert "code-1234-secret" not in str(info.value) and "not shown" in str(info.value)
    enum = validator(Attribute(name="pin", type="enum", values=["a", "b"], secret=True))
    with pytest.raises(Exception) as info:
        enum(SECRETS[3])
    assert SECRETS[3] not in str(info.value)


@pytest.mark.parametrize("ttl", ["0", "0s", "0m", "0.0", "0h"])
def test_a_zero_ttl_is_refused_however_it_is_written(site_path, capsys, ttl):
    site_path.write_text("site: {id: flt}\n")
    parser = argparse.ArgumentParser(prog="gemhost")
    add_token_parser(parser.add_subparsers(dest="command").add_parser)  # the add_command(name, help=) shape
    args = parser.parse_args(["token", "--site", str(site_path), "create", "--name", "t", "--devices", "*",
                              "--ttl", ttl])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "ttl" in err and "never" in err  # says how to get a token without expiry
    assert TokenStore.for_site(site_path).list() == []


def test_never_is_the_one_spelling_of_no_expiry(site_path, capsys):
    site_path.write_text("site: {id: flt}\n")
    parser = argparse.ArgumentParser(prog="gemhost")
    add_token_parser(parser.add_subparsers(dest="command").add_parser)  # the add_command(name, help=) shape
    args = parser.parse_args(["token", "--site", str(site_path), "create", "--name", "t", "--devices", "*",
                              "--ttl", "never"])
    assert args.func(args) == 0
    token = capsys.readouterr().out.strip()
    listed = TokenStore.for_site(site_path).list()
    assert listed[0]["expires"] is None and listed[0]["status"] == "active"
    assert TokenStore.for_site(site_path).authorize(token, "cam1", None, "x") == "t"
    with pytest.raises(CommandError):
        TokenStore.for_site(site_path).authorize("gh_" + "x" * 43, "cam1", None, "x")
    assert json.dumps(listed).count(token) == 0
