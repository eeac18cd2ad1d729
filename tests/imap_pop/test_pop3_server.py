"""POP3 front end against a real poplib client; the server runs as a subprocess with fakes."""

from __future__ import annotations

import poplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_frontend import running

ADDR, POP, IMAP = "127.0.23.1", 23110, 23143


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running(ADDR, POP, IMAP, tmp_path_factory.mktemp("pop3ctl")) as ctl:
        yield ctl


def login(name: str) -> poplib.POP3:
    p = poplib.POP3(ADDR, POP, timeout=10)
    p.user(f"{name}@example.com")
    p.pass_(f"{name}pw")
    return p


def test_capa_and_bad_login(control: Path) -> None:
    p = poplib.POP3(ADDR, POP, timeout=10)
    try:
        caps = p.capa()
        assert {"TOP", "UIDL", "USER"} <= set(caps)
        p.user("nobody@example.com")
        with pytest.raises(poplib.error_proto, match=r"-ERR"):
            p.pass_("wrong")
        p.user("p1@example.com")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
            p.pass_("wrong")
        p.user("p1@example.com")
        assert p.pass_("p1pw").startswith(b"+OK")
    finally:
        p.quit()


def test_stat_list_uidl_retr_top(control: Path) -> None:
    p = login("p2")
    try:
        count, size = p.stat()
        assert count == 3 and size > 0
        _, listing, _ = p.list()
        assert [ln.split()[0] for ln in listing] == [b"1", b"2", b"3"]
        _, uidl, _ = p.uidl()
        uids = [ln.split()[1] for ln in uidl]
        assert len(set(uids)) == 3
        _, lines, _ = p.retr(1)
        assert b"Subject: message 1" in lines
        assert b".starts with a dot" in lines  # dot-stuffing undone by the client
        _, top, _ = p.top(2, 1)
        assert top[-1] == b"line one of 2" and b"line three" not in top
    finally:
        p.quit()


def test_dele_commits_at_quit_and_rset(control: Path) -> None:
    p = login("p3")
    uidl_before = p.uidl()[1]
    p.dele(1)
    with pytest.raises(poplib.error_proto):
        p.retr(1)  # deleted in this session
    p.rset()
    assert p.stat()[0] == 3
    p.dele(2)
    p.quit()
    p = login("p3")
    try:
        assert p.stat()[0] == 2
        assert len(p.uidl()[1]) == len(uidl_before) - 1
    finally:
        p.quit()


def test_malformed_commands_keep_session(control: Path) -> None:
    p = login("p4")
    try:
        for bad in (b"FOO", b"RETR", b"RETR x", b"RETR 99", b"TOP 1 -3", b"DELE 0"):
            p._putcmd(bad.decode())
            assert p._getline()[0].startswith(b"-ERR"), bad
        assert p.noop().startswith(b"+OK")
        assert p.stat()[0] == 3
    finally:
        p.quit()


def test_temporary_failures_answer_sys_temp(control: Path) -> None:
    (control / "UASDOWN").touch()
    try:
        p = poplib.POP3(ADDR, POP, timeout=10)
        p.user("p5@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.pass_("p5pw")
        p.quit()
    finally:
        (control / "UASDOWN").unlink()
    p = login("p5")
    (control / "FAIL").touch()
    try:
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.retr(1)
    finally:
        (control / "FAIL").unlink()
    try:
        assert p.retr(1)[0].startswith(b"+OK")  # the session survived the failure
    finally:
        p.quit()


def test_mailbox_failure_at_login(control: Path) -> None:
    (control / "FAIL").touch()
    try:
        p = poplib.POP3(ADDR, POP, timeout=10)
        p.user("p6@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.pass_("p6pw")
        p.quit()
    finally:
        (control / "FAIL").unlink()
    with socket.create_connection((ADDR, POP), timeout=10):
        pass  # still listening
