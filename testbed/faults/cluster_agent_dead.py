"""cluster_agent_dead: the cluster agent (had) of one MSS node is dead and the cluster will not
fail that node over by itself: the node counts as EXITED, as after `hastop -local -force`. Its
mss processes keep serving; if the node then dies too, its mailroots stay down until an operator
runs `hagrp -switch` (the plan's "cluster agent dead, no automatic failover")."""

from __future__ import annotations

import time

from testbed.components.cluster.state import read_state, system_state, update_state
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.killbase import KillFault
from testbed.faults.procs import Svc, kill_together
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class ClusterAgentDead(KillFault):
    name = "cluster_agent_dead"
    chapter = "mss"
    description = "kill had on an MSS node; the cluster does not fail that node over by itself"

    def targets(self, topology: Topology) -> list[str]:
        return list(topology.spec.mss.nodes)

    def candidates(self, ctx: FaultContext) -> list[Svc]:
        return [(ctx.target, "had")]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        kill_together(ctx, [(ctx.target, "had")])

        # Right after the kill, well inside the heartbeat timeout, so no peer fails it over.
        def exited(state: dict[str, dict[str, dict[str, object]]]) -> None:
            state["nodes"].setdefault(ctx.target, {})["running"] = False

        update_state(ctx.home, exited)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        refused = super().check(ctx, plan)
        info = read_state(ctx.home)["nodes"].get(ctx.target)
        state = system_state(info, time.time(), ctx.topology.spec.mss.heartbeat_timeout)
        return Effect(refused.ok and state == "EXITED", f"{refused.detail}; hastatus: {state}")
