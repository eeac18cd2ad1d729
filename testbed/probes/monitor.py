"""The testbed's monitoring: synthetic transactions per service and user class through the VIP,
node health, and the plan's alarms — all journaled; the scorer judges from that record alone.

Every interval, for one user of each class (VIP, paying, regular), the four services' transactions
run concurrently (a hung service delays only its own probe); the IMAP transaction reads one user of
that class on every mailroot, so a single mailroot's failure is seen. Alarms (SPEC §2 thresholds):
  transaction_failed  a service failed 2 probes in a row (any class); cleared when it passes again
  queue_length        messages queued on the front ends > 1000
  ehlo_slow           the EHLO answer took > 200 ms
  node_down           a service of the topology stopped listening (health)
Latest figures are kept for the Prometheus endpoint (`metrics()`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from testbed.components import disks
from testbed.faults import journal
from testbed.home import Home
from testbed.probes import transactions as tx
from testbed.runtime.provision import read_users
from testbed.runtime.registry import backend_for
from testbed.scorer.plan import Thresholds
from testbed.topology.endpoints import client_endpoints

CLASSES = ("vip", "paying", "regular")
FAILS_FOR_ALARM = 2


def probe_users(home: Home) -> dict[str, dict[str, Any]]:
    """One fixed user per class (custom-quota users left out: their mailbox may be full)."""
    chosen: dict[str, dict[str, Any]] = {}
    for user in read_users(home):
        if user["level"] != 0 and user["cls"] not in chosen:
            chosen[user["cls"]] = user
    return chosen


def mailroot_users(home: Home) -> dict[str, list[dict[str, Any]]]:
    """Per class, one user on every mailroot: the IMAP probe reads each mailroot, so a failure of
    any one mailroot (an mss process, an MSS node, a path to the array) shows for every class."""
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for user in read_users(home):
        if user["level"] != 0:
            chosen.setdefault((user["cls"], user["mailroot"]), user)
    out: dict[str, list[dict[str, Any]]] = {}
    for (cls, _root), user in sorted(chosen.items()):
        out.setdefault(cls, []).append(user)
    return out


class Monitor:
    def __init__(
        self,
        home: Home,
        interval: float = 1.0,
        services: list[str] | None = None,
        journal: bool = True,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.home = home
        # the plan file's thresholds (scenarios/plan.yaml), the spec's numbers by default
        limits = thresholds or Thresholds()
        self.queue_alarm, self.disk_alarm = limits.queue, limits.disk_percent
        self.ehlo_alarm = limits.ehlo_ms / 1000.0
        self.interval = interval
        self.services = services or ["smtp", "pop3", "imap", "webmail"]
        self.write = journal
        self.users = probe_users(home)
        self.per_root = mailroot_users(home)
        self.endpoints = client_endpoints(home.topology)
        self.fails: dict[str, int] = {}
        self.alarms: dict[str, bool] = {}
        self.last: dict[tuple[str, str], tuple[bool, float]] = {}
        self.queue = 0
        self.disks: dict[str, int] = {}
        self.down: list[str] = []
        self.rounds = 0
        self.lock = threading.Lock()

    def _probe(self, service: str, user: dict[str, Any]) -> tuple[bool, str, float, float]:
        start = time.monotonic()
        try:
            return self._transaction(service, user, start)
        except Exception as exc:  # noqa: BLE001 - a client library's surprise is a failed probe
            return False, f"probe error: {exc!r}", time.monotonic() - start, -1.0

    def _transaction(
        self, service: str, user: dict[str, Any], start: float
    ) -> tuple[bool, str, float, float]:
        ehlo = -1.0
        if service == "smtp":
            ok, detail, ehlo = tx.smtp_send(self.endpoints["submission"], user)
            if ok:  # and mail from the Internet, which depends on the hosted domain's MX
                ok, detail = tx.inbound(self.home.topology, user)
        elif service == "pop3":
            ok, detail = tx.pop3_retrieve(self.endpoints["pop3"], user)
        elif service == "imap":
            failing = []
            for each in self.per_root.get(user["cls"], [user]):
                good, why = tx.imap_fetch(self.endpoints["imap"], each)
                if not good:
                    failing.append(f"{each['mailroot']}: {why}")
            ok, detail = not failing, "; ".join(failing) or "every mailroot readable"
        else:
            ok, detail = tx.webmail_read(self.endpoints["http"], user)
        return ok, detail, time.monotonic() - start, ehlo

    def run_once(self, pool: ThreadPoolExecutor) -> None:
        jobs = {
            (s, c): pool.submit(self._probe, s, u)
            for s in self.services
            for c, u in self.users.items()
        }
        failed: dict[str, bool] = {s: False for s in self.services}
        slowest_ehlo = 0.0
        for (service, cls), job in jobs.items():
            ok, detail, latency, ehlo = job.result()
            failed[service] |= not ok
            slowest_ehlo = max(slowest_ehlo, ehlo)
            with self.lock:
                self.last[(service, cls)] = (ok, latency)
            self._journal(
                "probe", service=service, cls=cls, ok=ok, latency=round(latency, 4), detail=detail
            )
        for service, bad in failed.items():
            self.fails[service] = self.fails.get(service, 0) + 1 if bad else 0
            self._alarm(
                f"transaction_failed:{service}",
                self.fails[service] >= FAILS_FOR_ALARM,
                service,
                f"{self.fails[service]} failed probes in a row",
            )
        if "smtp" in self.services and slowest_ehlo >= 0:
            self._alarm(
                "ehlo_slow",
                slowest_ehlo > self.ehlo_alarm,
                "smtp",
                f"EHLO answered in {slowest_ehlo * 1000:.0f} ms",
            )
        self.queue = queued(self.home)
        self._alarm("queue_length", self.queue > self.queue_alarm, "smtp", f"{self.queue} queued")
        self.disks = disks.usages(self.home)
        high = sorted(
            f"{name} {level} %" for name, level in self.disks.items() if level > self.disk_alarm
        )
        self._alarm("disk_usage", bool(high), "", ", ".join(high) or "every disk below the limit")
        self._health()
        self.rounds += 1

    def _health(self) -> None:
        down = sorted(
            f"{s.node}/{s.service}"
            for s in backend_for(self.home).status()
            if s.state not in ("up", "cold")
        )
        if down != self.down:
            self.down = down
            self._journal("health", down=down)
            self._alarm("node_down", bool(down), "", ", ".join(down[:8]))

    def _alarm(self, name: str, raised: bool, service: str, detail: str) -> None:
        if self.alarms.get(name, False) != raised:
            self.alarms[name] = raised
            self._journal(
                "alarm",
                name=name,
                service=service,
                state="raised" if raised else "cleared",
                detail=detail,
            )

    def _journal(self, event: str, **fields: Any) -> None:
        if self.write:
            journal.append(self.home, event, **fields)

    def run(
        self,
        stop: threading.Event,
        rounds: int | None = None,
        on_round: Callable[[Monitor], None] | None = None,
    ) -> None:
        with ThreadPoolExecutor(max_workers=len(self.services) * len(CLASSES)) as pool:
            while not stop.is_set() and (rounds is None or self.rounds < rounds):
                started = time.monotonic()
                self.run_once(pool)
                if on_round is not None:
                    on_round(self)
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def metrics(self) -> str:
        """Prometheus text exposition of the latest round."""
        lines = [
            "# HELP maildrill_probe_ok Last synthetic transaction succeeded (1) or not (0).",
            "# TYPE maildrill_probe_ok gauge",
        ]
        with self.lock:
            last = dict(self.last)
        for (service, cls), (ok, _latency) in sorted(last.items()):
            lines.append(f'maildrill_probe_ok{{service="{service}",class="{cls}"}} {int(ok)}')
        lines += [
            "# HELP maildrill_probe_latency_seconds Last transaction's duration.",
            "# TYPE maildrill_probe_latency_seconds gauge",
        ]
        for (service, cls), (_ok, latency) in sorted(last.items()):
            lines.append(
                f'maildrill_probe_latency_seconds{{service="{service}",class="{cls}"}} '
                f"{latency:.4f}"
            )
        lines += [
            "# HELP maildrill_queue_length Messages queued on the front ends.",
            "# TYPE maildrill_queue_length gauge",
            f"maildrill_queue_length {self.queue}",
            "# HELP maildrill_disk_usage_percent Fill level of a disk (only disks above 0).",
            "# TYPE maildrill_disk_usage_percent gauge",
            *(
                f'maildrill_disk_usage_percent{{disk="{d}"}} {v}'
                for d, v in sorted(self.disks.items())
            ),
            "# HELP maildrill_alarm Alarm raised (1) or not (0).",
            "# TYPE maildrill_alarm gauge",
        ]
        for name, raised in sorted(self.alarms.items()):
            lines.append(f'maildrill_alarm{{name="{name}"}} {int(raised)}')
        lines += [
            "# HELP maildrill_services_down Services of the topology not listening.",
            "# TYPE maildrill_services_down gauge",
            f"maildrill_services_down {len(self.down)}",
        ]
        return "\n".join(lines) + "\n"


def queued(home: Home) -> int:
    return sum(
        1
        for fe in home.topology.frontends
        for p in (home.node_root(fe.name) / "var/spool/mta/queue").glob("*")
        if not p.name.endswith(".state")
    )


def serve_metrics(monitor: Monitor, port: int, host: str = "127.0.0.1") -> Any:
    """A tiny HTTP server for /metrics in a thread; returns it (call .shutdown())."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = monitor.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
