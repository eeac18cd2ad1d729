"""The MTA's SMTP policy, queue, retries, DSN and crash safety, through smtplib and swaks."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
import time

import pytest
from mta_fakes import HOST, FakeMapi, FakeUas, RunningMta, Sink

PORT = 2525
MSG = b"Subject: hello there\r\nFrom: ann@aimc.test\r\n\r\nbody\r\n"


def eventually(check, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def mta(tmp_path):
    running = RunningMta(tmp_path / "spool", tmp_path / "tls", FakeUas(), FakeMapi(), Sink(), PORT)
    running.start()
    yield running
    running.stop()


def client(port: int = PORT) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, port, timeout=10)


def test_local_delivery_with_auth_plain_after_starttls(mta):
    with client() as smtp:
        smtp.starttls(context=ssl._create_unverified_context())
        smtp.login("ann@aimc.test", "secret-ann")
        smtp.sendmail("ann@aimc.test", ["bob@aimc.test"], MSG)
    assert eventually(lambda: mta.mapi.boxes.get("bob@aimc.test"))
    stored = next(iter(mta.mapi.boxes["bob@aimc.test"].values()))
    assert stored.startswith(b"Received: from") and b"Message-ID:" in stored
    assert eventually(lambda: "Mail.LL - (hello there/" in mta.log())
    assert ")OK from=<ann@aimc.test> to=<bob@aimc.test>" in mta.log()


def test_policy_replies(mta):
    with client() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size") and smtp.has_extn("starttls") and smtp.has_extn("auth")
        assert smtp.mail("ann@aimc.test")[0] == 530  # hosted sender must authenticate
        assert smtp.mail("x@example.net")[0] == 250
        assert smtp.rcpt("friend@example.net")[0] == 554  # no open relay
        assert smtp.rcpt("nobody@aimc.test")[0] == 550
        mta.uas.down = True
        assert smtp.rcpt("bob@aimc.test")[0] == 451
        mta.uas.down = False
        assert smtp.docmd("FROBNICATE")[0] == 500  # unknown command, session goes on
        assert smtp.docmd("MAIL", "nonsense")[0] in (501, 503)
        assert smtp.noop()[0] == 250
        smtp.rset()
        assert smtp.docmd("MAIL FROM:<x@example.net> SIZE=999999999")[0] == 552
    with client() as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        smtp.login("ann@aimc.test", "wrong")
    assert err.value.smtp_code == 535
    mta.uas.down = True
    with client() as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        smtp.login("ann@aimc.test", "secret-ann")
    assert err.value.smtp_code == 454
    with client(PORT + 1) as smtp:  # submission needs AUTH even for a foreign sender
        smtp.ehlo()
        assert smtp.mail("x@example.net")[0] == 530


def test_relay_with_auth_login_reaches_the_internet(mta):
    with client() as smtp:
        smtp.ehlo()
        smtp.esmtp_features["auth"] = "LOGIN"
        smtp.login("ann@aimc.test", "secret-ann")
        smtp.sendmail("ann@aimc.test", ["friend@example.net"], MSG)
    assert eventually(lambda: mta.sink.received)
    assert mta.sink.received[0][1] == ["friend@example.net"]
    assert eventually(lambda: "Mail.LR" in mta.log())


def test_oversized_data_is_refused(mta):
    with client() as smtp:
        smtp.login("ann@aimc.test", "secret-ann")
        with pytest.raises(smtplib.SMTPSenderRefused) as err:  # SIZE= announced at MAIL
            smtp.sendmail("ann@aimc.test", ["bob@aimc.test"], MSG + b"x" * 30_000)
        assert err.value.smtp_code == 552
        smtp.mail("ann@aimc.test")  # no SIZE=: the limit bites at DATA
        smtp.rcpt("bob@aimc.test")
        assert smtp.data(MSG + (b"x" * 70 + b"\r\n") * 400)[0] == 552


def test_temporary_failures_retry_then_deliver(mta):
    mta.mapi.fail_next = 2
    with client() as smtp:
        smtp.sendmail("x@example.net", ["bob@aimc.test"], MSG)
    assert eventually(lambda: mta.mapi.boxes.get("bob@aimc.test"))
    log = mta.log()
    assert "Mail.RL" in log and "RETRY.0 no live MAPI server" in log and "RETRY.1" in log
    assert log.strip().splitlines()[-1].split(")")[1].startswith("OK")


def test_quota_bounce_goes_back_to_the_sender(mta):
    with client() as smtp:
        smtp.login("ann@aimc.test", "secret-ann")
        smtp.sendmail("ann@aimc.test", ["full@aimc.test"], MSG)
    assert eventually(lambda: mta.mapi.boxes.get("ann@aimc.test"))
    dsn = next(iter(mta.mapi.boxes["ann@aimc.test"].values()))
    assert b"Destination mailbox exceeds quota" in dsn and b"multipart/report" in dsn
    assert "FAIL Destination mailbox exceeds quota" in mta.log()


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks is not installed")
def test_swaks_with_tls_and_auth(mta):
    out = subprocess.run(
        [
            "swaks",
            "--server",
            f"{HOST}:{PORT}",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "ann@aimc.test",
            "--auth-password",
            "secret-ann",
            "--from",
            "ann@aimc.test",
            "--to",
            "bob@aimc.test",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "250 2.0.0 Ok: queued as" in out.stdout


def test_queue_survives_a_crash_and_delivers_once(tmp_path):
    first = RunningMta(tmp_path / "spool", tmp_path / "tls", FakeUas(), FakeMapi(), Sink(), PORT)
    first.start(deliver=False)  # accepted and queued, but the "crash" comes before delivery
    with client() as smtp:
        for n in range(5):
            smtp.sendmail("x@example.net", ["bob@aimc.test", "ann@aimc.test"], MSG + b"%d" % n)
    first.stop()
    mapi = FakeMapi()
    second = RunningMta(tmp_path / "spool", tmp_path / "tls", FakeUas(), mapi, Sink(), PORT)
    second.start()
    try:
        assert eventually(lambda: len(mapi.boxes.get("ann@aimc.test", {})) == 5)
        assert eventually(lambda: not list((tmp_path / "spool" / "queue").iterdir()))
        assert len(mapi.boxes["bob@aimc.test"]) == 5
    finally:
        second.stop()
