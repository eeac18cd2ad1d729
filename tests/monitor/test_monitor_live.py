"""Monitoring and background mail on a live testbed: probes pass in steady state, a fault raises
the transaction alarm after two failed rounds and its revert clears it (both journaled), the plan's
thresholds drive the alarms, /metrics serves Prometheus text over HTTP, a probe whose client
library throws counts as a failed probe (the monitor keeps running), and background mail is
reconciled against the mailboxes with nothing lost."""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import live_home  # noqa: E402

from testbed.faults import injector, journal  # noqa: E402
from testbed.home import Home  # noqa: E402
from testbed.probes import monitor as monitor_mod  # noqa: E402
from testbed.probes.monitor import Monitor, serve_metrics  # noqa: E402
from testbed.scorer.plan import Thresholds  # noqa: E402
from testbed.traffic import Traffic, reconcile  # noqa: E402

NETWORK = "127.0.43.0/24"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    with live_home(tmp_path_factory.mktemp("monitor"), NETWORK) as home:
        yield home


def rounds(monitor: Monitor, n: int) -> None:
    with ThreadPoolExecutor(12) as pool:
        for _ in range(n):
            monitor.run_once(pool)


def alarm_events(home: Home, name: str) -> list[str]:
    return [r["state"] for r in journal.read(home) if r["event"] == "alarm" and r["name"] == name]


def test_steady_state_then_alarm_raised_and_cleared(home: Home) -> None:
    monitor = Monitor(home, services=["smtp", "pop3", "imap", "webmail"])
    rounds(monitor, 1)
    assert all(ok for ok, _latency in monitor.last.values()), monitor.last
    assert not any(monitor.alarms.values()), monitor.alarms
    fid = injector.inject(home, "uas_pool_dead", "primary")
    try:
        rounds(monitor, 2)
        assert monitor.alarms["transaction_failed:pop3"] is True
        assert not monitor.last[("pop3", "vip")][0]
    finally:
        injector.revert(home, fid)
    deadline = time.monotonic() + 20
    while monitor.alarms["transaction_failed:pop3"] and time.monotonic() < deadline:
        rounds(monitor, 1)
    assert monitor.alarms["transaction_failed:pop3"] is False
    assert alarm_events(home, "transaction_failed:pop3")[-2:] == ["raised", "cleared"]
    probes = [r for r in journal.read(home) if r["event"] == "probe"]
    assert {r["cls"] for r in probes} == {"vip", "paying", "regular"}


def test_the_plans_thresholds_drive_the_alarms(home: Home) -> None:
    strict = Monitor(home, services=["smtp"], journal=False, thresholds=Thresholds(ehlo_ms=0.0))
    rounds(strict, 1)
    assert strict.alarms["ehlo_slow"] is True  # every EHLO is slower than 0 ms
    fid = injector.inject(home, "disk_full", "fe01", {"percent": 90})
    try:
        default = Monitor(home, services=["smtp"], journal=False)
        lenient = Monitor(
            home, services=["smtp"], journal=False, thresholds=Thresholds(disk_percent=95)
        )
        rounds(default, 1)
        rounds(lenient, 1)
        assert default.alarms["disk_usage"] is True  # 90 % > the spec's 85 %
        assert lenient.alarms.get("disk_usage", False) is False
        assert default.alarms.get("transaction_failed:smtp", False) is False  # 90 %: still writable
    finally:
        injector.revert(home, fid)


def test_metrics_endpoint_serves_prometheus_text(home: Home) -> None:
    monitor = Monitor(home, services=["imap"], journal=False)
    rounds(monitor, 1)
    server = serve_metrics(monitor, 0, host="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
            assert answer.headers["content-type"].startswith("text/plain")
    finally:
        server.shutdown()
        server.server_close()
    assert 'maildrill_probe_ok{service="imap",class="vip"} 1' in text
    assert "maildrill_queue_length " in text
    assert "# TYPE maildrill_probe_latency_seconds gauge" in text


def test_a_probe_that_throws_is_a_failed_probe(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(endpoint: str, user: dict) -> tuple[bool, str]:
        raise RuntimeError("client library surprise")

    monkeypatch.setattr(monitor_mod.tx, "pop3_retrieve", broken)
    monitor = Monitor(home, services=["pop3"], journal=False)
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop, 2))
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and monitor.rounds == 2
    assert monitor.alarms["transaction_failed:pop3"] is True


def test_background_mail_is_all_delivered(home: Home) -> None:
    traffic = Traffic(home, rate=8.0, mix={"vip": 0.2, "paying": 0.3, "regular": 0.5}, seed=3)
    traffic.run(threading.Event(), seconds=3.0)
    time.sleep(3.0)  # let the last deliveries land
    counts = reconcile(home)
    assert counts["accepted"] >= 5, counts
    assert counts.get("lost", 0) == 0 and counts.get("duplicate", 0) == 0, counts
    assert counts.get("delivered", 0) == counts["accepted"], counts
