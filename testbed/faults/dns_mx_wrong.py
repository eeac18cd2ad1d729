"""dns_mx_wrong: the MX of a hosted domain points at a host where nothing listens (mode wrong) or
is gone (mode missing). Mail from the Internet for that domain cannot be delivered and queues at
the senders. The zone file on the dns node is edited in place; the server reloads it."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from typing import Literal

from testbed.components.dns.resolver import DnsError, resolve_mx
from testbed.components.dns.zones import zone_file
from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.filebackup import drop, new_key, restore_file, save_file
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(Strict):
    mode: Literal["wrong", "missing"] = "wrong"


def dead_address(topology: Topology) -> str:
    """An address of the testbed's network that no node uses."""
    return str(list(ipaddress.ip_network(topology.spec.network).hosts())[-1])


@register
class DnsMxWrong(Fault):
    name = "dns_mx_wrong"
    chapter = "dns"
    Params = Params
    description = "make a hosted domain's MX wrong (a dead host) or missing"

    def targets(self, topology: Topology) -> list[str]:
        return [d.lower() for d in topology.spec.domains]

    def default_for(self, topology: Topology) -> str | None:
        return topology.spec.domains[0].lower()

    def plan(self, ctx: FaultContext) -> Plan:
        key = new_key(f"zone-{ctx.target}")
        save_file(ctx.home, key, zone_file(ctx.home, ctx.topology, ctx.target))
        return {"key": key, "mode": ctx.params.mode}  # type: ignore[attr-defined]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        path = zone_file(ctx.home, ctx.topology, ctx.target)
        lines = path.read_text().splitlines()
        out = []
        for line in lines:
            if re.match(r"^@\s+IN\s+MX\s", line):
                if plan["mode"] == "missing":
                    continue
                line = re.sub(r"MX\s+(\d+)\s+\S+", r"MX    \1 broken-mx", line)
            out.append(line)
        if plan["mode"] == "wrong":
            out.append(f"broken-mx IN A     {dead_address(ctx.topology)}")
        path.write_text("\n".join(out) + "\n")

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        try:
            mxs = asyncio.run(resolve_mx(ctx.topology, ctx.target))
        except DnsError as exc:
            return Effect(plan["mode"] == "missing", f"MX {ctx.target}: {exc}")
        hosts = [h for h, _p in mxs]
        dead = dead_address(ctx.topology)
        if plan["mode"] == "wrong":
            return Effect(dead in hosts, f"MX {ctx.target} → {hosts}")
        # missing: the domain's A record (the VIP) answers instead, as SMTP's implicit MX rule says
        return Effect(hosts == [ctx.topology.vip], f"MX {ctx.target} → {hosts} (no MX record)")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        restore_file(ctx.home, plan["key"], zone_file(ctx.home, ctx.topology, ctx.target))

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        text = zone_file(ctx.home, ctx.topology, ctx.target).read_text()
        ok = "broken-mx" not in text and re.search(r"^@\s+IN\s+MX\s", text, re.M) is not None
        if ok:
            drop(ctx.home, plan["key"])
        return Effect(ok, "zone restored" if ok else "zone still broken")
