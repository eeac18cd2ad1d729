"""IMAP4 front end against a real imaplib client; the server runs as a subprocess with fakes."""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_frontend import running

ADDR, POP, IMAP = "127.0.23.2", 23110, 23143


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running(ADDR, POP, IMAP, tmp_path_factory.mktemp("imapctl")) as ctl:
        yield ctl


@pytest.fixture
def imap(request: pytest.FixtureRequest, control: Path) -> Iterator[imaplib.IMAP4]:
    """A client logged in as a user of its own (named after the test), INBOX selected."""
    name = request.node.name.replace("test_", "").replace("_", "")[:20]
    client = imaplib.IMAP4(ADDR, IMAP, timeout=10)
    client.login(f"{name}@example.com", f"{name}pw")
    client.select("INBOX")
    try:
        yield client
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.abort, OSError):
            client.shutdown()


def raw(client: imaplib.IMAP4, line: bytes) -> bytes:
    """Send one tagged command by hand; return the tagged reply line."""
    tag = client._new_tag()
    client.send(tag + b" " + line + b"\r\n")
    while True:
        reply = client.readline()
        if reply.startswith(tag):
            return reply[len(tag) + 1 :].strip()


def test_capability_and_login(control: Path) -> None:
    client = imaplib.IMAP4(ADDR, IMAP, timeout=10)
    try:
        assert {"IMAP4REV1", "IDLE", "UIDPLUS", "MOVE"} <= set(client.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login("i1@example.com", "nope")
        assert client.login("i1@example.com", "i1pw")[0] == "OK"
    finally:
        client.logout()


def test_authenticate_plain(control: Path) -> None:
    client = imaplib.IMAP4(ADDR, IMAP, timeout=10)
    try:
        typ, _ = client.authenticate("PLAIN", lambda _: b"\0i2@example.com\0i2pw")
        assert typ == "OK"
        assert client.select("INBOX") == ("OK", [b"3"])
    finally:
        client.logout()


def test_fetch_and_seen(imap: imaplib.IMAP4) -> None:
    typ, data = imap.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE)")
    assert typ == "OK" and len(data) == 3
    assert b"UID 1" in data[0] and b"RFC822.SIZE" in data[0] and b"INTERNALDATE" in data[0]
    typ, data = imap.fetch("2", "(BODY.PEEK[HEADER])")
    assert b"Subject: message 2" in data[0][1]
    assert imap.search(None, "UNSEEN")[1] == [b"1 2 3"]  # PEEK did not set \Seen
    typ, data = imap.fetch("1", "(BODY[])")
    assert data[0][1].startswith(b"From: sender1@remote.test")
    assert imap.search(None, "UNSEEN")[1] == [b"2 3"]
    typ, data = imap.uid("FETCH", "2:*", "(FLAGS)")
    assert len([d for d in data if d]) == 2


