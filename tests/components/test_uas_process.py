"""The UAS pool and the account database as real processes, reached through the front ends' client."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from testbed.components.frontend_config import provision_accounts, provision_frontends
from testbed.components.uas_client import AuthFailed, AuthUnavailable, UasClient
from testbed.runtime import health, launch
from testbed.runtime.health import wait_all
from testbed.users import generate_users

NETWORK = "127.0.25.0/24"


@pytest.fixture
def uas_home(make_home):
    home = make_home(NETWORK)
    topo = home.topology
    users = generate_users(topo, 30, seed=5)
    provision_accounts(home, topo, users)
    provision_frontends(home, topo)
    started = []
    for node in ("oradb", "uas0", "uas1", "uasbak"):
        for svc in topo.nodes[node].services:
            launch.spawn_exec(home, node, svc.name)
            started.append((topo.nodes[node].address, svc.port))
    assert not wait_all(started, 20.0, lambda _t: True)
    return home, users


def client(home, *nodes):
    topo = home.topology
    return UasClient([(topo.nodes[n].address, topo.spec.ports.uas) for n in nodes], timeout=1.0)


def test_login_checked_by_the_pool_and_the_database(uas_home):
    home, users = uas_home
    uas = UasClient.from_ini(home.node_root("fe01") / "opt/aimc/aimc.ini")
    user = asyncio.run(uas.authenticate(users[0]["address"], users[0]["password"]))
    assert user["mailroot"] == users[0]["mailroot"]
    with pytest.raises(AuthFailed) as err:
        asyncio.run(uas.authenticate(users[0]["address"], "not-the-password"))
    assert err.value.reason == "bad_password"
    assert asyncio.run(uas.lookup("nobody@aimc.test")) is None


def test_database_down_fails_temporarily_and_the_backup_uas_still_answers(uas_home):
    home, users = uas_home
    assert launch.read_pid(home.pid_file("oradb", "acctdb"))
    import os
    import signal

    os.kill(launch.read_pid(home.pid_file("oradb", "acctdb")), signal.SIGKILL)
    with pytest.raises(AuthUnavailable):
        asyncio.run(
            client(home, "uas0", "uas1").authenticate(users[1]["address"], users[1]["password"])
        )
    user = asyncio.run(
        client(home, "uas0", "uasbak").authenticate(users[1]["address"], users[1]["password"])
    )
    assert user["address"] == users[1]["address"]


def test_pool_answers_while_one_worker_lives(uas_home):
    import os
    import signal

    home, users = uas_home
    worker = psutil.Process(launch.read_pid(home.pid_file("uas0", "aiuum.1")))
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)  # its listening socket closes when it is gone, not when the signal is sent
    # aiuum.2 may still be binding (the fixture saw the shared port open via aiuum.1): wait for it
    deadline = time.monotonic() + 20
    while not health.listening(home.topology.nodes["uas0"].address, 7300):
        assert time.monotonic() < deadline, "the surviving worker never listened"
        time.sleep(0.05)
    for _ in range(5):  # each login is a new connection; the kernel spreads them over live workers
        asyncio.run(client(home, "uas0").lookup(users[2]["address"]))
