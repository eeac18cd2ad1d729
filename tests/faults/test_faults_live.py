"""Every catalogue fault on one live testbed: the symptom as a real client sees it, gone after
revert, and the ledger and journal telling the same story."""

from __future__ import annotations

import asyncio
import imaplib
import os
import poplib
import smtplib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import Testbed as Bed  # noqa: E402
from integration_support import eventually  # noqa: E402

from testbed.components.mapic import MapiClient, MapiError  # noqa: E402
from testbed.faults import injector, journal  # noqa: E402
from testbed.faults.ledger import Ledger  # noqa: E402
from testbed.home import Home  # noqa: E402
from testbed.runtime.local import MARKER, LocalBackend  # noqa: E402

NETWORK = "127.0.29.0/24"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    tb = Bed(tmp_path_factory.mktemp("faults"), NETWORK, users=30, frontends={"count": 1})
    try:
        tb.up()
        tb.home = Home(tb.root / "home")  # type: ignore[attr-defined]
        yield tb
    finally:
        # In-process: services the tests restarted are our children, and only we can reap them
        # (the CLI's `down` would wait its whole grace period for our zombies).
        home = Home(tb.root / "home")
        injector.doctor(home, teardown=True)
        LocalBackend(home).down()


@pytest.fixture
def home(bed: Bed) -> Iterator[Home]:
    """The testbed's home; whatever a failing test left injected is reverted afterwards."""
    marker = os.environ.get(MARKER)
    h: Home = bed.home  # type: ignore[attr-defined]
    try:
        yield h
    finally:
        injector.doctor(h)
        # Starting a service in-process sets the testbed marker in our environment: undo that.
        if marker is None:
            os.environ.pop(MARKER, None)
        else:
            os.environ[MARKER] = marker


# --- real clients, straight at the nodes (not through the VIP) -----------------------------------


def addr(bed: Bed, node: str) -> str:
    return bed.node_address(node)


def port(bed: Bed, name: str) -> int:
    return int(bed.topology["spec"]["ports"][name])


def connect_refused(host: str, p: int) -> bool:
    try:
        with socket.create_connection((host, p), timeout=3):
            return False
    except ConnectionRefusedError:
        return True


