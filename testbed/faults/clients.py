"""Effect checks through the platform's own clients: the UAS client the front ends use and MAPIc.
Each returns what a user's request would get now. Synchronous (asyncio.run inside): call them from
a thread when already inside an event loop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from testbed.components.mapic import MapiClient, MapiError
from testbed.components.uas_client import AuthFailed, AuthUnavailable, UasClient
from testbed.faults.base import FaultContext
from testbed.runtime.provision import read_users


def a_user(ctx: FaultContext, mailroot: str | None = None) -> dict[str, Any] | None:
    for user in read_users(ctx.home):
        if user.get("level") != 0 and (mailroot is None or user["mailroot"] == mailroot):
            return user
    return None


def uas_login(ctx: FaultContext, nodes: list[str]) -> str:
    """Authenticate a real user against the UAS on `nodes`: "ok", "unavailable" or the reason."""
    user = a_user(ctx)
    if user is None:
        return "no users"
    port = ctx.topology.spec.ports.uas
    servers = [(ctx.topology.nodes[n].address, port) for n in nodes]

    async def login() -> str:
        try:
            await UasClient(servers, timeout=2.0).authenticate(user["address"], user["password"])
        except AuthUnavailable:
            return "unavailable"
        except AuthFailed as exc:
            return exc.reason
        return "ok"

    return asyncio.run(login())


def mailbox(ctx: FaultContext, mailroot: str, write: bool = False) -> str:
    """Read (STATUS) or write (create + delete a scratch folder) a mailbox of `mailroot` through
    MAPIc: "ok" or the MAPI error code (io_error, unavailable, ...)."""
    user = a_user(ctx, mailroot)
    if user is None:
        return "no users"

    async def access() -> str:
        client = MapiClient(ctx.home, timeout=3.0)
        try:
            if write:
                folder = f"faultcheck-{uuid.uuid4().hex[:8]}"
                await client.create_folder(user, folder)
                await client.delete_folder(user, folder)
            else:
                await client.status(user)
        except MapiError as exc:
            return exc.code
        return "ok"

    return asyncio.run(access())
