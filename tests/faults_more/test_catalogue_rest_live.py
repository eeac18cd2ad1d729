"""The rest of the catalogue on a live testbed, each seen by a real client and gone after revert:
DNS down, httpd answering errors, a request flood, aimc.ini naming a dead UAS, mss.ini with a
wrong MailDir, disk full (array and front end), a failed storage processor, clock skew."""

from __future__ import annotations

import smtplib
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import live_home  # noqa: E402

from testbed.components import disks  # noqa: E402
from testbed.components.cluster.state import read_state  # noqa: E402
from testbed.faults import clients, injector, loadprocs  # noqa: E402
from testbed.faults.base import FaultContext  # noqa: E402
from testbed.faults.disk_full import smtp_mail_code  # noqa: E402
from testbed.faults.ledger import Ledger  # noqa: E402
from testbed.home import Home  # noqa: E402
from testbed.probes.monitor import Monitor  # noqa: E402
from testbed.runtime.local import LocalBackend  # noqa: E402

NETWORK = "127.0.42.0/24"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    with live_home(tmp_path_factory.mktemp("catalogue"), NETWORK) as home:
        yield home


@pytest.fixture(autouse=True)
def nothing_left(home: Home) -> Iterator[None]:
    yield
    assert Ledger(home).entries() == [], "a fault was left in the ledger"


def ctx(home: Home) -> FaultContext:
    return FaultContext(home, LocalBackend(home), "-", None)  # type: ignore[arg-type]


def http_status(home: Home, node: str) -> int:
    url = f"http://{home.topology.nodes[node].address}:{home.topology.spec.ports.http}/"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def login(home: Home, node: str) -> str:
    user = clients.a_user(ctx(home))
    assert user is not None
    address = home.topology.nodes[node].address
    try:
        with smtplib.SMTP(address, home.topology.spec.ports.submission, timeout=15) as smtp:
            smtp.ehlo()
            smtp.login(user["address"], user["password"])
    except smtplib.SMTPException as exc:
        return str(exc)
    return "ok"


def test_dns_down_queries_time_out(home: Home) -> None:
    dns = home.topology.nodes["dns"]
    port = home.topology.spec.ports.dns
    fid = injector.inject(home, "dns_down")
    try:
        assert injector.check(home, fid).ok
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a bare query, no answer
            sock.settimeout(1.0)
            sock.sendto(
                bytes.fromhex("abcd01000001000000000000") + b"\x04aimc\x04test\x00\x00\x0f\x00\x01",
                (dns.address, port),
            )
            with pytest.raises(TimeoutError):
                sock.recv(512)
    finally:
        injector.revert(home, fid)
    with socket.create_connection((dns.address, port), timeout=3):
        pass


def test_web_errors_answer_500_while_the_port_is_open(home: Home) -> None:
    assert http_status(home, "web1") == 200
    fid = injector.inject(home, "web_errors", "web1")
    try:
        assert injector.check(home, fid).ok
        assert http_status(home, "web1") == 500
        assert http_status(home, "web2") == 200  # only the target
    finally:
        injector.revert(home, fid)
    assert http_status(home, "web1") == 200


def test_request_flood_from_one_source_then_stopped(home: Home) -> None:
    fid = injector.inject(home, "request_flood", params={"connections": 10})
    folder = next((home.root / "faults" / "flood").iterdir())
    pids = loadprocs.alive(folder)
    try:
        effect = injector.check(home, fid)
        assert effect.ok, effect.detail
        assert "127.0.42.253" in effect.detail
        assert http_status(home, "web1") == 200  # slower for everyone, but served
    finally:
        injector.revert(home, fid)
    assert pids and not any(psutil.pid_exists(p) for p in pids)


def test_aimc_ini_dead_uas_breaks_logins_on_that_front_end_only(home: Home) -> None:
    ini = home.node_root("fe01") / "opt/aimc/aimc.ini"
    original = ini.read_text()
    assert login(home, "fe01") == "ok"
    fid = injector.inject(home, "aimc_ini_dead_uas", "fe01")
    try:
        assert injector.check(home, fid).ok
        assert login(home, "fe01") != "ok"
        assert login(home, "fe02") == "ok"
    finally:
        injector.revert(home, fid)
    assert ini.read_text() == original
    assert login(home, "fe01") == "ok"