def test_store_search(imap: imaplib.IMAP4) -> None:
    typ, data = imap.store("1", "+FLAGS", "(\\Flagged \\Seen)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    assert imap.search(None, "UNSEEN")[1] == [b"2 3"]
    assert imap.uid("SEARCH", "UID 2:3")[1] == [b"2 3"]
    assert imap.search(None, "ALL")[1] == [b"1 2 3"]
    typ, data = imap.uid("STORE", "3", "-FLAGS", "(\\Seen)")
    assert typ == "OK"
    assert imap.search(None, 'SUBJECT "message 2"')[1] == [b"2"]


def test_append_with_and_without_flags(imap: imaplib.IMAP4) -> None:
    typ, data = imap.append("INBOX", "(\\Seen)", None, b"Subject: a\r\n\r\nbody\r\n")
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    validity, uid = data[0].split(b"]")[0].split()[1:]
    typ, data = imap.append("INBOX", None, None, b"Subject: b\r\n\r\nbody\r\n")
    assert typ == "OK" and int(data[0].split(b"]")[0].split()[2]) == int(uid) + 1
    date = imaplib.Time2Internaldate(time.time() - 86400)
    typ, data = imap.append("INBOX", "(\\Flagged)", date, b"Subject: c\r\n\r\nbody\r\n")
    assert typ == "OK" and data[0].startswith(b"[APPENDUID " + validity)
    assert imap.select("INBOX")[1] == [b"6"]
    assert imap.uid("SEARCH", "UNSEEN")[1] == [b"1 2 3 5 6"]


def test_folders_copy_move_expunge(imap: imaplib.IMAP4) -> None:
    assert imap.create("Archive")[0] == "OK"
    assert imap.create("Archive")[0] == "NO"
    names = [ln.split(b'"/" ')[1] for ln in imap.list()[1]]
    assert set(names) >= {b'"Archive"', b'"INBOX"'}
    assert imap.lsub()[0] == "OK"
    typ, data = imap.copy("1:2", "Archive")
    assert typ == "OK" and data[0].startswith(b"[COPYUID ")
    assert data[0].split(b"]")[0].split()[2:] == [b"1,2", b"1,2"]  # Archive's UIDs 1 and 2
    typ, data = imap._simple_command("UID", "MOVE", "3", "Archive")
    assert typ == "OK"
    assert imap.untagged_responses.get("EXPUNGE") == [b"3"]
    imap.untagged_responses.clear()
    assert imap.status("Archive", "(MESSAGES UIDNEXT)")[1] == [b"Archive (MESSAGES 3 UIDNEXT 4)"]
    imap.store("1:2", "+FLAGS", "(\\Deleted)")
    typ, data = imap._simple_command("UID", "EXPUNGE", "2")
    assert typ == "OK" and imap.untagged_responses.get("EXPUNGE") == [b"2"]
    imap.untagged_responses.clear()
    typ, data = imap.expunge()
    assert data == [b"1"]
    assert imap.select("INBOX")[1] == [b"0"]
    assert imap.rename("Archive", "Old")[0] == "OK"
    assert imap.select("Old")[1] == [b"3"]
    assert imap.select("Nope")[0] == "NO"
    assert imap.delete("Old")[0] == "OK"
    assert imap.delete("INBOX")[0] == "NO"
    assert imap.status("Old", "(MESSAGES)")[0] == "NO"


def test_close_expunges(imap: imaplib.IMAP4) -> None:
    imap.store("1", "+FLAGS", "(\\Deleted)")
    assert imap.close()[0] == "OK"
    assert imap.select("INBOX", readonly=True)[1] == [b"2"]
    assert imap.noop()[0] == "OK"


def test_idle_reports_new_mail(imap: imaplib.IMAP4, control: Path) -> None:
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    assert imap.readline().startswith(b"+")
    drop = control / "drop" / "idlereportsnewmail@example.com"
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "new.eml").write_bytes(b"Subject: new\r\n\r\nfresh\r\n")
    assert imap.readline().strip() == b"* 4 EXISTS"  # blocks until the poll sees it (10 s timeout)
    imap.send(b"DONE\r\n")
    reply = imap.readline()
    while not reply.startswith(tag):
        reply = imap.readline()
    assert b"OK" in reply
    assert imap.uid("FETCH", "4", "(BODY.PEEK[])")[1][0][1] == b"Subject: new\r\n\r\nfresh\r\n"


def test_malformed_commands_answer_bad(imap: imaplib.IMAP4) -> None:
    for line in (b"BOGUS", b"FETCH", b"FETCH x (FLAGS)", b"UID FROB 1", b"STORE 1 +FLAGS (\\"):
        assert raw(imap, line).startswith(b"BAD"), line
    imap.send(b"\r\n")  # empty line: untagged BAD
    assert imap.readline().startswith(b"* BAD")
    assert imap.noop()[0] == "OK"
    assert imap.search(None, "ALL")[1] == [b"1 2 3"]


def test_mailbox_failure_is_no_unavailable(imap: imaplib.IMAP4, control: Path) -> None:
    (control / "FAIL").touch()
    try:
        for line in (
            b"FETCH 1 (BODY[])",
            b"SELECT INBOX",
            b"STATUS INBOX (MESSAGES)",
            b'LIST "" *',
        ):
            assert raw(imap, line).startswith(b"NO [UNAVAILABLE]"), line
        assert raw(imap, b"CREATE X").startswith(b"NO [UNAVAILABLE]")
    finally:
        (control / "FAIL").unlink()
    assert imap.select("INBOX")[1] == [b"3"]
    (control / "UASDOWN").touch()
    try:
        client = imaplib.IMAP4(ADDR, IMAP, timeout=10)
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
            client.login("u9@example.com", "u9pw")
        client.logout()
    finally:
        (control / "UASDOWN").unlink()
