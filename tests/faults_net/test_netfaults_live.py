"""Link and protocol faults on a live testbed: the symptom through real clients, gone after revert."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import Testbed as Bed  # noqa: E402

from testbed.faults import clients, injector  # noqa: E402
from testbed.faults.base import FaultContext  # noqa: E402
from testbed.home import Home  # noqa: E402
from testbed.netem import configure_process  # noqa: E402
from testbed.runtime.local import LocalBackend  # noqa: E402
from testbed.runtime.provision import read_users  # noqa: E402

NETWORK = "127.0.36.0/24"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    bed = Bed(tmp_path_factory.mktemp("netfaults"), NETWORK, users=30, frontends={"count": 1})
    home = Home(bed.root / "home")
    try:
        bed.up()
        # this process plays a client outside the platform: link rules for "client" apply to it
        configure_process(home.root, "client", home.topology)
        yield home
    finally:
        injector.doctor(home, teardown=True)
        LocalBackend(home).down()


def ctx(home: Home) -> FaultContext:
    from testbed.faults.base import NoParams

    return FaultContext(home, LocalBackend(home), "", NoParams())


def uas_login(home: Home) -> str:
    return clients.uas_login(ctx(home), list(home.topology.spec.uas.nodes))


def rcpt_code(home: Home) -> int:
    fe = home.topology.frontends[0].address
    user = clients.a_user(ctx(home))
    assert user is not None
    with smtplib.SMTP(fe, home.topology.spec.ports.smtp, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("someone@example.net")
        return int(smtp.rcpt(user["address"])[0])


def timed(fn) -> tuple[object, float]:
    start = time.monotonic()
    out = fn()
    return out, time.monotonic() - start


def test_partition_between_uas_and_database_makes_logins_fail(home):
    assert uas_login(home) == "ok"
    fid = injector.inject(home, "link_partition", "*<->oradb")
    try:
        assert injector.check(home, fid).ok
        assert uas_login(home) == "unavailable"  # the UAS cannot reach the database in time
    finally:
        injector.revert(home, fid)
    assert uas_login(home) == "ok"


def test_latency_and_reset_on_the_mapi_link(home):
    root = sorted(home.topology.spec.mss.mailroots)[0]
    node = home.topology.spec.mss.mailroots[root]
    fid = injector.inject(home, "link_latency", f"client->{node}", {"latency": "400ms"})
    try:
        assert injector.check(home, fid).ok
        got, took = timed(lambda: clients.mailbox(ctx(home), root))
        assert got == "ok" and took >= 0.4
    finally:
        injector.revert(home, fid)
    fid = injector.inject(home, "link_reset", f"client->{node}")
    try:
        assert injector.check(home, fid).ok
        assert clients.mailbox(ctx(home), root) == "unavailable"
    finally:
        injector.revert(home, fid)
    assert clients.mailbox(ctx(home), root) == "ok"


def test_latency_between_front_end_and_mss_slows_imap(home):
    fe = home.topology.frontends[0]
    user = next(u for u in read_users(home) if u["level"] != 0)
    node = home.topology.spec.mss.mailroots[user["mailroot"]]

    def imap_session() -> float:
        start = time.monotonic()
        box = imaplib.IMAP4(fe.address, home.topology.spec.ports.imap, timeout=30)
        try:
            box.login(user["address"], user["password"])
            box.select("INBOX")
        finally:
            box.logout()
        return time.monotonic() - start

    before = imap_session()
    fid = injector.inject(home, "link_latency", f"{fe.name}<->{node}", {"latency": "300ms"})
    try:
        assert imap_session() >= before + 0.5  # SELECT needs a MAPI round trip (2 x 300 ms)
    finally:
        injector.revert(home, fid)
    assert imap_session() < before + 0.5


def test_mta_answers_451_at_rcpt_then_recovers(home):
    assert rcpt_code(home) == 250
    fid = injector.inject(home, "mta_reject", "all", {"stage": "rcpt", "code": 451})
    try:
        assert injector.check(home, fid).ok
        assert rcpt_code(home) == 451
    finally:
        injector.revert(home, fid)
    assert rcpt_code(home) == 250


def test_uas_rejects_valid_passwords_and_slow_auth(home):
    fid = injector.inject(home, "uas_reject", "all")
    try:
        assert uas_login(home) == "bad_password"
    finally:
        injector.revert(home, fid)
    assert uas_login(home) == "ok"
    fid = injector.inject(home, "uas_slow", "all", {"delay": "0.8s"})
    try:
        assert injector.check(home, fid).ok
        got, took = timed(lambda: uas_login(home))
        assert got == "ok" and took >= 0.8
    finally:
        injector.revert(home, fid)


def test_mapi_errors_and_slowness(home):
    root = sorted(home.topology.spec.mss.mailroots)[0]
    fid = injector.inject(home, "mapi_error", "all", {"error": "io_error"})
    try:
        assert clients.mailbox(ctx(home), root) == "io_error"
    finally:
        injector.revert(home, fid)
    fid = injector.inject(home, "mapi_slow", "all", {"delay": "0.5s"})
    try:
        got, took = timed(lambda: clients.mailbox(ctx(home), root))
        assert got == "ok" and took >= 0.5
    finally:
        injector.revert(home, fid)
    assert clients.mailbox(ctx(home), root) == "ok"


def test_bad_link_target_lists_the_forms(home):
    from testbed.faults.base import FaultError

    with pytest.raises(FaultError, match="use A<->B or A->B"):
        injector.inject(home, "link_latency", "fe01<->nowhere")


def banner(home: Home, timeout: float = 3.0) -> tuple[str, float]:
    """What a user's SMTP client sees at the VIP: the greeting, a reset or a timeout."""
    start = time.monotonic()
    try:
        with socket.create_connection(
            (home.topology.vip, home.topology.spec.ports.smtp), timeout=timeout
        ) as conn:
            data = conn.recv(100)
            return ("220" if data.startswith(b"220") else repr(data)), time.monotonic() - start
    except ConnectionResetError:
        return "reset", time.monotonic() - start
    except TimeoutError:
        return "timeout", time.monotonic() - start


def test_client_to_vip_partition_reset_and_latency(home):
    assert banner(home)[0] == "220"
    for kind, expect in (("link_partition", "timeout"), ("link_reset", "reset")):
        fid = injector.inject(home, kind, "client<->vip")
        try:
            assert banner(home)[0] in (expect, "b''")
        finally:
            injector.revert(home, fid)
    fid = injector.inject(home, "link_latency", "client<->vip", {"latency": "500ms"})
    try:
        got, took = banner(home)
        assert got == "220" and took >= 0.5
    finally:
        injector.revert(home, fid)
    assert banner(home)[0] == "220"


def test_doctor_removes_rules_no_fault_owns(home):
    from testbed import faultpoints, netem

    netem.write_rules(home.root, [{"id": "stray", "src": "*", "dst": "oradb", "kind": "partition"}])
    faultpoints.write_rules(home.root, "mta", [{"id": "stray2", "stage": "rcpt", "code": 451}])
    repaired = injector.doctor(home)
    assert any("stray" in line for line in repaired)
    assert not netem.read_rules(home.root) and not faultpoints.read_rules(home.root, "mta")
    assert uas_login(home) == "ok" and rcpt_code(home) == 250
