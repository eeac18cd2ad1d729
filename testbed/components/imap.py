"""IMAP4 service of a front end ("aimc" process, kind "imap").

Every login is checked by the UAS; folders and messages are read and changed through MAPIc only.
The session lives in imap_proto / imap_server / imap_mailbox (twisted.mail.imap4), imported only after the
asyncio reactor is installed, so the launcher can import this module without touching twisted.
"""

from __future__ import annotations

from typing import Any

from testbed.components.twisted_glue import real_clients, serve_twisted
from testbed.runtime.context import ServiceContext


def build_factory(uas: Any, mapi: Any) -> Any:
    """A twisted ServerFactory for IMAP4rev1 using `uas` (authenticate) and `mapi` (MapiClient
    contract). Call only after the asyncio reactor is installed."""
    from testbed.components.imap_server import ImapFactory

    return ImapFactory(uas, mapi)


def main(ctx: ServiceContext) -> None:
    uas, mapi = real_clients(ctx)
    serve_twisted(ctx.address, ctx.service.port, lambda: build_factory(uas, mapi), ctx.log)
