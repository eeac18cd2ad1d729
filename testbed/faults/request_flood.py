"""request_flood: one source floods the webservers with HTTP requests (the webserver chapter's
"request flood from one source"): many keep-alive connections from an address of the testbed's
network that no node uses, through the VIP (`primary`) or at one webserver. Pages slow down for
everyone; the access logs show the one address that floods (the load balancer passes it on in
X-Forwarded-For). The flooder's pids are recorded before it runs; revert stops exactly them."""

from __future__ import annotations

import ipaddress
import sys
import time
import uuid
from pathlib import Path

from pydantic import Field

from testbed.faults import loadprocs
from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.registry import register
from testbed.topology.endpoints import client_endpoints
from testbed.topology.model import Topology


class Params(Strict):
    connections: int = Field(50, ge=1, le=500, description="parallel keep-alive connections")
    path: str = Field("/", pattern=r"^/\S*$", description="the page requested")


def flood_source(topology: Topology) -> str:
    """The attacker's address: in the testbed's network, used by no node (the last host is the
    dead address of the DNS and config faults; this is the one before it)."""
    return str(list(ipaddress.ip_network(topology.spec.network).hosts())[-2])


def _logs(ctx: FaultContext) -> list[Path]:
    web = [*ctx.topology.spec.web.nodes, ctx.topology.spec.web.backup]
    return [ctx.home.log_dir(n) / "httpd" / "access_log" for n in web]


def _count(paths: list[Path], source: str) -> int:
    lead = f"{source} "
    total = 0
    for path in paths:
        if path.exists():
            with path.open(errors="replace") as f:
                total += sum(1 for line in f if line.startswith(lead))
    return total


@register
class RequestFlood(Fault):
    name = "request_flood"
    chapter = "webserver"
    Params = Params
    default_target = "primary"
    description = "flood the webservers with HTTP requests from one source (VIP or one webserver)"

    def targets(self, topology: Topology) -> list[str]:
        return ["primary", *topology.spec.web.nodes, topology.spec.web.backup]

    def plan(self, ctx: FaultContext) -> Plan:
        if ctx.target == "primary":
            host, port = client_endpoints(ctx.topology)["http"].rsplit(":", 1)
        else:
            host, port = ctx.topology.nodes[ctx.target].address, str(ctx.topology.spec.ports.http)
        source = flood_source(ctx.topology)
        return {
            "host": host,
            "port": int(port),
            "source": source,
            "key": f"flood-{uuid.uuid4().hex[:8]}",
            "before": _count(_logs(ctx), source),
        }

    def _folder(self, ctx: FaultContext, plan: Plan) -> Path:
        return loadprocs.load_dir(ctx.home.root, "flood", plan["key"])

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        p = ctx.params
        argv = [sys.executable, "-m", "testbed.traffic.flooder", plan["source"], plan["host"]]
        argv += [str(plan["port"]), str(p.connections), p.path]  # type: ignore[attr-defined]
        loadprocs.spawn(self._folder(ctx, plan), argv)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        alive = loadprocs.alive(self._folder(ctx, plan))
        time.sleep(1.0)
        seen = _count(_logs(ctx), plan["source"]) - plan["before"]
        return Effect(
            bool(alive) and seen > 0,
            f"flooder {'running' if alive else 'not running'}; {seen} requests from "
            f"{plan['source']} in the access logs",
        )

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        loadprocs.stop(self._folder(ctx, plan), "testbed.traffic.flooder")

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        left = loadprocs.alive(self._folder(ctx, plan))
        return Effect(not left, f"still running: {left}" if left else "flood stopped")
