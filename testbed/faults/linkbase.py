"""What the link faults share (link_latency, link_loss, link_reset, link_partition, link_bandwidth).

Target: "A<->B" (both directions) or "A->B" (A's connections to B), where A and B are node names,
"vip" (the service VIP), "client" (users outside the platform) or "*". The fault adds a rule to
<home>/faults/links.json, which every testbed process applies to its own connections (see
testbed/netem.py for why this is not done in the kernel); revert removes exactly that rule.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

from pydantic import Field

from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan, Strict
from testbed.faults.doctor import register_repair
from testbed.home import Home
from testbed.netem import Links, read_rules, write_rules
from testbed.runtime.registry import backend_for
from testbed.topology.model import Topology

ENDS = ("vip", "client", "*")


class LinkParams(Strict):
    probability: float = Field(1.0, ge=0.0, le=1.0, description="share of connections affected")


def parse_target(topology: Topology, target: str) -> tuple[str, str, bool]:
    both = "<->" in target
    src, sep, dst = target.partition("<->" if both else "->")
    names = [*topology.nodes, *ENDS]
    if not sep or src not in names or dst not in names or src == dst:
        raise FaultError(
            f"link target {target!r}: use A<->B or A->B with A, B among: {', '.join(names)}"
        )
    return src, dst, both


class LinkFault(Fault):
    chapter = "network"
    kind = ""
    Params = LinkParams
    default_target = "client<->vip"

    def targets(self, topology: Topology) -> list[str]:
        fe = topology.frontends[0].name
        return [
            "client<->vip",
            f"{fe}<->{topology.spec.uas.nodes[0]}",
            f"{fe}->{topology.spec.mss.nodes[0]}",
            "A<->B / A->B for any two nodes",
        ]

    def check_target(self, topology: Topology, target: str | None) -> str:
        target = target or self.default_target
        parse_target(topology, target)
        return target

    def rule(self, ctx: FaultContext) -> dict[str, object]:
        src, dst, both = parse_target(ctx.topology, ctx.target)
        params = ctx.params.model_dump()
        return {
            "id": f"link-{uuid.uuid4().hex[:8]}",
            "src": src,
            "dst": dst,
            "kind": self.kind,
            "both": both,
            **params,
        }

    def plan(self, ctx: FaultContext) -> Plan:
        rule = self.rule(ctx)
        # in the kernel where the backend can (docker: iptables); the processes' gates otherwise
        return {"rule": rule, "kernel": ctx.backend.link_in_kernel(rule)}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        if plan.get("kernel"):
            ctx.backend.set_kernel_link(plan["rule"], True)
            return
        rules = [r for r in read_rules(ctx.home.root) if r["id"] != plan["rule"]["id"]]
        write_rules(ctx.home.root, [*rules, plan["rule"]])

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        if plan.get("kernel"):
            ctx.backend.set_kernel_link(plan["rule"], False)
            return
        rules = read_rules(ctx.home.root)
        kept = [r for r in rules if r["id"] != plan["rule"]["id"]]
        if len(kept) != len(rules):
            write_rules(ctx.home.root, kept)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        rule_id = plan["rule"]["id"]
        if plan.get("kernel"):
            left = rule_id in ctx.backend.kernel_links()
        else:
            left = any(r["id"] == rule_id for r in read_rules(ctx.home.root))
        return Effect(not left, "rule still present" if left else "rule removed")

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        """Connect over the faulted link as its source end would, and time the exchange."""
        src, dst, _both = parse_target(ctx.topology, ctx.target)
        address, port = _endpoint(ctx.topology, dst)
        if address is None:
            return Effect(True, f"rule active for {src}->{dst} (no single endpoint to probe)")
        if plan.get("kernel"):
            outcome, seconds = _probe_from(ctx, src, address, port)
            return Effect(
                self.symptom(outcome, seconds, ctx),
                f"{src}->{dst} {address}:{port} (iptables): {outcome} after {seconds * 1000:.0f} ms",
            )
        links = Links()
        names = {n.address: n.name for n in ctx.topology.nodes.values()}
        names[ctx.topology.vip] = "vip"
        links.configure(ctx.home.root, src if src not in ("*",) else "client", names)
        outcome, seconds = asyncio.run(_probe(links, address, port))
        return Effect(
            self.symptom(outcome, seconds, ctx),
            f"{src}->{dst} {address}:{port}: {outcome} after {seconds * 1000:.0f} ms",
        )

    def symptom(self, outcome: str, seconds: float, ctx: FaultContext) -> bool:
        return outcome != "ok"


def _endpoint(topology: Topology, end: str) -> tuple[str | None, int]:
    if end == "vip":
        return topology.vip, topology.spec.ports.smtp
    if end in topology.nodes and topology.nodes[end].services:
        node = topology.nodes[end]
        return node.address, node.services[0].port
    return None, 0


PROBE = """
import socket, sys, time
start = time.monotonic()
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as sock:
        sock.settimeout(3)
        sock.sendall(b"NOOP\\r\\n")
        sock.recv(1)
    outcome = "ok"
except TimeoutError:
    outcome = "timeout"
except (ConnectionResetError, ConnectionRefusedError):
    outcome = "reset"
except OSError as exc:
    outcome = "error " + str(exc.strerror or exc)
print(outcome, time.monotonic() - start)
"""


def _probe_from(ctx: FaultContext, node: str, address: str, port: int) -> tuple[str, float]:
    """The exchange made on the source node itself (its network namespace holds the rule)."""
    cmd, env, cwd = ctx.backend.node_command(node, ["python3", "-c", PROBE, address, str(port)])
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=30)
    words = done.stdout.rsplit(None, 1)
    if done.returncode != 0 or len(words) != 2:
        return f"error probing from {node}: {done.stderr.strip()[-200:]}", 0.0
    return words[0], float(words[1])


async def _probe(links: Links, address: str, port: int, timeout: float = 3.0) -> tuple[str, float]:
    start = time.monotonic()
    try:

        async def go() -> None:
            rules = await links.before_connect(address)
            reader, writer = await asyncio.open_connection(address, port)
            try:
                await links.exchange(rules, 64)
            finally:
                writer.close()

        await asyncio.wait_for(go(), timeout)
        return "ok", time.monotonic() - start
    except TimeoutError:
        return "timeout", time.monotonic() - start
    except ConnectionResetError:
        return "reset", time.monotonic() - start
    except OSError as exc:
        return f"error {exc.strerror or exc}", time.monotonic() - start


@register_repair
def clear_link_rules(home: Home, teardown: bool) -> list[str]:
    """Runs after the ledger's reverts: any link rule still there belongs to no fault."""
    left = read_rules(home.root)
    if left:
        write_rules(home.root, [])
    return [
        f"removed link rule {r.get('id')} ({r.get('kind')} {r.get('src')}->{r.get('dst')})"
        for r in left
    ] + backend_for(home).clear_kernel_links()
