"""mta_reject: the MTA answers an SMTP error at a chosen stage (connect, ehlo, auth, mail, rcpt,
data) with a probability — a 4xx makes senders retry, a 5xx makes them bounce."""

from __future__ import annotations

import smtplib
from typing import Any, Literal

from pydantic import Field

from testbed.faults import clients
from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(ProtocolParams):
    stage: Literal["connect", "ehlo", "auth", "mail", "rcpt", "data"] = "rcpt"
    code: int = Field(451, ge=400, le=599, description="the SMTP reply code")
    message: str = Field("", description="reply text (default: a generic temporary/permanent one)")


@register
class MtaReject(ProtocolFault):
    name = "mta_reject"
    chapter = "generic"
    component = "mta"
    Params = Params
    description = "the MTA answers 4xx/5xx at a stage (connect/ehlo/auth/mail/rcpt/data)"

    def nodes(self, topology: Topology) -> list[str]:
        return [n.name for n in topology.frontends]

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        p = ctx.params
        return {"stage": p.stage, "code": p.code, "message": p.message}  # type: ignore[attr-defined]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        """Walk an SMTP session on one affected front end up to the faulted stage."""
        rule = plan["rule"]
        node = self.nodes(ctx.topology)[0] if rule["nodes"] == ["*"] else rule["nodes"][0]
        address, port = ctx.topology.nodes[node].address, ctx.topology.spec.ports.smtp
        user = clients.a_user(ctx)
        code = _session_code(address, port, rule["stage"], user["address"] if user else "x@x")
        return Effect(
            code == rule["code"] or rule["probability"] < 1.0,
            f"{node} answered {code} at {rule['stage']} (fault says {rule['code']})",
        )


def _session_code(address: str, port: int, stage: str, rcpt: str) -> int:
    """The reply code a sender from the Internet gets at `stage` (-1: no answer)."""
    smtp = smtplib.SMTP(timeout=10)
    try:
        code, _ = smtp.connect(address, port)
        if stage == "connect":
            return int(code)
        code = smtp.ehlo()[0]
        if stage == "ehlo":
            return int(code)
        if stage == "auth":
            return int(smtp.docmd("AUTH", "PLAIN AGEAYg==")[0])
        code = smtp.mail("probe@example.net")[0]
        if stage == "mail":
            return int(code)
        code = smtp.rcpt(rcpt)[0]
        if stage == "rcpt":
            return int(code)
        return int(smtp.docmd("DATA")[0])
    except smtplib.SMTPConnectError as exc:
        return int(exc.smtp_code)
    except (OSError, smtplib.SMTPException):
        return -1
    finally:
        smtp.close()
