"""Fixtures for the host core tests: the demo plugin installed as a real distribution."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gemhost.plugins import Registry, load_registry
from gemhost.testing import until

THIRDPARTY = Path(__file__).with_name("thirdparty")


def _install(root: Path, package: str, dist_name: str, version: str, entry: str) -> None:
    """Lay a package and its .dist-info on a path entry, as pip would, so that
    importlib.metadata finds its entry point exactly like an installed third-party driver."""
    shutil.copytree(THIRDPARTY / package, root / package)
    dist = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[gemhost.plugins]\n{entry}\n")


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("site-packages")
    _install(root, "gemhost_demo", "gemhost-demo", "1.2.3", "demo = gemhost_demo.plugin")
    _install(root, "gemhost_broken", "gemhost-broken", "0.1", "broken = gemhost_broken.plugin")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        yield root


@pytest.fixture
def registry(plugin_path: Path) -> Registry:
    from gemhost_demo import driver

    driver.BEHAVIOUR.clear()
    driver.CONNECTS.clear()
    driver.POLLS.clear()
    driver.CLOSED.clear()
    driver.EVENT_STREAMS.clear()
    driver.TRAFFIC.clear()
    driver.TRAFFIC_ASKED.clear()
    return load_registry()


@pytest.fixture
def demo():
    """The demo driver module, for steering device behaviour."""
    from gemhost_demo import driver

    return driver


@pytest.fixture
def write_site(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "site.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def wait_until():
    """Wait for a condition the host reaches asynchronously (bounded; not a timing test)."""
    return until
