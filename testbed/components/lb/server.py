"""One load balancer unit (the plan's Alteon 184a/184b, or the cold 180e).

Every unit health-checks the back ends and answers RPC on its own management port (lb_ctl):
`status`, `take` (move the VIP here) and `release` (hand it to another running unit). The unit
that <home>/lb/state.json names as owner binds the VIP on every service port and proxies; the others
watch the owner over RPC and take the VIP over when it has been silent for 2–3 health intervals
(compare-and-set on the state file, so only one wins). There is no preemption: a unit that comes
back while another holds the VIP stays standby until `alteon vip take` moves the VIP to it.
Binding is retried every tick, because a dead owner's listening sockets may linger a moment (and a
hung, SIGSTOPped owner keeps them until it is killed or resumed - which is what a real hung unit
still answering ARP would do too).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from testbed import rpc
from testbed.components.lb import vipaddr
from testbed.components.lb.config import LbConfig, load_config
from testbed.components.lb.health import HealthMonitor
from testbed.components.lb.proxy import MAX_HEAD, Proxy
from testbed.components.lb.state import read_state, set_owner
from testbed.errors import RemoteError, ServiceUnavailable
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio

MOVE_TIMEOUT_S = 10.0  # how long `take`/`release` wait for the VIP to move before answering
STARTUP_HOLD_S = 15.0  # a booting standby waits this long for a named owner it never heard


class Unit:
    def __init__(self, ctx: ServiceContext, cfg: LbConfig) -> None:
        self.home, self.log, self.cfg = ctx.home, ctx.log, cfg
        self.me = cfg.unit
        self.health = HealthMonitor(cfg, ctx.log)
        self.proxy = Proxy(cfg, self.health, ctx.log)
        self.listeners: dict[str, asyncio.Server] = {}
        self.bind_errors: dict[str, str] = {}
        self.released = False  # the VIP address checked off this unit's interface once
        self.owner: str | None = None
        self.owner_seen = time.monotonic()  # last time the owner answered (or became owner)
        self.started = time.monotonic()
        self.owner_answered = False  # has the owner answered this unit even once?
        self.last_probe = 0.0
        self.wake = asyncio.Event()
        self.tick = min(0.2, cfg.interval / 4)
        self._ctl: asyncio.Server | None = None
        self._loop: asyncio.Task[None] | None = None

    # --- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._step()  # an owner binds the VIP before `up` sees its control port open
        self._ctl = await rpc.serve(
            self.cfg.ctl[0],
            self.cfg.ctl[1],
            {"status": self.rpc_status, "take": self.rpc_take, "release": self.rpc_release},
        )
        self.health.start()
        self._loop = asyncio.create_task(self._control())
        self.log.info("unit %s up (%s), VIP %s", self.me, self.role, self.cfg.vip)

    async def stop(self) -> None:
        if self._loop:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        if self._ctl:
            self._ctl.close()
        await self._unbind()
        await self.proxy.stop()
        await self.health.stop()

    async def _control(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:  # noqa: BLE001 - the unit must outlive any one bad step
                self.log.exception("control step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.tick)
            self.wake.clear()

    async def _step(self) -> None:
        owner = read_state(self.home).get("owner")
        if owner != self.owner:
            self.log.info("VIP owner is now %s", owner)
            self.owner, self.owner_seen = owner, time.monotonic()
        if owner == self.me:
            await self._bind()
            return
        await self._unbind()
        await self._watch(owner)

    # --- the VIP -----------------------------------------------------------------------------
    @property
    def holds_vip(self) -> bool:
        return len(self.listeners) == len(self.cfg.groups)

    @property
    def role(self) -> str:
        return "ACTIVE" if self.owner == self.me else "STANDBY"

    async def _bind(self) -> None:
        if not self.listeners:
            problem = vipaddr.claim(self.cfg.vip)
            if problem:
                self.log.warning("cannot hold the VIP %s yet: %s", self.cfg.vip, problem)
        for group in self.cfg.groups:
            if group.name in self.listeners:
                continue
            try:
                self.listeners[group.name] = await asyncio.start_server(
                    self.proxy.handler(group),
                    self.cfg.vip,
                    group.port,
                    reuse_address=True,
                    limit=MAX_HEAD,
                )
            except OSError as exc:
                if self.bind_errors.get(group.name) != str(exc):
                    self.log.warning("cannot bind %s:%d yet: %s", self.cfg.vip, group.port, exc)
                self.bind_errors[group.name] = str(exc)
                continue
            self.bind_errors.pop(group.name, None)
            if self.holds_vip:
                self.log.info("VIP %s bound on every port: serving", self.cfg.vip)

    async def _unbind(self) -> None:
        if not self.listeners:
            if not self.released:
                vipaddr.release(self.cfg.vip)  # left on the interface by a crashed earlier run
                self.released = True
            return
        vipaddr.release(self.cfg.vip)
        for server in self.listeners.values():
            server.close()  # sessions already proxied run on to their natural end
        self.listeners.clear()
        self.bind_errors.clear()
        self.log.info("VIP %s released", self.cfg.vip)

    async def _watch(self, owner: str | None) -> None:
        """A standby's duty: probe the owner once per interval; take over after its silence."""
        now = time.monotonic()
        if owner in self.cfg.peers and now - self.last_probe >= self.cfg.interval:
            self.last_probe = now
            try:
                await rpc.call(self.cfg.peers[owner], "status", timeout=self.cfg.interval)
                self.owner_seen = time.monotonic()
                self.owner_answered = True
                return
            except (ServiceUnavailable, RemoteError):
                pass
        silent = time.monotonic() - self.owner_seen
        if self._booting(owner):
            return
        if owner is None or owner not in self.cfg.peers or silent >= self.cfg.takeover_after:
            if self.cfg.cold and await self._other_unit_alive(owner):
                return  # the backup unit only steps in when no primary can
            why = f"{owner} silent for {silent:.1f} s" if owner else "no unit holds the VIP"
            if set_owner(self.home, self.me, f"{self.me} takeover: {why}", expect=owner):
                self.log.warning("taking over the VIP: %s", why)
                self.wake.set()

    def _booting(self, owner: str | None) -> bool:
        """Primaries boot together, and on a loaded machine (containers starting side by side)
        the owner may answer seconds after its standby: a standby that has not yet heard from a
        named owner holds off for STARTUP_HOLD_S, as a real unit's startup hold timer does. The
        cold unit is exempt: it is started on purpose, when the primaries are gone."""
        if self.cfg.cold or self.owner_answered or owner not in self.cfg.peers:
            return False
        return time.monotonic() - self.started < STARTUP_HOLD_S

    async def _other_unit_alive(self, owner: str | None) -> bool:
        for name, addr in self.cfg.peers.items():
            if name in (self.me, owner):
                continue
            try:
                await rpc.call(addr, "status", timeout=self.cfg.interval)
                return True
            except (ServiceUnavailable, RemoteError):
                continue
        return False

    async def _wait(self, done: Callable[[], bool]) -> bool:
        end = time.monotonic() + MOVE_TIMEOUT_S
        while not done() and time.monotonic() < end:
            self.wake.set()
            await asyncio.sleep(0.05)
        return bool(done())

    # --- RPC ---------------------------------------------------------------------------------
    async def rpc_status(self, _params: dict[str, Any]) -> dict[str, Any]:
        backends = self.health.snapshot()
        for b in backends:
            b["connections"] = sum(
                n for r, n in self.proxy.conns.items() if (r.node, r.port) == (b["node"], b["port"])
            )
        return {
            "unit": self.me,
            "pid": os.getpid(),
            "cold": self.cfg.cold,
            "role": self.role,
            "vip": self.cfg.vip,
            "owner": self.owner,
            "vip_bound": self.holds_vip,
            "bound_ports": sorted(g.port for g in self.cfg.groups if g.name in self.listeners),
            "bind_errors": dict(self.bind_errors),
            "interval": self.cfg.interval,
            "backends": backends,
        }

    async def rpc_take(self, _params: dict[str, Any]) -> dict[str, Any]:
        set_owner(self.home, self.me, f"{self.me}: alteon vip take")
        self.log.warning("told to take the VIP")
        await self._wait(lambda: self.owner == self.me and self.holds_vip)
        return await self.rpc_status({})

    async def rpc_release(self, _params: dict[str, Any]) -> dict[str, Any]:
        if read_state(self.home).get("owner") != self.me:
            raise RemoteError("not_owner", f"{self.me} does not hold the VIP")
        for name, addr in self.cfg.peers.items():
            if name == self.me:
                continue
            try:
                await rpc.call(addr, "status", timeout=1.0)
            except (ServiceUnavailable, RemoteError):
                continue
            if set_owner(self.home, name, f"{self.me}: alteon vip release", expect=self.me):
                self.log.warning("VIP handed to %s", name)
                await self._wait(lambda: not self.listeners)
                return await self.rpc_status({})
        raise RemoteError("no_peer", "no other unit is running to take the VIP over")


def main(ctx: ServiceContext) -> None:
    unit = Unit(ctx, load_config(ctx.home, ctx.node.name))
    run_asyncio(unit.start, unit.stop)
