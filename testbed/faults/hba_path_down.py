"""hba_path_down: one MSS node loses its fibre path (HBA) to the array: that node's mss processes
get EIO, its /dev/clsp* devices vanish; the other nodes are unaffected. Target: the MSS node."""

from __future__ import annotations

from testbed.components import array
from testbed.faults import clients
from testbed.faults.array_offline import a_mailroot
from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan
from testbed.faults.registry import register
from testbed.topology.model import Topology


@register
class HbaPathDown(Fault):
    name = "hba_path_down"
    chapter = "disk_array"
    description = "cut one MSS node's path to the disk array: its mailroots get I/O errors"

    def targets(self, topology: Topology) -> list[str]:
        return list(topology.spec.mss.nodes)

    def plan(self, ctx: FaultContext) -> Plan:
        path = array.read_array(ctx.home)["paths"].get(ctx.target, "up")
        if path != "up":
            raise FaultError(f"the path from {ctx.target} to the array is already {path}")
        return {"node": ctx.target}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        array.set_path(ctx.home, ctx.target, up=False)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        root = a_mailroot(ctx, ctx.target)
        path = array.read_array(ctx.home)["paths"].get(ctx.target)
        if root is None:  # nothing runs there now: the broken path shows once something does
            return Effect(path == "down", f"no mailroot on {ctx.target}; path {path}")
        got = clients.mailbox(ctx, root)
        return Effect(got == "io_error", f"MAPIc read on {root} ({ctx.target}): {got}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        if ctx.home.array_root.joinpath("state.json").exists():
            array.set_path(ctx.home, ctx.target, up=True)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        path = array.read_array(ctx.home)["paths"].get(ctx.target, "up")
        return Effect(path == "up", f"path {ctx.target} {path}")
