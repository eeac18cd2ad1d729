"""Shared fixtures: a testbed home on its own loopback network, and cleanup of every process a test
starts (pid files plus the testbed marker in the environment), so no test leaves one running."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from testbed.home import Home
from testbed.runtime.local import LocalBackend
from testbed.topology.resolve import load_topology

MakeHome = Callable[..., Home]


@pytest.fixture
def make_home(tmp_path: Path) -> Iterator[MakeHome]:
    """make_home(network, **topology_overrides) → a Home with topology.json written (no processes).
    Every process started in such a home is stopped at teardown."""
    homes: list[Home] = []

    def make(network: str, **overrides: object) -> Home:
        root = tmp_path / f"home{len(homes)}"
        root.mkdir()
        spec = {"network": network, **overrides}
        topo_file = root / "topology.yaml"
        topo_file.write_text(yaml.safe_dump(spec))
        home = Home(root)
        home.topology_file.write_text(load_topology(topo_file).model_dump_json())
        homes.append(home)
        return home

    yield make
    for home in homes:
        LocalBackend(home).down()
