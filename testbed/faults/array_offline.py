"""array_offline: the shared disk array stops serving (disks, storage processors, power). Every
MSS gets I/O errors (EIO); MAPIc answers io_error. The data stays on the array."""

from __future__ import annotations

from testbed.components import array
from testbed.components.cluster.state import read_state
from testbed.faults import clients
from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan
from testbed.faults.registry import register
from testbed.topology.model import Topology


def a_mailroot(ctx: FaultContext, node: str | None = None) -> str | None:
    """A mailroot the cluster runs (on `node`, if given), ONLINE, to probe through MAPIc."""
    for root, group in sorted(read_state(ctx.home)["groups"].items()):
        if group["state"] == "ONLINE" and (node is None or group["node"] == node):
            return str(root)
    return None


class ArrayStatusFault(Fault):
    """Sets the array's status; revert puts it back online."""

    chapter = "disk_array"
    default_target = "array0"  # the plan's name; default_for() follows the topology
    status = "offline"
    write_probe = False  # probe with a write (a read-only array still serves reads)
    symptom = "io_error"

    def targets(self, topology: Topology) -> list[str]:
        return [topology.spec.array.name]

    def default_for(self, topology: Topology) -> str | None:
        return topology.spec.array.name

    def plan(self, ctx: FaultContext) -> Plan:
        before = array.read_array(ctx.home)["status"]
        if before != "online":
            raise FaultError(f"the array {ctx.target} is already {before}; nothing to break")
        return {"before": before}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        array.set_status(ctx.home, self.status)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        root = a_mailroot(ctx)
        if root is None:
            return Effect(False, "no ONLINE mailroot to probe")
        got = clients.mailbox(ctx, root, write=self.write_probe)
        how = "write" if self.write_probe else "read"
        return Effect(got == self.symptom, f"MAPIc {how} on {root}: {got}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        if ctx.home.array_root.joinpath("state.json").exists():
            array.set_status(ctx.home, "online")

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        now = array.read_array(ctx.home)["status"]
        return Effect(now == "online", f"array {now}")


@register
class ArrayOffline(ArrayStatusFault):
    name = "array_offline"
    description = "take the disk array offline: every mailbox access gets an I/O error"
