"""MX-based relay on a live testbed: the MTA finds remote domains' mail hosts through the dns node,
defers while the name server is down and delivers after it is back; unknown domains bounce; the
Internet node finds the hosted domains' MX through DNS too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
import integration_support as support  # noqa: E402 - as a module: pytest collects Test* names
from integration_support import eventually, message  # noqa: E402

NETWORK = "127.0.28.128/26"

pytestmark = pytest.mark.skipif(shutil.which("dig") is None, reason="dig (bind9-dnsutils) missing")


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Testbed]:
    bed = support.Testbed(
        tmp_path_factory.mktemp("dnsbed"), NETWORK, users=30, mail={"retry_schedule": [0.5, 1]}
    )
    try:
        bed.up()
        yield bed
    finally:
        bed.down()


def maillog(testbed: support.Testbed) -> str:
    """Every front end's mail log: the load balancer picks which MTA takes a message."""
    paths = sorted((testbed.root / "home" / "nodes").glob("*/var/log/maillog"))
    return "".join(path.read_text() for path in paths)


def received(testbed: support.Testbed, msg_id: str) -> bool:
    return any(r["message_id"] == msg_id for r in testbed.internet_ctl("received"))


def lines_for(testbed: support.Testbed, rcpt: str) -> list[str]:
    return [ln for ln in maillog(testbed).splitlines() if f"to=<{rcpt}>" in ln]


def test_endpoints_name_the_dns_server(testbed: support.Testbed) -> None:
    host, port = testbed.endpoints["dns"]
    assert host == testbed.node_address("dns")
    out = subprocess.run(
        ["dig", f"@{host}", "-p", str(port), "+short", "MX", "example.net"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert out.strip() == "10 mx.example.net."


def test_relay_goes_to_the_mx(testbed: support.Testbed) -> None:
    sender = testbed.user("vip")
    msg_id = testbed.send(sender, "friend@example.net", subject="via mx")
    assert eventually(lambda: received(testbed, msg_id))
    assert eventually(lambda: any(")OK " in ln for ln in lines_for(testbed, "friend@example.net")))


def test_unknown_domain_bounces(testbed: support.Testbed) -> None:
    sender = testbed.user("paying")
    testbed.send(sender, "someone@no-such-domain.invalid", subject="lost")
    assert eventually(
        lambda: any(
            "FAIL Host or domain name not found" in ln
            for ln in lines_for(testbed, "someone@no-such-domain.invalid")
        )
    )

    def bounced() -> bool:
        box = testbed.imap(sender)
        try:
            box.select("INBOX", readonly=True)
            found = box.search(None, "TEXT", '"Host or domain name not found"')[1][0]
            return bool(found.split())
        finally:
            box.logout()

    assert eventually(bounced, timeout=60)


def test_dns_down_defers_relay_until_it_is_back(testbed: support.Testbed) -> None:
    sender, rcpt = testbed.user("regular"), "pal@remote.test"
    testbed.cli("kill", "dns", "named")
    try:
        msg_id = testbed.send(sender, rcpt, subject="while dns is down")
        assert eventually(
            lambda: (
                sum("RETRY." in ln and "try again" in ln for ln in lines_for(testbed, rcpt)) >= 2
            )
        )
        assert not received(testbed, msg_id)
    finally:
        testbed.cli("start", "dns", "named")
    assert eventually(lambda: received(testbed, msg_id), timeout=60)
    assert any(")OK " in ln for ln in lines_for(testbed, rcpt))


def test_inbound_mail_follows_the_hosted_mx(testbed: support.Testbed) -> None:
    # MX 10 is the VIP (the load balancer); were it down, MX 20 (the first front end) takes it.
    bob: dict[str, Any] = testbed.user("regular", skip=1)
    msg = message("stranger@example.net", bob["address"])
    result = testbed.send_from_internet("stranger@example.net", bob["address"], msg)
    assert result["accepted"] == [bob["address"]]
    assert eventually(lambda: msg["Message-ID"] in testbed.inbox_ids(bob))


def test_backup_mx_takes_inbound_mail_while_the_lbs_are_down(testbed: support.Testbed) -> None:
    units = testbed.topology["spec"]["lb"]["nodes"]
    bob: dict[str, Any] = testbed.user("vip", skip=1)
    msg = message("stranger@remote.test", bob["address"], subject="via backup mx")
    for unit in units:
        testbed.cli("kill", unit, "alteon", "--signal", "KILL")
    try:
        result = testbed.send_from_internet("stranger@remote.test", bob["address"], msg)
    finally:
        for unit in units:
            testbed.cli("start", unit, "alteon", check=False)
    assert result["accepted"] == [bob["address"]]
    fe01 = testbed.root / "home" / "nodes" / "fe01" / "var" / "log" / "maillog"
    # MX 20 is fe01 itself: the message came in there, not through the (dead) VIP
    rcpt = f"to=<{bob['address']}>"
    assert eventually(lambda: any(rcpt in ln for ln in fe01.read_text().splitlines()))
    assert eventually(lambda: msg["Message-ID"] in testbed.inbox_ids(bob), timeout=60)
