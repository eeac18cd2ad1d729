"""The load balancers on a live testbed: mail through the VIP with real clients, a dead front end
skipped, the standby taking the VIP when the active unit is killed, the cold 180e activated when
both primaries are down, and `alteon vip take` moving the VIP home. The tests share one testbed and
run in file order: each leaves the VIP held by some live unit."""

from __future__ import annotations

import http.client
import json
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
import integration_support as support  # noqa: E402
from integration_support import eventually  # noqa: E402

NETWORK = "127.0.26.0/24"
VIP = "127.0.26.1"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Testbed]:
    testbed = support.Testbed(
        tmp_path_factory.mktemp("lb"), NETWORK, users=40, mail={"retry_schedule": [0.5, 1, 2]}
    )
    try:
        testbed.up()
        yield testbed
    finally:
        testbed.down()


def alteon(bed: support.Testbed, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The node's own command, as an operator on that node runs it."""
    home = bed.root / "home"
    return subprocess.run(
        [sys.executable, "-m", "testbed.nodecmd", str(home), node, "alteon", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def status(bed: support.Testbed, node: str) -> dict[str, Any]:
    proc = alteon(bed, node, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def vip_serves() -> bool:
    """An SMTP greeting through the VIP."""
    with smtplib.SMTP(VIP, 2525, timeout=10) as s:
        return s.noop()[0] == 250


def vip_refuses() -> bool:
    try:
        socket.create_connection((VIP, 2525), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_endpoints_name_the_vip_and_mail_flows_through_it(bed: support.Testbed) -> None:
    for service in ("smtp", "submission", "pop3", "imap", "http"):
        assert bed.endpoints[service][0] == VIP
    roles = {n: status(bed, n)["role"] for n in ("alteon184a", "alteon184b", "alteon180e")}
    assert roles == {"alteon184a": "ACTIVE", "alteon184b": "STANDBY", "alteon180e": "COLD"}
    alice, bob = bed.user("vip"), bed.user("paying")
    msg_id = bed.send(alice, bob["address"], subject="through the VIP")
    assert eventually(lambda: msg_id in bed.inbox_ids(bob))
    box = bed.pop3(bob)
    try:
        assert box.stat()[0] >= 1
    finally:
        box.quit()
    text = alteon(bed, "alteon184a", "status").stdout
    assert "ACTIVE" in text and "fe04" in text and "127.0.26.1" in text


def test_connections_spread_over_front_ends(bed: support.Testbed) -> None:
    """Four IMAP sessions held open at once land on four different front ends."""
    user = bed.user("regular")
    boxes = [bed.imap(user) for _ in range(4)]
    try:

        def spread() -> bool:
            imap = [b for b in status(bed, "alteon184a")["backends"] if b["group"] == "imap"]
            return sorted(b["connections"] for b in imap) == [1, 1, 1, 1]

        assert eventually(spread, timeout=10)
    finally:
        for box in boxes:
            box.logout()


def test_http_through_the_vip_carries_the_real_client_address(bed: support.Testbed) -> None:
    client = "127.0.26.222"  # a source address no node uses: only the header can carry it
    conn = http.client.HTTPConnection(VIP, 8080, timeout=10, source_address=(client, 0))
    try:
        conn.request("GET", "/", headers={"X-Forwarded-For": "6.6.6.6"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status < 500
        conn.request("GET", "/?second=1")  # keep-alive: the second request is stamped too
        conn.getresponse().read()
    finally:
        conn.close()
    logs = list((bed.root / "home" / "nodes").glob("web*/var/log/**/access_log"))

    def logged() -> bool:
        text = "".join(p.read_text(errors="replace") for p in logs)
        return text.count(client) >= 2 and "6.6.6.6" not in text

    assert logs and eventually(logged, timeout=10)


def test_a_dead_front_end_is_skipped(bed: support.Testbed) -> None:
    bed.cli("kill", "fe01", "mta", "--signal", "KILL")
    try:
        # at once (the proxy falls through to the next back end) and after the checks notice
        for _ in range(8):
            assert vip_serves()

        def fe01_down() -> bool:
            backends = status(bed, "alteon184a")["backends"]
            return any(b["node"] == "fe01" and b["healthy"] is False for b in backends)

        assert eventually(fe01_down, timeout=20)
        sender, rcpt = bed.user("vip"), bed.user("regular")
        msg_id = bed.send(sender, rcpt["address"], subject="fe01 is dead")
        assert eventually(lambda: msg_id in bed.inbox_ids(rcpt))
    finally:
        bed.cli("start", "fe01", "mta")


def test_kill9_of_the_active_unit_the_standby_takes_the_vip(bed: support.Testbed) -> None:
    sender, rcpt = bed.user("vip", skip=1), bed.user("paying", skip=1)
    before = bed.send(sender, rcpt["address"], subject="before the failover")
    bed.cli("kill", "alteon184a", "--signal", "KILL")
    assert eventually(lambda: status(bed, "alteon184b")["vip_bound"], timeout=30)
    assert eventually(vip_serves, timeout=30)
    after = bed.send(sender, rcpt["address"], subject="after the failover")
    assert eventually(lambda: {before, after} <= set(bed.inbox_ids(rcpt)), timeout=30)
    assert status(bed, "alteon184a")["role"] == "DOWN"


def test_both_primaries_down_until_the_cold_unit_is_activated(bed: support.Testbed) -> None:
    bed.cli("kill", "alteon184b", "--signal", "KILL")
    assert eventually(vip_refuses, timeout=10)
    assert vip_refuses()  # nobody takes it while the 180e stays cold
    bed.cli("start", "alteon180e", "alteon")
    assert eventually(vip_serves, timeout=30)
    assert status(bed, "alteon180e")["role"] == "ACTIVE"
    rcpt = bed.user("regular", skip=2)
    msg_id = bed.send(bed.user("vip"), rcpt["address"], subject="via the 180e")
    assert eventually(lambda: msg_id in bed.inbox_ids(rcpt), timeout=30)


def test_primaries_back_stay_standby_until_vip_take_moves_it_home(bed: support.Testbed) -> None:
    bed.cli("start", "alteon184a", "alteon")
    bed.cli("start", "alteon184b", "alteon")
    assert status(bed, "alteon184a")["role"] == "STANDBY"  # no preemption
    assert status(bed, "alteon180e")["vip_bound"]
    took = alteon(bed, "alteon184a", "vip", "take")
    assert took.returncode == 0, took.stderr
    assert "alteon184a" in took.stdout
    assert status(bed, "alteon184a")["vip_bound"]
    assert eventually(lambda: not status(bed, "alteon180e")["vip_bound"], timeout=10)
    assert eventually(vip_serves, timeout=10)
    box = bed.imap(bed.user("regular", skip=2))
    try:
        assert box.select("INBOX")[0] == "OK"
    finally:
        box.logout()


def test_alteon_command_misuse_and_expected_errors(bed: support.Testbed) -> None:
    assert alteon(bed, "alteon184a", "vip").returncode == 2
    assert "usage" in alteon(bed, "alteon184a", "bogus").stderr
    wrong = alteon(bed, "alteon184b", "vip", "release")  # 184b does not hold the VIP
    assert wrong.returncode == 1 and "does not hold" in wrong.stderr
    handed = alteon(bed, "alteon184a", "vip", "release")
    assert handed.returncode == 0, handed.stderr
    assert eventually(lambda: status(bed, "alteon184b")["vip_bound"], timeout=10)
    assert alteon(bed, "alteon184a", "vip", "take").returncode == 0
    assert eventually(vip_serves, timeout=10)


def test_a_hung_active_unit_keeps_the_vip_until_it_resumes_then_stays_standby(
    bed: support.Testbed,
) -> None:
    assert status(bed, "alteon184a")["vip_bound"]
    bed.cli("kill", "alteon184a", "--signal", "STOP")
    try:
        # the standby takes over but must keep retrying the bind: the hung unit's sockets remain
        assert eventually(lambda: status(bed, "alteon184b")["bind_errors"], timeout=20)
        assert status(bed, "alteon184a")["role"] == "NOT RESPONDING"
    finally:
        bed.cli("kill", "alteon184a", "--signal", "CONT")
    assert eventually(lambda: status(bed, "alteon184b")["vip_bound"], timeout=20)
    assert status(bed, "alteon184a")["role"] == "STANDBY"
    assert eventually(vip_serves, timeout=10)
