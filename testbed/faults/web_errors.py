"""web_errors: httpd is up but abnormal — it answers every WebMail request with an error page
(500 by default, or 503), the webserver chapter's "pages do not display" while the process still
runs, so a check that only asks "is the port open" passes. A hang is process_hang on a web node."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from pydantic import Field

from testbed.faults.base import Effect, FaultContext, Plan
from testbed.faults.protocolbase import ProtocolFault, ProtocolParams
from testbed.faults.registry import register
from testbed.topology.model import Topology


class Params(ProtocolParams):
    code: int = Field(500, ge=500, le=599, description="the HTTP status answered")
    message: str = Field("", description="text on the error page")


@register
class WebErrors(ProtocolFault):
    name = "web_errors"
    chapter = "webserver"
    component = "web"
    Params = Params
    description = "httpd runs but answers WebMail requests with HTTP 5xx errors"

    def nodes(self, topology: Topology) -> list[str]:
        return [*topology.spec.web.nodes, topology.spec.web.backup]

    def rule(self, ctx: FaultContext) -> dict[str, Any]:
        p = ctx.params
        return {"stage": "request", "code": p.code, "message": p.message}  # type: ignore[attr-defined]

    def check(self, ctx: FaultContext, plan: Plan) -> Effect:
        rule = plan["rule"]
        node = ctx.topology.spec.web.nodes[0] if rule["nodes"] == ["*"] else rule["nodes"][0]
        url = f"http://{ctx.topology.nodes[node].address}:{ctx.topology.spec.ports.http}/"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except OSError as exc:
            return Effect(False, f"GET {url}: unreachable ({exc})")
        return Effect(
            status == rule["code"] or rule["probability"] < 1.0,
            f"GET {url}: HTTP {status} (fault says {rule['code']})",
        )
