"""mss and MAPI server processes reached through MAPIc, as a front end reaches them."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

from testbed.components import array
from testbed.components.cluster.state import provision_cluster
from testbed.components.mapic import MapiClient, MapiError
from testbed.components.mssconfig import provision_mss_config
from testbed.runtime import launch
from testbed.runtime.health import wait_all

USER = {"address": "bo.ek@aimc.test", "mailroot": "m1", "level": 2, "quota": 50_000}


@pytest.fixture
def storage(make_home):
    home = make_home("127.0.21.0/24", mss={"mapis_per_node": 2})
    topo = home.topology
    array.provision_array(home, topo)
    provision_mss_config(home, topo)
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


def test_array_devices_follow_the_hba_path(storage):
    dev = storage.node_root("mss1") / "dev"
    assert sorted(p.name for p in dev.glob("clsp*")) == [f"clsp{i}" for i in range(6)]
    array.set_path(storage, "mss1", up=False)
    assert not list(dev.glob("clsp*"))
    assert list((storage.node_root("mss0") / "dev").glob("clsp*"))  # other paths unaffected
    array.set_path(storage, "mss1", up=True)
    assert len(list(dev.glob("clsp*"))) == 6


def test_temporary_mailroot_on_local_disk_serves_while_the_array_is_down(storage):
    """The disk-array chapter: mss_yj.ini over mss.ini, restart mss, watch restart.log."""
    config = storage.node_root("mss1") / "opt/aimc/m1/config"
    assert "MailDir=/mnt/array/m1" in (config / "mss.ini").read_text()
    array.set_status(storage, "offline")
    old = psutil.Process(launch.read_pid(storage.pid_file("mss1", "mss.m1")))
    old.terminate()
    old.wait(10)  # its port must be free before the new one is judged by it
    (storage.node_root("mss1") / "home1/m1").mkdir(parents=True)
    (config / "mss.ini").write_text((config / "mss_yj.ini").read_text())
    launch.spawn_exec(storage, "mss1", "mss.m1")
    topo = storage.topology
    assert not wait_all([(topo.nodes["mss1"].address, topo.mss_port("m1"))], 20.0, lambda _t: True)
    mapi = MapiClient(storage, timeout=2.0)
    asyncio.run(mapi.deliver(USER, b"Subject: temp\r\n\r\nnew mail\r\n", "q9/bo"))
    assert asyncio.run(mapi.status(USER))["messages"] == 1
    assert list((storage.node_root("mss1") / "home1/m1").rglob("cur/*"))
    log = (storage.log_dir("mss1") / "restart.log").read_text()
    assert "mss.m1 started MailDir=/home1/m1 (local disk) ready" in log


def test_wrong_maildir_keeps_mss_from_starting(storage):
    config = storage.node_root("mss1") / "opt/aimc/m1/config/mss.ini"
    config.write_text(config.read_text().replace("/mnt/array/m1", "/mnt/array/nowhere"))
    old = psutil.Process(launch.read_pid(storage.pid_file("mss1", "mss.m1")))
    old.terminate()
    old.wait(10)
    launch.spawn_exec(storage, "mss1", "mss.m1")
    log = storage.log_dir("mss1") / "restart.log"
    deadline = time.monotonic() + 20
    while "FAILED" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "MailDir /mnt/array/nowhere does not exist" in log.read_text()
