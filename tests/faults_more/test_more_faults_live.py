"""Webroot defaced, DNS MX wrong/missing and a traffic surge on a live testbed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import live_home  # noqa: E402

from testbed.components.dns.resolver import resolve_mx  # noqa: E402
from testbed.faults import injector  # noqa: E402
from testbed.home import Home  # noqa: E402

NETWORK = "127.0.38.0/24"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    with live_home(tmp_path_factory.mktemp("morefaults"), NETWORK) as home:
        yield home


def page(home: Home, node: str) -> str:
    url = f"http://{home.topology.nodes[node].address}:{home.topology.spec.ports.http}/"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.read().decode(errors="replace")
    except OSError as exc:
        return f"error: {exc}"


def test_webroot_defaced_then_restored_by_the_plans_tar(home):
    original, original2 = page(home, "web1"), page(home, "web2")
    assert "<form" in original
    fid = injector.inject(home, "webroot_defaced", "primary")
    assert "HACKED" in page(home, "web1") and "HACKED" in page(home, "web2")
    # the plan's repair: tar xvf webroot.<date>.tar in /opt/aimc (then the revert has nothing to do)
    aimc = home.node_root("web1") / "opt/aimc"
    subprocess.run(["tar", "xf", "webroot.040430.tar"], cwd=aimc, check=True)
    assert page(home, "web1") == original
    injector.revert(home, fid)
    assert page(home, "web1") == original and page(home, "web2") == original2


def test_webroot_deleted_gives_errors(home):
    fid = injector.inject(home, "webroot_defaced", "web2", {"mode": "delete"})
    try:
        assert page(home, "web2").startswith("error: HTTP Error 404")
    finally:
        injector.revert(home, fid)
    assert "<form" in page(home, "web2")


def test_dns_mx_wrong_and_missing(home):
    topo = home.topology
    good = asyncio.run(resolve_mx(topo, "aimc.test"))
    assert good[0][0] == topo.vip
    fid = injector.inject(home, "dns_mx_wrong", "aimc.test")
    try:
        assert asyncio.run(resolve_mx(topo, "aimc.test"))[0][0] not in (topo.vip,)
    finally:
        injector.revert(home, fid)
    fid = injector.inject(home, "dns_mx_wrong", "aimc.test", {"mode": "missing"})
    try:
        assert injector.check(home, fid).ok
    finally:
        injector.revert(home, fid)
    assert asyncio.run(resolve_mx(topo, "aimc.test")) == good


@pytest.mark.skipif(not shutil.which("smtp-source"), reason="smtp-source (postfix) not installed")
def test_traffic_surge_delivers_and_stops(home):
    def ok_lines() -> int:
        return sum(
            log.read_text().count("from=<surge@example.net>")
            for log in home.root.glob("nodes/fe*/var/log/maillog")
        )

    fid = injector.inject(home, "traffic_surge", "primary", {"sessions": 8})
    time.sleep(2.0)
    injector.revert(home, fid)
    during = ok_lines()
    assert during > 50  # hundreds of messages per second while it ran
    assert not list((home.root / "faults" / "surge").glob("*/*"))
    time.sleep(1.0)
    settled = ok_lines()
    time.sleep(1.0)
    assert ok_lines() == settled  # no more load after the revert
