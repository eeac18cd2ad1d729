"""disk_full: a disk fills up (testbed.components.disks). Target the disk array — mailbox writes
fail with "No space left on device" (MAPIc io_error; the MTAs queue and retry) while reads work —
or a front end, whose MTA then refuses new mail with "452 4.3.1 Insufficient system storage".
`percent` below 100 only raises the monitor's disk alarm (over 85 %) without failing writes."""

from __future__ import annotations

import smtplib

from pydantic import Field

from testbed.components import array, disks
from testbed.faults import clients
from testbed.faults.array_offline import a_mailroot
from testbed.faults.base import Effect, Fault, FaultContext, Plan, Strict
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(Strict):
    percent: int = Field(100, ge=1, le=100, description="fill level; 100 makes writes fail")


def _level(ctx: FaultContext, target: str) -> int:
    if target == ctx.topology.spec.array.name:
        return disks.array_usage(ctx.home)
    return disks.local_usage(ctx.home.node_root(target))


def _set(ctx: FaultContext, target: str, percent: int) -> None:
    if target == ctx.topology.spec.array.name:
        if ctx.home.array_root.joinpath("state.json").exists():
            array.set_usage(ctx.home, percent)
        return
    disks.set_local_usage(ctx.home.node_root(target), percent or None)


def smtp_mail_code(ctx: FaultContext, node: str) -> int:
    """The reply to a message from the Internet to a hosted user, at DATA's end (-1: none)."""
    user = clients.a_user(ctx)
    address, port = ctx.topology.nodes[node].address, ctx.topology.spec.ports.smtp
    try:
        with smtplib.SMTP(address, port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.sendmail("probe@example.net", [user["address"] if user else "x@x"], b"x\r\n")
    except smtplib.SMTPDataError as exc:
        return int(exc.smtp_code)
    except smtplib.SMTPRecipientsRefused as exc:
        return int(next(iter(exc.recipients.values()))[0])
    except (OSError, smtplib.SMTPException):
        return -1
    return 250


@register
class DiskFull(Fault):
    name = "disk_full"
    chapter = "disk_array"
    Params = Params
    description = "fill a disk: the array (mailbox writes fail) or a front end (MTA answers 452)"

    def targets(self, topology: Topology) -> list[str]:
        return [topology.spec.array.name, *(fe.name for fe in topology.frontends)]

    def default_for(self, topology: Topology) -> str | None:
        return topology.spec.array.name

    def plan(self, ctx: FaultContext) -> Plan:
        return {"before": _level(ctx, ctx.target), "percent": ctx.params.percent}  # type: ignore[attr-defined]

    def inject(self, ctx: FaultContext, plan: Plan) -> None:
        _set(ctx, ctx.target, plan["percent"])

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        if plan["percent"] < disks.FULL:
            level = _level(ctx, ctx.target)
            return Effect(level == plan["percent"], f"{ctx.target} disk at {level} %")
        if ctx.target == ctx.topology.spec.array.name:
            root = a_mailroot(ctx)
            if root is None:
                return Effect(False, "no ONLINE mailroot to probe")
            write, read = clients.mailbox(ctx, root, write=True), clients.mailbox(ctx, root)
            return Effect(
                write == "io_error" and read == "ok", f"MAPIc on {root}: write {write}, read {read}"
            )
        code = smtp_mail_code(ctx, ctx.target)
        return Effect(code == 452, f"{ctx.target} answered {code} to a new message")

    def revert(self, ctx: FaultContext, plan: Plan) -> None:
        _set(ctx, ctx.target, int(plan["before"]))

    def confirm(self, ctx: FaultContext, plan: Plan) -> Effect:
        level = _level(ctx, ctx.target)
        return Effect(level == plan["before"], f"{ctx.target} disk at {level} %")
