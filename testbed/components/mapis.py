"""A MAPI server (SPEC §1 step 6): on every MSS node, it passes each mailbox request to the mss
process of the user's mailroot on its own node. When that mailroot is not running here (the
cluster put it elsewhere, or it died) the answer is "unavailable", so MAPIc tries elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from testbed import rpc
from testbed.errors import RemoteError
from testbed.faultpoints import FAULTPOINTS
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio

METHODS = (
    "deliver",
    "append",
    "status",
    "list",
    "fetch",
    "store_flags",
    "expunge",
    "delete",
    "copy",
    "move",
    "folders",
    "create_folder",
    "delete_folder",
    "rename_folder",
    "quota",
)
FORWARD_TIMEOUT = 2.5  # below MAPIc's own timeout, so the client hears "unavailable", not silence


def forwarders(
    ctx: ServiceContext, pool: rpc.Pool
) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
    topology = ctx.topology

    def make(method: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        async def forward(params: dict[str, Any]) -> Any:
            root = str(params.get("user", {}).get("mailroot", ""))
            if root not in topology.spec.mss.mailroots:
                raise RemoteError("no_mailbox", f"unknown mailroot {root!r}")
            rule = FAULTPOINTS.fire("mapis", method)  # protocol faults: slow or failing answers
            if rule is not None:
                await asyncio.sleep(float(rule.get("delay", 0.0)))
                if rule.get("error"):
                    raise RemoteError(str(rule["error"]), str(rule.get("message", "")))
            addr = (ctx.address, topology.mss_port(root))
            return await pool.call(addr, method, params, timeout=FORWARD_TIMEOUT)

        return forward

    return {m: make(m) for m in METHODS}


def main(ctx: ServiceContext) -> None:
    servers: list[asyncio.Server] = []
    pool = rpc.Pool(per_peer=32)

    async def start() -> None:
        servers.append(await rpc.serve(ctx.address, ctx.service.port, forwarders(ctx, pool)))

    async def stop() -> None:
        for server in servers:
            server.close()
        pool.close()

    run_asyncio(start, stop)
