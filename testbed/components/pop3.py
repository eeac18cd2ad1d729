"""POP3 service of a front end ("aimc" process, kind "pop3").

Every login is checked by the UAS; the user's INBOX is read through MAPIc only. The protocol itself
lives in pop3_proto (twisted.mail.pop3), which may only be imported once the asyncio reactor is
installed, so this module stays importable by the launcher without touching twisted.
"""

from __future__ import annotations

from typing import Any

from testbed.components.twisted_glue import real_clients, serve_twisted
from testbed.runtime.context import ServiceContext


def build_factory(uas: Any, mapi: Any) -> Any:
    """A twisted ServerFactory for POP3 using `uas` (authenticate) and `mapi` (MapiClient
    contract). Call only after the asyncio reactor is installed."""
    from testbed.components.pop3_proto import Pop3Factory

    return Pop3Factory(uas, mapi)


def main(ctx: ServiceContext) -> None:
    uas, mapi = real_clients(ctx)
    serve_twisted(ctx.address, ctx.service.port, lambda: build_factory(uas, mapi), ctx.log)
