"""crash_loop: a service dies at every start while the fault is on (a broken binary or config).
A marker file in the node's var/run (see testbed.runtime.launch.crash_marker) makes the launcher
exit at once; the fault kills the running process too. Revert removes the marker and starts it."""

from __future__ import annotations

from testbed.errors import MaildrillError
from testbed.faults import procs
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.killbase import KillFault, services_of
from testbed.faults.process_kill import service_targets, split_target
from testbed.faults.procs import Svc
from testbed.faults.registry import register
from testbed.runtime.launch import crash_marker
from testbed.topology.model import Topology


@register
class CrashLoop(KillFault):
    name = "crash_loop"
    description = "the service (node/service) crashes at every start until revert"

    def targets(self, topology: Topology) -> list[str]:
        return service_targets(topology)

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [split_target(ctx.target)]

    def plan(self, ctx: FaultContext) -> Plan:
        plan = super().plan(ctx)
        plan["marker"] = str(crash_marker(ctx.home, *split_target(ctx.target)))
        return plan

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        marker = crash_marker(ctx.home, *split_target(ctx.target))  # under the home, always
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("crash_loop fault: exit at start\n")
        super().inject(ctx, plan)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        dead = super().check(ctx, plan)
        if not dead.ok:
            return dead
        node, service = split_target(ctx.target)
        try:  # what a supervisor or an operator would try: it must die again
            ctx.backend.start(node, service)
        except MaildrillError:
            return Effect(True, f"{dead.detail}; a restart of {node}/{service} crashed")
        return Effect(False, f"{node}/{service} started although crash_loop is on")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        crash_marker(ctx.home, *split_target(ctx.target)).unlink(missing_ok=True)
        procs.start_missing(ctx, services_of(plan))
