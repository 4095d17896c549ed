"""``gemhost run``'s event loop: uvloop where installed, the standard loop otherwise; the rest
of gemhost (and this suite) on the standard loop."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from gemhost import cli, contain, eventloop

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _running_loop_name() -> str:
    return eventloop.loop_name(asyncio.get_running_loop())


@pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed (it is a dependency except on Windows)")
def test_daemon_factory_makes_uvloop_where_installed():
    assert contain.run(_running_loop_name(), loop_factory=eventloop.daemon_loop_factory()) == "uvloop"


def test_daemon_factory_falls_back_to_the_standard_loop(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as where it cannot be installed: import fails
    factory = eventloop.daemon_loop_factory()
    assert factory is asyncio.new_event_loop
    assert contain.run(_running_loop_name(), loop_factory=factory) == "asyncio"


def test_other_commands_and_contain_run_keep_the_standard_loop():
    assert contain.run(_running_loop_name()) == "asyncio"


def test_run_subcommand_uses_the_daemon_factory(monkeypatch):
    """``gemhost run`` hands contain.run the daemon's factory (the process test sees the loop
    it logs); other commands are left to contain.run's standard default."""
    seen: dict[str, object] = {}

    def fake_run(main, grace=2.0, loop_factory=asyncio.new_event_loop):
        main.close()
        seen["factory"] = loop_factory
        return 0

    monkeypatch.setattr(contain, "run", fake_run)
    monkeypatch.setattr(cli, "daemon_loop_factory", lambda: "the daemon's factory")
    parser = cli.build_parser(cli.load_registry())
    args = parser.parse_args(["run", "site.yaml"])
    assert args.func(args) == 0
    assert seen["factory"] == "the daemon's factory"
