"""Load balancer overhead and failover gap on a running testbed (a script, not a test).

    python tests/bench/lb_bench.py [HOME] [--rounds N]

Prints p50/p99 of one SMTP transaction (connect, EHLO, MAIL, RCPT, DATA, QUIT: inbound mail to a
hosted user) and of an IMAP login + SELECT + FETCH + LOGOUT, each through the VIP and directly to
fe01; then kills the active unit with SIGKILL and measures the failover gap: the time from the kill
until an SMTP greeting comes through the VIP again (probing every 20 ms). Afterwards the killed unit
is started again and the VIP moved back to it, so the testbed is left as it was found.
"""

from __future__ import annotations

import imaplib
import json
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.components.lb.state import read_state
from testbed.home import Home
from testbed.runtime.local import LocalBackend
from testbed.runtime.provision import read_users
from testbed.topology.endpoints import client_endpoints, direct_endpoints

Addr = tuple[str, int]


def _addr(value: str) -> Addr:
    host, port = value.rsplit(":", 1)
    return host, int(port)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "n": len(ordered)}


def timed(fn: Callable[[], None], rounds: int) -> dict[str, float]:
    fn()  # warm-up: first connections pay for imports and caches
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def smtp_transaction(addr: Addr, rcpt: str) -> Callable[[], None]:
    body = f"From: bench@example.net\r\nTo: {rcpt}\r\nSubject: lb bench\r\n\r\nhello\r\n"

    def once() -> None:
        with smtplib.SMTP(*addr, timeout=30) as s:
            s.sendmail("bench@example.net", [rcpt], body)

    return once


def imap_session(addr: Addr, user: dict[str, Any]) -> Callable[[], None]:
    def once() -> None:
        box = imaplib.IMAP4(*addr, timeout=30)
        try:
            box.login(user["address"], user["password"])
            box.select("INBOX", readonly=True)
            box.fetch("1", "(BODY.PEEK[])")
        finally:
            box.logout()

    return once


def greets(addr: Addr, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(addr, timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"220")
    except OSError:
        return False


def failover_gap(home: Home, vip: Addr, limit_s: float = 60.0) -> dict[str, Any]:
    backend = LocalBackend(home)
    owner = read_state(home).get("owner")
    if not owner or not greets(vip, 2.0):
        return {"error": "the VIP is not served; nothing to fail over"}
    backend.signal(owner, "alteon", signal.SIGKILL)
    killed = time.perf_counter()
    while not greets(vip) and time.perf_counter() - killed < limit_s:
        time.sleep(0.02)
    gap = time.perf_counter() - killed
    taker = read_state(home).get("owner")
    backend.start(owner, "alteon")  # leave the testbed as found: the unit back, the VIP home
    subprocess.run(
        [sys.executable, "-m", "testbed.nodecmd", str(home.root), owner, "alteon", "vip", "take"],
        check=False,
        capture_output=True,
        timeout=60,
    )
    return {"killed": owner, "taken_by": taker, "gap_s": gap, "served_again": gap < limit_s}


def run(home: Path | str, rounds: int = 100) -> dict[str, Any]:
    h = Home(home)
    topo = h.topology
    users = [u for u in read_users(h) if u["level"] != 0]
    rcpt = users[0]
    via_vip = {k: _addr(v) for k, v in client_endpoints(topo).items()}
    direct = {k: _addr(v) for k, v in direct_endpoints(topo).items()}
    smtplib.SMTP(*via_vip["smtp"], timeout=30).quit()  # fail early if nothing listens
    result: dict[str, Any] = {"rounds": rounds}
    for name, eps in (("vip", via_vip), ("fe01", direct)):
        result[f"smtp_{name}"] = timed(smtp_transaction(eps["smtp"], rcpt["address"]), rounds)
        result[f"imap_{name}"] = timed(imap_session(eps["imap"], rcpt), rounds)
    result["failover"] = failover_gap(h, via_vip["smtp"])
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"{'':<12} {'p50 ms':>8} {'p99 ms':>8}   ({result['rounds']} rounds each)"]
    for key in ("smtp_vip", "smtp_fe01", "imap_vip", "imap_fe01"):
        r = result[key]
        lines.append(f"{key:<12} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")
    f = result["failover"]
    if "error" in f:
        lines.append(f"failover     {f['error']}")
    else:
        lines.append(
            f"failover     kill -9 {f['killed']}: no service for {f['gap_s']:.2f} s, "
            f"then {f['taken_by']} served the VIP"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    rounds = 100
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    out = run(args[0] if args else ".maildrill", rounds)
    print(report(out))
    print(json.dumps(out))
