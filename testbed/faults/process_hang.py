"""process_hang: SIGSTOP one service: it still accepts connections (the kernel does that) but never
answers, so clients time out. Revert: SIGCONT. Target node/service."""

from __future__ import annotations

import signal

from testbed.faults import procs
from testbed.faults.base import Effect, Fault, FaultContext, Plan
from testbed.faults.process_kill import service_targets, split_target
from testbed.faults.registry import register
from testbed.topology.model import Topology

ATTEMPTS = 6  # a pool on one port (SO_REUSEPORT) spreads connections: one of them must hang


@register
class ProcessHang(Fault):
    name = "process_hang"
    description = "SIGSTOP one service (node/service): connections hang until revert (SIGCONT)"

    def targets(self, topology: Topology) -> list[str]:
        return service_targets(topology)

    def plan(self, ctx: FaultContext) -> Plan:
        svc = split_target(ctx.target)
        procs.require_running(ctx, [svc])
        return {"services": [list(svc)]}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        procs.signal_all(ctx, [split_target(ctx.target)], signal.SIGSTOP)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        address, port = procs.endpoint(ctx, *split_target(ctx.target))
        for _ in range(ATTEMPTS):
            if procs.hangs(address, port):
                return Effect(True, f"{address}:{port} accepts but does not answer (timeout)")
        return Effect(False, f"{address}:{port} still answers")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        # Also in teardown: a stopped process cannot even act on the SIGTERM of `down`.
        procs.signal_all(ctx, [split_target(ctx.target)], signal.SIGCONT)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        pid = procs.running(ctx).get(split_target(ctx.target))
        if pid is None:
            return Effect(True, "process gone (nothing left stopped)")
        if procs.stopped(pid):
            return Effect(False, f"pid {pid} still stopped")
        return Effect(True, f"pid {pid} running")
