"""clock_skew: a node's clock runs off by `offset` (ahead, or behind when negative) — NTP lost.
The node's mail log, its MTA's Received/Date/DSN headers and its service logs carry the wrong
time (testbed/clock.py), so `maildrill mail-log --since` and anyone correlating logs across nodes
is misled. Target any node; the effect check reads a fresh mail-log line on a front end, and the
clock file elsewhere."""

from __future__ import annotations

import smtplib
import time
import uuid

from pydantic import Field

from testbed import clock
from testbed.faults import clients
from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.registry import register
from testbed.topology.model import Topology

STAMP = "%Y/%m/%d %H:%M:%S"


class Params(Strict):
    offset: float = Field(
        300.0, ge=-86400 * 365, le=86400 * 365, description="seconds (negative: behind)"
    )


def _fresh_maillog_offset(ctx: FaultContext, node: str) -> float | None:
    """Send one message from the Internet to a hosted user through `node` and return how far
    the mail-log line it leaves is from the true time (None: no line appeared)."""
    user = clients.a_user(ctx)
    if user is None:
        return None
    sender = f"clockcheck-{uuid.uuid4().hex[:8]}@example.net"
    address, port = ctx.topology.nodes[node].address, ctx.topology.spec.ports.smtp
    try:
        with smtplib.SMTP(address, port, timeout=10) as smtp:
            smtp.sendmail(sender, [user["address"]], b"Subject: clock check\r\n\r\nx\r\n")
    except (OSError, smtplib.SMTPException):
        return None
    log = ctx.home.log_dir(node) / "maillog"
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for line in reversed(log.read_text(errors="replace").splitlines() if log.exists() else []):
            if f"from=<{sender}>" in line:
                return time.mktime(time.strptime(line[:19], STAMP)) - time.time()
        time.sleep(0.2)
    return None


@register
class ClockSkew(Fault):
    name = "clock_skew"
    chapter = "generic"
    Params = Params
    description = "a node's clock is off by `offset` seconds: its logs and mail headers lie"

    def targets(self, topology: Topology) -> list[str]:
        return [n.name for n in topology.nodes.values() if n.role != "array"]

    def default_for(self, topology: Topology) -> str | None:
        return topology.frontends[0].name

    def plan(self, ctx: FaultContext) -> Plan:
        root = ctx.home.node_root(ctx.target)
        return {"before": clock.read_offset(root), "offset": ctx.params.offset}  # type: ignore[attr-defined]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        clock.set_offset(ctx.home.node_root(ctx.target), plan["before"] + plan["offset"])

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        want = plan["before"] + plan["offset"]
        if ctx.target not in {fe.name for fe in ctx.topology.frontends}:
            got = clock.read_offset(ctx.home.node_root(ctx.target))
            return Effect(got == want, f"{ctx.target} clock off by {got:+.0f} s")
        seen = _fresh_maillog_offset(ctx, ctx.target)
        if seen is None:
            return Effect(False, f"no fresh mail-log line on {ctx.target}")
        return Effect(abs(seen - want) < 5, f"{ctx.target} mail log is {seen:+.0f} s off")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        clock.set_offset(ctx.home.node_root(ctx.target), plan["before"])

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        got = clock.read_offset(ctx.home.node_root(ctx.target))
        return Effect(got == plan["before"], f"{ctx.target} clock off by {got:+.0f} s")
