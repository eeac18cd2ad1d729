"""Link faults between nodes, applied in the testbed's own connection layer.

This machine's kernel has neither netem nor iptables, so a link cannot be shaped in the kernel.
Instead every connection a testbed process makes to another node goes through a gate here: the
internal RPC (front end → UAS → database, front end → MAPI server → mss), the MTA's SMTP relay,
DNS queries, and the load balancer for client ↔ VIP traffic. The effects are real for the peers:
a partitioned link times out, a reset link raises ECONNRESET, latency/loss/bandwidth delay the bytes.

Rules live in <home>/faults/links.json, written only by link faults (testbed/faults/link_*.py):

    {"rules": [{"id": "f-1", "src": "fe01", "dst": "uas0", "kind": "latency",
                "latency": 0.2, "jitter": 0.05, "loss": 0.0, "rate": 0, "probability": 1.0,
                "both": true}]}

src/dst are node names, "vip" (the service VIP), "client" (anything outside the topology) or "*".
Each process re-reads the file only when its mtime changes, so the check costs one stat().
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RTO_S = 0.2  # TCP's minimum retransmission timeout: what one lost segment costs
PARTITION_WAIT_S = 3600.0  # a partitioned connect never completes; the caller's timeout fires


@dataclass
class Rule:
    id: str
    src: str
    dst: str
    kind: str  # latency | loss | reset | partition | bandwidth
    latency: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    rate: float = 0.0  # bytes per second (bandwidth)
    probability: float = 1.0
    both: bool = True

    def matches(self, src: str, dst: str) -> bool:
        def one(a: str, b: str) -> bool:
            return self.src in ("*", a) and self.dst in ("*", b)

        return one(src, dst) or (self.both and one(dst, src))


def rules_path(home_root: Path) -> Path:
    return home_root / "faults" / "links.json"


def write_rules(home_root: Path, rules: list[dict[str, Any]]) -> None:
    path = rules_path(home_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".links.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"rules": rules}, indent=1))
    os.replace(tmp, path)


def read_rules(home_root: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(rules_path(home_root).read_text())["rules"])
    except (FileNotFoundError, ValueError, KeyError):
        return []


class Links:
    """One per process: which node am I, which node is an address, which rules apply."""

    def __init__(self) -> None:
        self.home_root: Path | None = None
        self.me = "client"
        self.nodes: dict[str, str] = {}  # address → node name ("vip" for the VIP)
        self._mtime = -1
        self._rules: list[Rule] = []
        self.rng = random.Random()

    def configure(self, home_root: Path, me: str, addresses: dict[str, str]) -> None:
        self.home_root, self.me, self.nodes = home_root, me, addresses

    def _current(self) -> list[Rule]:
        if self.home_root is None:
            return []
        try:
            mtime = os.stat(rules_path(self.home_root)).st_mtime_ns
        except FileNotFoundError:
            self._mtime, self._rules = -1, []
            return []
        if mtime != self._mtime:
            self._mtime = mtime
            self._rules = [Rule(**r) for r in read_rules(self.home_root)]
        return self._rules

    def active(self, address: str, src: str | None = None) -> list[Rule]:
        rules = self._current()
        if not rules:
            return []
        dst = self.nodes.get(address, "client")
        src = src or self.me
        return [r for r in rules if r.matches(src, dst) and self.rng.random() < r.probability]

    def delay(self, rules: list[Rule], size: int = 0) -> float:
        """Seconds one exchange of `size` bytes takes on top of loopback."""
        total = 0.0
        for r in rules:
            if r.kind == "latency":
                total += max(0.0, r.latency + self.rng.uniform(-r.jitter, r.jitter))
            elif r.kind == "loss":
                rto = RTO_S
                while self.rng.random() < r.loss and rto < 60:  # each loss: wait, retransmit
                    total += rto
                    rto *= 2
            elif r.kind == "bandwidth" and r.rate > 0:
                total += size / r.rate
        return total

    @staticmethod
    def refuse(rules: list[Rule]) -> None:
        for r in rules:
            if r.kind == "reset":
                raise ConnectionResetError(104, "Connection reset by peer")

    async def before_connect(self, address: str) -> list[Rule]:
        rules = self.active(address)
        if rules:
            if any(r.kind == "partition" for r in rules):
                await asyncio.sleep(PARTITION_WAIT_S)  # the SYN is never answered
            self.refuse(rules)
            await asyncio.sleep(self.delay(rules))
        return rules

    async def exchange(self, rules: list[Rule], size: int) -> None:
        if rules:
            self.refuse(rules)
            await asyncio.sleep(self.delay(rules, size))

    def before_connect_sync(self, address: str, timeout: float | None) -> list[Rule]:
        """For blocking clients (smtplib in a thread)."""
        rules = self.active(address)
        if rules:
            if any(r.kind == "partition" for r in rules):
                time.sleep(timeout if timeout is not None else PARTITION_WAIT_S)
                raise TimeoutError(110, "Connection timed out")
            self.refuse(rules)
            time.sleep(self.delay(rules))
        return rules


LINKS = Links()


def configure_process(home_root: Path, node: str, topology: Any) -> None:
    """Called once at a service's start: who we are, and the address book of the topology."""
    addresses = {n.address: n.name for n in topology.nodes.values()}
    addresses[topology.vip] = "vip"
    LINKS.configure(home_root, node, addresses)
