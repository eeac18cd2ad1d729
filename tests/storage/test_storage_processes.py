"""mss and MAPI server processes reached through MAPIc, as a front end reaches them."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from testbed.components import array
from testbed.components.cluster.state import provision_cluster
from testbed.components.mapic import MapiClient, MapiError
from testbed.runtime import launch
from testbed.runtime.health import wait_all

USER = {"address": "bo.ek@aimc.test", "mailroot": "m1", "level": 2, "quota": 50_000}


@pytest.fixture
def storage(make_home):
    home = make_home("127.0.21.0/24", mss={"mapis_per_node": 2})
    topo = home.topology
    array.provision_array(home, topo)
    provision_cluster(home, topo)
    mss1 = topo.nodes["mss1"]
    launch.spawn_exec(home, "mss1", "mss.m1")
    for svc in mss1.services:
        if svc.kind == "mapis":
            launch.spawn_exec(home, "mss1", svc.name)
    ports = [topo.mss_port("m1"), *topo.mapis_ports()]
    assert not wait_all([(mss1.address, p) for p in ports], 20.0, lambda _t: True)
    return home


def test_deliver_fetch_and_failover_between_mapi_servers(storage):
    mapi = MapiClient(storage, timeout=2.0)
    uid = asyncio.run(mapi.deliver(USER, b"Subject: hi\r\n\r\nbody\r\n", "q1/bo"))
    assert asyncio.run(mapi.fetch(USER, "INBOX", uid)).endswith(b"body\r\n")
    os.kill(launch.read_pid(storage.pid_file("mss1", "mapis.0")), signal.SIGKILL)
    assert asyncio.run(mapi.status(USER))["messages"] == 1  # mapis.1 answers instead


def test_array_outage_and_recovery_keep_the_data(storage):
    mapi = MapiClient(storage, timeout=2.0)
    asyncio.run(mapi.deliver(USER, b"keep me", "q2/bo"))
    array.set_status(storage, "offline")
    with pytest.raises(MapiError) as err:
        asyncio.run(mapi.deliver(USER, b"lost?", "q3/bo"))
    assert err.value.code == "io_error" and not err.value.permanent
    array.set_status(storage, "online")
    array.set_path(storage, "mss1", up=False)
    with pytest.raises(MapiError) as err:
        asyncio.run(mapi.list(USER))
    assert err.value.code == "io_error"
    array.set_path(storage, "mss1", up=True)
    assert asyncio.run(mapi.status(USER))["messages"] == 1


def test_dead_mss_is_unavailable_and_quota_is_permanent(storage):
    mapi = MapiClient(storage, timeout=2.0)
    with pytest.raises(MapiError) as err:
        asyncio.run(mapi.deliver(USER, b"x" * 60_000, "q4/bo"))
    assert err.value.code == "quota_exceeded" and err.value.permanent
    os.kill(launch.read_pid(storage.pid_file("mss1", "mss.m1")), signal.SIGKILL)
    with pytest.raises(MapiError) as err:
        asyncio.run(mapi.status(USER))
    assert err.value.code == "unavailable" and not err.value.permanent
