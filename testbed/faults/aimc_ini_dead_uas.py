"""aimc_ini_dead_uas: a front end's aimc.ini [UAPI] names a UAS where nothing runs, and its aimc
processes are restarted so they read it (a bad configuration change rolled out). Logins on that
front end fail as "authentication temporarily unavailable" while the UAS servers themselves are
fine — the trap is to look at uas0/uas1 instead of the configuration. Revert puts the file back
exactly and restarts the processes again."""

from __future__ import annotations

import re
import smtplib
from pathlib import Path

from testbed.faults import clients
from testbed.faults.base import Effect, Fault, FaultContext, Plan
from testbed.faults.dns_mx_wrong import dead_address
from testbed.faults.filebackup import drop, new_key, restore_file, save_file
from testbed.faults.registry import register
from testbed.nodecmd.frontend import start_services, stop_services
from testbed.topology.model import Topology


def ini_path(ctx: FaultContext, node: str) -> Path:
    return ctx.home.node_root(node) / "opt" / "aimc" / "aimc.ini"


def smtp_login(ctx: FaultContext, node: str) -> str:
    """AUTH on the front end's submission port with a valid user: "ok" or the server's answer."""
    user = clients.a_user(ctx)
    if user is None:
        return "no users"
    address, port = ctx.topology.nodes[node].address, ctx.topology.spec.ports.submission
    try:
        with smtplib.SMTP(address, port, timeout=15) as smtp:
            smtp.ehlo()
            smtp.login(user["address"], user["password"])
    except smtplib.SMTPAuthenticationError as exc:
        text = exc.smtp_error
        return (
            f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
        )
    except (OSError, smtplib.SMTPException) as exc:
        return f"error: {exc}"
    return "ok"


@register
class AimcIniDeadUas(Fault):
    name = "aimc_ini_dead_uas"
    chapter = "uas"
    default_target = "all"
    description = "aimc.ini [UAPI] on a front end names a dead UAS; its aimc processes restart"

    def targets(self, topology: Topology) -> list[str]:
        return ["all", *(fe.name for fe in topology.frontends)]

    def _nodes(self, ctx: FaultContext) -> list[str]:
        fes = [fe.name for fe in ctx.topology.frontends]
        return fes if ctx.target == "all" else [ctx.target]

    def plan(self, ctx: FaultContext) -> Plan:
        keys = {}
        for node in self._nodes(ctx):
            keys[node] = new_key(f"aimc-ini-{node}")
            save_file(ctx.home, keys[node], ini_path(ctx, node))
        return {"nodes": list(keys), "keys": keys, "dead": dead_address(ctx.topology)}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        for node in plan["nodes"]:
            path = ini_path(ctx, node)
            text = re.sub(
                r"^(Server\d+=)[^:\s]+:",
                rf"\g<1>{plan['dead']}:",
                path.read_text(),
                flags=re.M,
            )
            path.write_text(text)
            stop_services(ctx.home, node)
            start_services(ctx.home, node)

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        node = plan["nodes"][0]
        seen = smtp_login(ctx, node)
        return Effect(seen != "ok", f"AUTH on {node}: {seen}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        for node in plan["nodes"]:
            path = ini_path(ctx, node)
            before = path.read_text() if path.exists() else ""
            restore_file(ctx.home, plan["keys"][node], path)
            if ctx.teardown:
                continue
            if path.read_text() != before:
                stop_services(ctx.home, node)  # they still hold the dead server
            start_services(ctx.home, node)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        bad = [n for n in plan["nodes"] if plan["dead"] in ini_path(ctx, n).read_text()]
        if not bad and not ctx.teardown:
            bad = [n for n in plan["nodes"] if smtp_login(ctx, n) != "ok"]
        if not bad:
            for node in plan["nodes"]:
                drop(ctx.home, plan["keys"][node])
        return Effect(not bad, f"logins still failing on {bad}" if bad else "aimc.ini restored")
