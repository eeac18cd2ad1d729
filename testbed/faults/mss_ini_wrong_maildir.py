"""mss_ini_wrong_maildir: mss.ini of one mailroot names a MailDir that does not exist (a typo in a
configuration change), and the mss process restarts to read it. It fails at start — restart.log
says why — and the cluster marks the group FAULTED; the mailroot's users cannot reach their mail
until someone fixes mss.ini and brings the group online. The file is changed on every MSS node,
so switching the group elsewhere does not help; revert restores the files and the group."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from testbed.components.cluster.state import group_node, read_state
from testbed.components.mssconfig import ARRAY_MOUNT, config_dir
from testbed.faults import clients, procs
from testbed.faults.base import Effect, Fault, FaultContext, FaultError, Plan
from testbed.faults.filebackup import drop, new_key, restore_file, save_file
from testbed.faults.registry import register
from testbed.topology.model import Topology


def ini(ctx: FaultContext, node: str, root: str) -> Path:
    return config_dir(ctx.home, node, root) / "mss.ini"


@register
class MssIniWrongMaildir(Fault):
    name = "mss_ini_wrong_maildir"
    chapter = "mss"
    description = "mss.ini of a mailroot (target m0…) names a MailDir that does not exist"

    def targets(self, topology: Topology) -> list[str]:
        return list(topology.mailroots)

    def default_for(self, topology: Topology) -> str | None:
        return topology.mailroots[0]

    def plan(self, ctx: FaultContext) -> Plan:
        node = group_node(ctx.home, ctx.target)
        if node is None:
            raise FaultError(f"the cluster has no group {ctx.target}")
        keys = {}
        for mss in ctx.topology.spec.mss.nodes:
            keys[mss] = new_key(f"mss-ini-{mss}-{ctx.target}")
            save_file(ctx.home, keys[mss], ini(ctx, mss, ctx.target))
        return {"node": node, "keys": keys, "wrong": f"{ARRAY_MOUNT}{ctx.target}.old"}

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        for mss in plan["keys"]:
            path = ini(ctx, mss, ctx.target)
            text = re.sub(r"^MailDir=.*$", f"MailDir={plan['wrong']}", path.read_text(), flags=re.M)
            path.write_text(text)
        service = (plan["node"], f"mss.{ctx.target}")
        procs.signal_all(ctx, [service], signal.SIGTERM)
        procs.wait_gone(ctx, [service])
        procs.set_group(ctx, ctx.target, plan["node"], "STARTING")  # had restarts it: and fails

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        access = clients.mailbox(ctx, ctx.target)
        return Effect(access != "ok", f"MAPIc read on {ctx.target}: {access}")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        for mss, key in plan["keys"].items():
            restore_file(ctx.home, key, ini(ctx, mss, ctx.target))
        # a start had began with the wrong file ends FAULTED; restore from there, not during it
        end = time.monotonic() + procs.GROUP_WAIT_S
        while time.monotonic() < end and not ctx.teardown:
            if read_state(ctx.home)["groups"][ctx.target]["state"] != "STARTING":
                break
            time.sleep(0.2)
        procs.restore_group(ctx, ctx.target)

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        wrong = [m for m in plan["keys"] if plan["wrong"] in ini(ctx, m, ctx.target).read_text()]
        if wrong:
            return Effect(False, f"mss.ini still wrong on {wrong}")
        if not ctx.teardown:
            group = read_state(ctx.home)["groups"][ctx.target]
            access = clients.mailbox(ctx, ctx.target)
            if group["state"] != "ONLINE" or access != "ok":
                return Effect(False, f"group {ctx.target} {group['state']}, MAPIc read: {access}")
        for key in plan["keys"].values():
            drop(ctx.home, key)
        return Effect(True, "mss.ini restored, group ONLINE")
