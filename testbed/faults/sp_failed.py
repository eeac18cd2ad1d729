"""sp_failed: one of the disk array's two storage processors fails. The array stays served — every
LUN moves to the surviving processor — but degraded: each I/O takes longer (`delay`). The plan's
disk-array chapter starts from "is the array still serving?"; this fault is the case where it is,
and the right response is to watch and call the vendor, not to migrate mailroots."""

from __future__ import annotations

import time

from pydantic import Field

from testbed.components import array
from testbed.faults import clients
from testbed.faults.array_offline import a_mailroot
from testbed.faults.base import Duration, Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(Strict):
    delay: Duration = Field(array.SP_DELAY_S, gt=0, le=5, description="added to every I/O")


@register
class SpFailed(Fault):
    name = "sp_failed"
    chapter = "disk_array"
    Params = Params
    default_target = "spb"
    description = "a storage processor of the array fails (target spa|spb): served, but slower"

    def targets(self, topology: Topology) -> list[str]:
        return list(array.STORAGE_PROCESSORS)

    def plan(self, ctx: FaultContext) -> Plan:
        failed = list(array.read_array(ctx.home).get("sp_failed") or [])
        return {"before": failed, "delay": ctx.params.delay}  # type: ignore[attr-defined]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        array.set_failed_processors(ctx.home, [*plan["before"], ctx.target], plan["delay"])

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        root = a_mailroot(ctx)
        if root is None:
            return Effect(False, "no ONLINE mailroot to probe")
        started = time.monotonic()
        got = clients.mailbox(ctx, root, write=True)
        took = time.monotonic() - started
        return Effect(
            got == "ok" and took >= plan["delay"],
            f"MAPIc write on {root}: {got} in {took * 1000:.0f} ms (degraded, still served)",
        )

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        if ctx.home.array_root.joinpath("state.json").exists():
            array.set_failed_processors(ctx.home, [p for p in plan["before"] if p != ctx.target])

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        failed = array.read_array(ctx.home).get("sp_failed") or []
        return Effect(ctx.target not in failed, f"failed storage processors: {failed or 'none'}")
