"""Mail through the client-facing endpoints with real clients: smtplib, poplib, imaplib, swaks, curl."""

from __future__ import annotations

import email
import smtplib
import socket
import subprocess

import pytest
from conftest import REGULAR_QUOTA
from integration_support import eventually, message

NETWORK = "127.0.30.0/24"


def test_up_twice_says_already_up_and_status_is_all_up(testbed):
    again = testbed.cli("up", "--topology", str(testbed.topology_file))
    assert "already up" in again.stdout
    status = __import__("json").loads(testbed.cli("status", "--json").stdout)
    assert status["up"] is True
    assert {s["node"] for s in status["services"]} >= {"fe01", "uas0", "oradb", "mss0", "internet"}


def test_local_mail_with_auth_and_starttls_read_over_pop3_and_imap(testbed):
    alice, bob = testbed.user("vip"), testbed.user("paying")
    msg_id = testbed.send(alice, bob["address"], subject="quarterly drill")
    assert eventually(lambda: msg_id in testbed.inbox_ids(bob))

    box = testbed.pop3(bob)
    try:
        count, _size = box.stat()
        assert count >= 1
        uidl = box.uidl()[1]
        assert len(uidl) == count
        top = b"\n".join(box.top(count, 0)[1])
        assert b"quarterly drill" in top
        body = email.message_from_bytes(b"\n".join(box.retr(count)[1]))
        assert body["Message-ID"] == msg_id
    finally:
        box.quit()


def test_imap_idle_sees_new_mail(testbed):
    alice, carol = testbed.user("vip"), testbed.user("regular")
    box = testbed.imap(carol)
    try:
        box.select("INBOX")
        tag = box._new_tag().decode()
        box.send(f"{tag} IDLE\r\n".encode())
        assert box.readline().startswith(b"+")
        testbed.send(alice, carol["address"])
        box.sock.settimeout(30)
        line = box.readline()
        while b"EXISTS" not in line:
            line = box.readline()
        box.send(b"DONE\r\n")
        while not box.readline().startswith(tag.encode()):
            pass
    finally:
        box.logout()


def test_imap_folders_append_and_move(testbed):
    user = testbed.user("paying", skip=1)
    box = testbed.imap(user)
    try:
        assert box.create("Archive")[0] == "OK"
        typ, data = box.append(
            "INBOX", r"(\Seen)", None, message(user["address"], user["address"]).as_bytes()
        )
        assert typ == "OK" and b"APPENDUID" in data[0]
        assert (
            box.append("INBOX", None, None, message(user["address"], user["address"]).as_bytes())[0]
            == "OK"
        )
        box.select("INBOX")
        typ, data = box.uid("SEARCH", "ALL")
        uids = data[0].split()
        assert len(uids) >= 2
        typ, data = box.uid("MOVE", uids[0].decode(), "Archive")
        assert typ == "OK"
        box.select("Archive")
        assert box.uid("SEARCH", "ALL")[1][0].split()
    finally:
        box.logout()


def test_relay_to_the_internet_only_with_auth(testbed):
    alice = testbed.user("vip")
    msg_id = testbed.send(alice, "friend@example.net")
    assert eventually(
        lambda: any(r["message_id"] == msg_id for r in testbed.internet_ctl("received"))
    )

    with testbed.smtp("smtp") as s, pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        s.sendmail(
            "someone@remote.test",
            ["friend@example.net"],
            message("a@remote.test", "b@example.net").as_bytes(),
        )
    assert err.value.recipients["friend@example.net"][0] == 554


def test_inbound_mail_from_the_internet_is_delivered(testbed):
    bob = testbed.user("regular", skip=1)
    msg = message("stranger@example.net", bob["address"])
    result = testbed.send_from_internet("stranger@example.net", bob["address"], msg)
    assert result["accepted"] == [bob["address"]]
    assert eventually(lambda: msg["Message-ID"] in testbed.inbox_ids(bob))


def test_unknown_local_recipient_is_refused(testbed):
    with testbed.smtp("smtp") as s, pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        s.sendmail("x@example.net", ["nobody-here@aimc.test"], b"Subject: x\r\n\r\nx\r\n")
    assert err.value.recipients["nobody-here@aimc.test"][0] == 550


def test_quota_exceeded_bounces_to_the_sender(testbed):
    sender, small = testbed.user("vip", skip=1), testbed.user("regular", skip=2)
    testbed.send(sender, small["address"], subject="too big", size=REGULAR_QUOTA + 10_000)

    def bounce() -> bool:
        box = testbed.imap(sender)
        try:
            box.select("INBOX", readonly=True)
            found = box.search(None, "TEXT", '"Destination mailbox exceeds quota"')[1][0]
            return bool(found.split())
        finally:
            box.logout()

    assert eventually(bounce, timeout=60)


def _raw(address: tuple[str, int], lines: list[bytes]) -> list[bytes]:
    with socket.create_connection(address, timeout=10) as conn:
        f = conn.makefile("rb")
        replies = [f.readline()]
        for line in lines:
            conn.sendall(line + b"\r\n")
            replies.append(f.readline())
        return replies


def test_malformed_commands_get_protocol_errors_and_service_continues(testbed):
    smtp = _raw(testbed.endpoints["smtp"], [b"HELO x", b"MAIL FROM:<<<bad", b"FOO BAR", b"NOOP"])
    assert smtp[2][:1] == b"5" and smtp[3][:1] == b"5" and smtp[4].startswith(b"250")
    pop = _raw(testbed.endpoints["pop3"], [b"RETR 1", b"BLAH", b"PASS x", b"CAPA"])
    assert pop[1].startswith(b"-ERR") and pop[2].startswith(b"-ERR") and pop[3].startswith(b"-ERR")
    assert pop[4].startswith(b"+OK")
    imap = _raw(testbed.endpoints["imap"], [b"a1 FROB", b"garbage", b"a2 SELECT", b"a3 NOOP"])
    assert b"BAD" in imap[1] and b"BAD" in imap[2] and b"BAD" in imap[3]
    assert imap[4].startswith(b"a3 OK")
    testbed.send(testbed.user("vip"), testbed.user("paying")["address"])  # still serving


def test_swaks_sends_and_curl_reads(testbed):
    alice, dave = testbed.user("paying"), testbed.user("vip", skip=2)
    host, port = testbed.endpoints["submission"]
    subject = "sent-with-swaks"
    subprocess.run(
        [
            "swaks",
            "--server",
            host,
            "--port",
            str(port),
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            alice["address"],
            "--auth-password",
            alice["password"],
            "--from",
            alice["address"],
            "--to",
            dave["address"],
            "--header",
            f"Subject: {subject}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    host, port = testbed.endpoints["imap"]
    creds = f"{dave['address']}:{dave['password']}"

    def imap_search() -> bool:
        out = subprocess.run(
            [
                "curl",
                "-s",
                "--user",
                creds,
                f"imap://{host}:{port}/INBOX",
                "-X",
                f"SEARCH SUBJECT {subject}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return "SEARCH" in out and len(out.split()) > 2

    assert eventually(imap_search)
    host, port = testbed.endpoints["pop3"]
    listing = subprocess.run(
        ["curl", "-s", "--user", creds, f"pop3://{host}:{port}/"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    last = listing.split()[-2]
    mail = subprocess.run(
        ["curl", "-s", "--user", creds, f"pop3://{host}:{port}/{last}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert subject in mail