def imap_login(bed: Bed, user: dict[str, Any], timeout: float = 10) -> str:
    """ "ok", or what went wrong: "refused", "timeout", "rejected" (NO to LOGIN)."""
    try:
        box = imaplib.IMAP4(addr(bed, "fe01"), port(bed, "imap"), timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    try:
        box.login(user["address"], user["password"])
        box.select("INBOX")
        return "ok"
    except imaplib.IMAP4.error:
        return "rejected"
    except TimeoutError:
        return "timeout"
    finally:
        try:
            box.logout()
        except (imaplib.IMAP4.error, OSError):
            box.shutdown()


def mapi(bed: Bed, user: dict[str, Any], write: bool = False) -> str:
    async def go() -> str:
        client = MapiClient(bed.home, timeout=3)  # type: ignore[attr-defined]
        try:
            if write:
                await client.create_folder(user, "faults-probe")
                await client.delete_folder(user, "faults-probe")
            else:
                await client.status(user)
        except MapiError as exc:
            return exc.code
        return "ok"

    return asyncio.run(go())


def full_user(bed: Bed, mailroot: str | None = None) -> dict[str, Any]:
    """A user record as MAPIc wants it (users.json), by mailroot."""
    import json

    people = json.loads((bed.root / "home" / "users.json").read_text())["users"]
    return next(u for u in people if u["level"] != 0 and mailroot in (None, u["mailroot"]))


def assert_recorded(home: Home, fault_id: str) -> None:
    """Gone from the ledger; journal: one inject, an effect check that saw it, one revert."""
    assert Ledger(home).get(fault_id) is None
    events = [e for e in journal.read(home) if e.get("id") == fault_id]
    kinds = [e["event"] for e in events]
    assert kinds.count("inject") == 1 and kinds.count("revert") == 1, kinds
    assert any(e["event"] == "effect_check" and e["ok"] for e in events), events
    assert all(isinstance(e["mono"], float) and isinstance(e["wall"], float) for e in events)


def run(home: Home, fault: str, target: str | None = None) -> str:
    fault_id = injector.inject(home, fault, target)
    assert Ledger(home).get(fault_id) is not None
    return fault_id


# --- process faults ------------------------------------------------------------------------------


def test_process_kill_refuses_smtp_then_serves_again(bed: Bed, home: Home) -> None:
    fid = run(home, "process_kill", "fe01/mta")
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(addr(bed, "fe01"), port(bed, "smtp"), timeout=5)
    assert injector.revert(home, fid)
    with smtplib.SMTP(addr(bed, "fe01"), port(bed, "smtp"), timeout=10) as s:
        assert s.noop()[0] == 250
    assert not injector.revert(home, fid), "a second revert does nothing"
    assert_recorded(home, fid)


def test_process_hang_times_out_imap_then_answers(bed: Bed, home: Home) -> None:
    user = bed.user("regular")
    fid = run(home, "process_hang", "fe01/imap")
    assert imap_login(bed, user, timeout=2) == "timeout"
    injector.revert(home, fid)
    assert imap_login(bed, user) == "ok"
    assert_recorded(home, fid)


def test_crash_loop_service_dies_at_every_start(bed: Bed, home: Home) -> None:
    user = bed.user("regular")
    fid = run(home, "crash_loop", "fe01/pop3")
    with pytest.raises(ConnectionRefusedError):
        poplib.POP3(addr(bed, "fe01"), port(bed, "pop3"), timeout=5)
    restart = bed.cli("start", "fe01", "pop3", check=False)
    assert restart.returncode == 1 and "crashed at start" in restart.stderr
    injector.revert(home, fid)
    box = poplib.POP3(addr(bed, "fe01"), port(bed, "pop3"), timeout=10)
    try:
        box.user(user["address"])
        box.pass_(user["password"])
    finally:
        box.quit()
    assert_recorded(home, fid)


def test_node_down_mss_node_then_back(bed: Bed, home: Home) -> None:
    user = full_user(bed, "m1")
    fid = run(home, "node_down", "mss1")
    assert connect_refused(addr(bed, "mss1"), port(bed, "mapis"))
    assert connect_refused(addr(bed, "mss1"), port(bed, "had"))
    injector.revert(home, fid)
    assert eventually(lambda: mapi(bed, user) == "ok", timeout=30)
    assert not connect_refused(addr(bed, "mss1"), port(bed, "had"))
    assert_recorded(home, fid)


# --- UAS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["uas_pool_dead", "uas_db_down"])
def test_uas_faults_make_logins_fail(bed: Bed, home: Home, fault: str) -> None:
    user = bed.user("vip")
    fid = run(home, fault)
    assert imap_login(bed, user) == "rejected"
    injector.revert(home, fid)
    assert eventually(lambda: imap_login(bed, user) == "ok", timeout=30)
    assert_recorded(home, fid)


# --- MSS and cluster -----------------------------------------------------------------------------


def test_mss_process_dead_mailroot_unavailable(bed: Bed, home: Home) -> None:
    user, other = full_user(bed, "m0"), full_user(bed, "m1")
    fid = run(home, "mss_process_dead", "m0")
    assert mapi(bed, user) == "unavailable"
    assert mapi(bed, other) == "ok", "only that mailroot is hit"
    injector.revert(home, fid)
    assert mapi(bed, user) == "ok"
    assert "ONLINE" in bed.cli("cluster", "hagrp", "-state", "m0").stdout
    assert_recorded(home, fid)


def test_cluster_agent_dead_no_failover(bed: Bed, home: Home) -> None:
    fid = run(home, "cluster_agent_dead", "mss1")
    assert connect_refused(addr(bed, "mss1"), port(bed, "had"))
    summary = bed.cli("cluster", "hastatus").stdout
    assert any(line.split()[1:3] == ["mss1", "EXITED"] for line in summary.splitlines() if line)
    assert mapi(bed, full_user(bed, "m1")) == "ok", "its mss processes keep serving"
    injector.revert(home, fid)
    assert not connect_refused(addr(bed, "mss1"), port(bed, "had"))
    assert_recorded(home, fid)


# --- disk array ----------------------------------------------------------------------------------


def test_array_offline_io_errors(bed: Bed, home: Home) -> None:
    user = full_user(bed, "m2")
    fid = run(home, "array_offline")
    assert mapi(bed, user) == "io_error"
    injector.revert(home, fid)
    assert mapi(bed, user) == "ok"
    assert_recorded(home, fid)


def test_array_readonly_reads_work_writes_fail(bed: Bed, home: Home) -> None:
    user = full_user(bed, "m3")
    fid = run(home, "array_readonly")
    assert mapi(bed, user) == "ok"
    assert mapi(bed, user, write=True) == "io_error"
    injector.revert(home, fid)
    assert mapi(bed, user, write=True) == "ok"
    assert_recorded(home, fid)


def test_hba_path_down_only_that_node(bed: Bed, home: Home) -> None:
    on_mss0, on_mss1 = full_user(bed, "m0"), full_user(bed, "m1")
    fid = run(home, "hba_path_down", "mss0")
    assert mapi(bed, on_mss0) == "io_error"
    assert mapi(bed, on_mss1) == "ok"
    injector.revert(home, fid)
    assert mapi(bed, on_mss0) == "ok"
    assert_recorded(home, fid)


# --- load balancer and web -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "target", "nodes", "port_name"),
    [
        ("lb_unit_down", "primary", ["alteon184a", "alteon184b"], "lb_ctl"),
        ("web_down", "web1", ["web1"], "http"),
    ],
)
def test_lb_and_web_units_down(
    bed: Bed, home: Home, fault: str, target: str, nodes: list[str], port_name: str
) -> None:
    fid = run(home, fault, target)
    for node in nodes:
        assert connect_refused(addr(bed, node), port(bed, port_name))
    injector.revert(home, fid)
    for node in nodes:
        assert not connect_refused(addr(bed, node), port(bed, port_name))
    assert_recorded(home, fid)


def test_nothing_left_after_the_catalogue(bed: Bed, home: Home) -> None:
    assert Ledger(home).entries() == []
    assert injector.doctor(home) == []
    status = bed.cli("status", "--json").stdout
    import json

    assert json.loads(status)["up"], status
