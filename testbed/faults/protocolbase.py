"""What the protocol faults share: a rule in <home>/faults/protocol/<component>.json that the
component applies at one stage of its protocol (see testbed/faultpoints.py); revert removes it."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from testbed.faultpoints import read_rules, write_rules
from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.doctor import register_repair
from testbed.home import Home
from testbed.topology.model import Topology


class ProtocolParams(Strict):
    probability: float = Field(1.0, ge=0.0, le=1.0, description="share of requests affected")


class ProtocolFault(Fault):
    component = ""  # mta | uas | mapis
    default_target = "all"

    def nodes(self, topology: Topology) -> list[str]:
        raise NotImplementedError

    def targets(self, topology: Topology) -> list[str]:
        return ["all", *self.nodes(topology)]

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        """The component's view of this fault: stage, and what to answer."""
        raise NotImplementedError

    def plan(self, ctx: FaultContext) -> Plan:
        nodes = ["*"] if ctx.target == "all" else [ctx.target]
        rule = {
            "id": f"proto-{uuid.uuid4().hex[:8]}",
            "nodes": nodes,
            "probability": float(getattr(ctx.params, "probability", 1.0)),
            **self.rule(ctx),
        }
        return {"component": self.component, "rule": rule}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        rules = [
            r for r in read_rules(ctx.home.root, self.component) if r["id"] != plan["rule"]["id"]
        ]
        write_rules(ctx.home.root, self.component, [*rules, plan["rule"]])

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        rules = read_rules(ctx.home.root, self.component)
        kept = [r for r in rules if r["id"] != plan["rule"]["id"]]
        if len(kept) != len(rules):
            write_rules(ctx.home.root, self.component, kept)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        left = any(r["id"] == plan["rule"]["id"] for r in read_rules(ctx.home.root, self.component))
        return Effect(not left, "rule still present" if left else "rule removed")


@register_repair
def clear_protocol_rules(home: Home, teardown: bool) -> list[str]:
    """Runs after the ledger's reverts: any protocol rule still there belongs to no fault."""
    folder = home.root / "faults" / "protocol"
    repaired = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        left = read_rules(home.root, path.stem)
        if left:
            write_rules(home.root, path.stem, [])
            repaired += [f"removed {path.stem} protocol rule {r.get('id')}" for r in left]
    return repaired
