"""had: the cluster agent of one MSS node (the plan's Veritas Cluster Server engine).

Every ~0.5 s the agent, under the state lock (state.update_state):
  * writes its heartbeat into state["nodes"][me];
  * faults its own groups whose mss.<root> process died (no automatic restart: the plan's operator
    runs `hagrp -switch`);
  * picks up groups placed on it in state STARTING (by a failover or `hagrp -switch`) and starts
    their mss.<root> process, then marks them ONLINE, or FAULTED if the port did not come up;
  * if it is the live agent with the lowest node name, fails the groups of dead nodes over.
The decisions are pure functions over the state dict (`decide`), so they are tested without
processes. The agent listens on ports.had (RPC `status`) because the launcher's health check is a
TCP connect. On SIGTERM it exits cleanly (node EXITED) and leaves the mss processes running, like
`hastop -local -force`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed import rpc
from testbed.components.cluster.state import (
    State,
    dead_nodes,
    live_nodes,
    read_state,
    update_state,
)
from testbed.runtime import launch
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio
from testbed.topology.model import Mss

TICK_S = 0.5
START_TIMEOUT_S = 10.0
ACTIVE = ("ONLINE", "STARTING")  # group states that move with a failed node


@dataclass
class Decision:
    """What one tick decided: groups to start here, groups already starting to watch, log lines."""

    start: list[str] = field(default_factory=list)
    adopt: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    failovers: list[tuple[str, str, str]] = field(default_factory=list)  # (group, from, to)


def heartbeat(state: State, me: str, now: float) -> None:
    info = state["nodes"].setdefault(me, {})
    info["heartbeat"] = now
    info["running"] = True


def detect_faults(state: State, me: str, alive: set[str]) -> list[str]:
    """Own ONLINE groups whose process is gone become FAULTED; returns them."""
    faulted = []
    for root, group in sorted(state["groups"].items()):
        if group["node"] == me and group["state"] == "ONLINE" and root not in alive:
            group["state"] = "FAULTED"
            faulted.append(root)
    return faulted


def pending_starts(
    state: State, me: str, alive: set[str], busy: set[str]
) -> tuple[list[str], list[str]]:
    """Own STARTING groups not yet being handled: (to spawn, already running → only wait)."""
    spawn: list[str] = []
    adopt: list[str] = []
    for root, group in sorted(state["groups"].items()):
        if group["node"] == me and group["state"] == "STARTING" and root not in busy:
            (adopt if root in alive else spawn).append(root)
    return spawn, adopt


def failover_target(state: State, live: list[str], spec: Mss) -> str | None:
    """First live takeover node, else the live node running the fewest groups (then by name)."""
    for node in spec.takeover:
        if node in live:
            return node
    if not live:
        return None

    def load(node: str) -> int:
        return sum(1 for g in state["groups"].values() if g["node"] == node)

    return min(live, key=lambda n: (load(n), n))


def fail_over(state: State, me: str, now: float, spec: Mss) -> list[tuple[str, str, str]]:
    """If `me` is the live agent with the lowest name, move the active groups of dead nodes to a
    target in state STARTING (the target's agent starts them). Returns (group, from, to)."""
    live = live_nodes(state, now, spec.heartbeat_timeout)
    if not live or live[0] != me:
        return []
    moved = []
    for dead in dead_nodes(state, now, spec.heartbeat_timeout):
        for root, group in sorted(state["groups"].items()):
            if group["node"] != dead or group["state"] not in ACTIVE:
                continue
            target = failover_target(state, live, spec)
            if target is None:
                continue
            group["node"], group["state"] = target, "STARTING"
            moved.append((root, dead, target))
    return moved


def decide(
    state: State,
    me: str,
    now: float,
    alive: set[str],
    busy: set[str],
    spec: Mss,
    may_fail_over: bool = True,
) -> Decision:
    """One tick of the agent over the state (mutated in place). `alive`: mailroots whose mss
    process runs on this node; `busy`: groups this agent is already bringing online."""
    heartbeat(state, me, now)
    out = Decision(faults=detect_faults(state, me, alive | busy))
    if may_fail_over:
        out.failovers = fail_over(state, me, now, spec)
    out.start, out.adopt = pending_starts(state, me, alive, busy)
    return out


class Agent:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.me = ctx.node.name
        self.spec = ctx.topology.spec.mss
        self.started = time.monotonic()
        self.server: asyncio.Server | None = None
        self.loop_task: asyncio.Task[None] | None = None
        self.starting: dict[str, asyncio.Task[None]] = {}

    def _pid_file(self, node: str, root: str) -> Path:
        return self.ctx.home.pid_file(node, f"mss.{root}")

    def alive_roots(self) -> set[str]:
        return {
            r for r in self.ctx.topology.mailroots if launch.read_pid(self._pid_file(self.me, r))
        }

    async def start(self) -> None:
        self.server = await rpc.serve(
            self.ctx.address, self.ctx.service.port, {"status": self._status}
        )
        self._safe_tick()  # the first tick adopts what the launcher already started
        self.loop_task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        tasks = [t for t in (self.loop_task, *self.starting.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

        def leave(state: State) -> None:
            state["nodes"].setdefault(self.me, {})["running"] = False

        update_state(self.ctx.home, leave)
        self.ctx.log.info("had stopped; mss processes left running")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._safe_tick()

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # a bad state file must not kill the agent: log it, retry next tick
            self.ctx.log.exception("cluster tick failed")

    def tick(self) -> None:
        launch.reap()
        busy = set(self.starting)
        # Peers starting together need a moment to heartbeat before anyone is declared dead.
        settled = time.monotonic() - self.started >= self.spec.heartbeat_timeout
        now = time.time()
        decision: Decision = update_state(
            self.ctx.home,
            # Processes are probed under the lock: a concurrent `hagrp -switch` has finished its
            # stop before the state we read says STARTING.
            lambda s: decide(
                s, self.me, now, self.alive_roots(), busy, self.spec, may_fail_over=settled
            ),
        )
        log = self.ctx.log
        for root in decision.faults:
            log.error("group %s FAULTED on %s: process mss.%s is not running", root, self.me, root)
        for root, dead, target in decision.failovers:
            log.warning("node %s FAULTED: failing group %s over to %s", dead, root, target)
        for root in decision.start + decision.adopt:
            spawn = root in decision.start
            self.starting[root] = asyncio.create_task(self._bring_online(root, spawn))

    async def _bring_online(self, root: str, spawn: bool) -> None:
        log = self.ctx.log
        try:
            ok = False
            try:
                if spawn:
                    self._fence(root)
                    log.info("starting group %s: mss.%s on %s", root, root, self.me)
                    launch.spawn_exec(self.ctx.home, self.me, f"mss.{root}")
                ok = await self._wait_listening(root)
            except OSError as exc:
                log.error("group %s: cannot start mss.%s: %s", root, root, exc)
            if not ok:
                self._kill(self.me, root)
            self._settle(root, "ONLINE" if ok else "FAULTED")
        finally:
            self.starting.pop(root, None)

    def _settle(self, root: str, result: str) -> None:
        def change(state: State) -> bool:
            group = state["groups"].get(root)
            if group and group["node"] == self.me and group["state"] == "STARTING":
                group["state"] = result
                return True
            return False  # someone switched the group meanwhile: their decision stands

        if update_state(self.ctx.home, change):
            level = self.ctx.log.info if result == "ONLINE" else self.ctx.log.error
            level("group %s is %s on %s", root, result, self.me)

    async def _wait_listening(self, root: str) -> bool:
        port = self.ctx.topology.mss_port(root)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            launch.reap()
            if launch.read_pid(self._pid_file(self.me, root)) is None:
                return False  # the process exited: no point waiting for its port
            if await _listening(self.ctx.address, port):
                return True
            await asyncio.sleep(0.1)
        return False

    def _fence(self, root: str) -> None:
        """A failed-over group must not run on two nodes (the array would be written twice):
        kill any copy still alive elsewhere, as VCS's I/O fencing does."""
        for node in self.spec.nodes:
            if node != self.me and self._kill(node, root):
                self.ctx.log.warning("fenced mss.%s still running on %s", root, node)

    def _kill(self, node: str, root: str) -> bool:
        pid = launch.read_pid(self._pid_file(node, root))
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return True

    async def _status(self, _params: dict[str, Any]) -> dict[str, Any]:
        state = read_state(self.ctx.home)
        own = {r: g for r, g in state["groups"].items() if g["node"] == self.me}
        return {
            "node": self.me,
            "pid": os.getpid(),
            "starting": sorted(self.starting),
            "groups": own,
        }


async def _listening(host: str, port: int) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def main(ctx: ServiceContext) -> None:
    agent = Agent(ctx)
    run_asyncio(agent.start, agent.stop)
