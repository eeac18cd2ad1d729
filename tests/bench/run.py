"""`make bench`: printed figures for issue 2's targets, each beside its target (never asserted).

1. `maildrill up` with 10,000 users until every node is healthy (target <= 3 s on 2 cores).
2. Messages/s accepted and stored end to end: smtp-source, 20 sessions, 2 KB messages, inbound to
   hosted users on four mailroots, one smtp-source per front end (as the load balancer spreads
   them); beside a bare aiosmtpd sink measured in the same run (target >= 0.5 x the sink's rate). "Stored" = the front end's mail log has an OK line for every message.
3. Peak memory of all testbed processes during the load (target <= 800 MB): PSS, which counts a
   page shared by the forked services once, is the whole testbed's real resident memory; the sum
   of per-process RSS counts each shared page once per process and is printed for reference.
4. The load balancer's added latency and failover gap (lb_bench.py, issue 3).
5. `up` time and memory at rest of the docker backend beside the local one (docker_bench.py,
   issue 6), when a Docker engine and the node image are there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

NETWORK = "127.0.40.0/24"
SINK = ("127.0.41.1", 2525)
MESSAGES = 2000
SESSIONS = 20
SIZE = 2048
USERS = 10_000


def run(
    cmd: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=True)


def smtp_source(targets: list[tuple[str, int]], rcpts: list[str], total: int) -> float:
    """Send `total` messages over SESSIONS sessions split across one smtp-source per recipient,
    the recipients' senders spread over `targets` (the front ends, as the load balancer would)."""
    per = total // len(rcpts)
    sessions = max(SESSIONS // len(rcpts), 1)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                "smtp-source",
                "-s",
                str(sessions),
                "-l",
                str(SIZE),
                "-m",
                str(per),
                "-f",
                "load@example.net",
                "-t",
                rcpt,
                "-d",
                "{}:{}".format(*targets[i % len(targets)]),
            ],
            stdout=subprocess.DEVNULL,
        )
        for i, rcpt in enumerate(rcpts)
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"smtp-source failed ({p.returncode})")
    return time.perf_counter() - start


def sink_rate(rcpts: list[str]) -> float:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sink.py")), *map(str, SINK)]
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(SINK, timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        elapsed = smtp_source([SINK], rcpts, MESSAGES)
    finally:
        proc.terminate()
        proc.wait()
    return (MESSAGES // len(rcpts)) * len(rcpts) / elapsed


class MemoryWatch(threading.Thread):
    """Samples the summed RSS and PSS of every testbed process until stopped; keeps the peaks."""

    def __init__(self, home: str) -> None:
        super().__init__(daemon=True)
        self.home, self.peak_rss, self.peak_pss, self.count = home, 0, 0, 0
        self.stop = threading.Event()

    def sample(self) -> None:
        rss = pss = n = 0
        for pid_file in Path(self.home).glob("nodes/*/var/run/*.pid"):
            try:
                proc = psutil.Process(int(pid_file.read_text().split()[0]))
                info = proc.memory_full_info()
                rss, pss, n = rss + info.rss, pss + info.pss, n + 1
            except (psutil.Error, OSError, ValueError, IndexError):
                continue
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.count = max(self.count, n)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.5)


def ok_lines(home: Path) -> int:
    total = 0
    for log in home.glob("nodes/fe*/var/log/maillog"):
        with log.open() as f:
            total += sum(1 for line in f if ")OK" in line and "from=<load@example.net>" in line)
    return total


def main() -> None:
    if not shutil.which("smtp-source"):
        raise SystemExit("smtp-source not found: `make deps` installs postfix's tools")
    work = Path(tempfile.mkdtemp(prefix="maildrill-bench-"))
    home = work / "home"
    env = {**os.environ, "MAILDRILL_HOME": str(home)}
    topo = work / "topology.yaml"
    topo.write_text(yaml.safe_dump({"network": NETWORK}))
    cli = [sys.executable, "-m", "testbed.cli"]
    try:
        start = time.perf_counter()
        out = run([*cli, "up", "--topology", str(topo), "--users", str(USERS)], env).stdout
        up_s = time.perf_counter() - start
        print(f"up with {USERS} users until healthy: {up_s:.2f} s  (target <= 3 s)")
        print("   " + out.strip().splitlines()[-1])

        users = json.loads(run([*cli, "users", "--class", "regular", "--json"], env).stdout)
        rcpts, roots = [], set()
        for u in users:
            if u["mailroot"] not in roots and u["level"] != 0:
                roots.add(u["mailroot"])
                rcpts.append(u["address"])
        rcpts = rcpts[:4]  # four mailroots on both MSS nodes; one smtp-source per front end
        topology = json.loads((home / "topology.json").read_text())
        smtp_port = topology["spec"]["ports"]["smtp"]
        fronts = [
            (n["address"], smtp_port) for n in topology["nodes"].values() if n["role"] == "frontend"
        ]

        watch = MemoryWatch(str(home))
        watch.start()
        sent = (MESSAGES // len(rcpts)) * len(rcpts)
        start = time.perf_counter()
        accept_s = smtp_source(fronts, rcpts, MESSAGES)
        deadline = time.monotonic() + 300
        while ok_lines(home) < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        stored_s = time.perf_counter() - start
        watch.stop.set()
        watch.join()
        stored = ok_lines(home)
        sink = sink_rate(rcpts)
        mta = stored / stored_s
        print(
            f"accepted {sent} x {SIZE} B over {SESSIONS} sessions in {accept_s:.2f} s "
            f"({sent / accept_s:.0f}/s); stored {stored} in {stored_s:.2f} s"
        )
        print(
            f"end to end: {mta:.0f} msg/s; bare aiosmtpd sink: {sink:.0f} msg/s; "
            f"ratio {mta / sink:.2f}  (target >= 0.5)"
        )
        print(
            f"peak resident memory of the testbed ({watch.count} processes): "
            f"{watch.peak_pss / 2**20:.0f} MB PSS  (target <= 800 MB); "
            f"summed per-process RSS {watch.peak_rss / 2**20:.0f} MB counts shared pages repeatedly"
        )
        print("load balancer (issue 3): latency added by the VIP path, and the failover gap")
        sys.path.insert(0, str(Path(__file__).parent))
        import lb_bench

        print("   " + lb_bench.report(lb_bench.run(home, rounds=100)).replace("\n", "\n   "))
    finally:
        subprocess.run([*cli, "down"], env=env, capture_output=True, timeout=120)
    try:
        import docker_bench

        print("backends (issue 6): a fresh testbed on each, one after the other")
        print("   " + docker_bench.report(work, USERS).replace("\n", "\n   "))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