def test_mss_ini_wrong_maildir_faults_the_group(home: Home) -> None:
    fid = injector.inject(home, "mss_ini_wrong_maildir", "m1")
    try:
        assert injector.check(home, fid).ok
        deadline = time.monotonic() + 20
        while read_state(home)["groups"]["m1"]["state"] != "FAULTED":
            assert time.monotonic() < deadline, read_state(home)["groups"]["m1"]
            time.sleep(0.2)
        node = read_state(home)["groups"]["m1"]["node"]
        assert (
            "MailDir /mnt/array/m1.old does not exist"
            in (home.log_dir(node) / "restart.log").read_text()
        )
    finally:
        injector.revert(home, fid)
    assert read_state(home)["groups"]["m1"]["state"] == "ONLINE"
    assert clients.mailbox(ctx(home), "m1") == "ok"


def test_disk_full_array_writes_fail_reads_work(home: Home) -> None:
    fid = injector.inject(home, "disk_full", "array0")
    try:
        effect = injector.check(home, fid)
        assert effect.ok, effect.detail
        assert disks.usages(home) == {"array0": 100}
    finally:
        injector.revert(home, fid)
    assert disks.usages(home) == {}
    assert clients.mailbox(ctx(home), "m0", write=True) == "ok"


def test_disk_full_front_end_answers_452_and_monitor_alarms(home: Home) -> None:
    fid = injector.inject(home, "disk_full", "fe02")
    try:
        effect = injector.check(home, fid)
        assert effect.ok, effect.detail
        assert smtp_mail_code(ctx(home), "fe02") == 452
        monitor = Monitor(home, services=["smtp"], journal=False)
        with ThreadPoolExecutor(4) as pool:
            monitor.run_once(pool)
        assert monitor.alarms["disk_usage"] is True
        assert 'maildrill_disk_usage_percent{disk="fe02"} 100' in monitor.metrics()
    finally:
        injector.revert(home, fid)
    assert smtp_mail_code(ctx(home), "fe02") == 250


def test_sp_failed_degraded_but_served(home: Home) -> None:
    fid = injector.inject(home, "sp_failed", params={"delay": "100ms"})
    try:
        effect = injector.check(home, fid)
        assert effect.ok, effect.detail
    finally:
        injector.revert(home, fid)
    started = time.monotonic()
    assert clients.mailbox(ctx(home), "m0", write=True) == "ok"
    assert time.monotonic() - started < 2


def test_clock_skew_shows_in_the_mail_log(home: Home) -> None:
    fid = injector.inject(home, "clock_skew", "fe03", {"offset": -3600})
    try:
        effect = injector.check(home, fid)
        assert effect.ok, effect.detail
        seen = float(effect.detail.split(" is ")[1].split()[0])
        assert abs(seen + 3600) < 5, effect.detail
    finally:
        injector.revert(home, fid)
    assert not (home.node_root("fe03") / "etc" / "clock_offset").exists()


def test_node_freeze_hangs_every_service_of_the_node_then_thaws(home: Home) -> None:
    assert http_status(home, "web1") == 200
    backend = LocalBackend(home)
    fid = injector.inject(home, "node_freeze", "web1")
    try:
        assert injector.check(home, fid).ok
        assert backend.is_frozen("web1") and not backend.is_frozen("web2")
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            url = f"http://{home.topology.nodes['web1'].address}:{home.topology.spec.ports.http}/"
            urllib.request.urlopen(url, timeout=1.5)
        assert http_status(home, "web2") == 200
    finally:
        injector.revert(home, fid)
    assert not backend.is_frozen("web1")
    assert http_status(home, "web1") == 200


def test_doctor_thaws_a_node_frozen_outside_the_ledger(home: Home) -> None:
    backend = LocalBackend(home)
    backend.freeze("web2", True)  # as if the injecting process died before writing its ledger
    assert backend.is_frozen("web2")
    repaired = injector.doctor(home)
    assert not backend.is_frozen("web2"), repaired
    assert http_status(home, "web2") == 200
