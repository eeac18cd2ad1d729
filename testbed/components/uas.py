"""A UAS worker (the plan's "aiuum" process pool; service kind "uas").

The workers of one node share its port (SO_REUSEPORT), so the node answers while any worker lives;
`ServicePool monitor aiuum` counts them. Primary UAS nodes check passwords against the account
database server; the backup UAS answers from its local replica, which is what lets the plan point
aimc.ini at it while the primaries or the database are down.
"""

from __future__ import annotations

import asyncio
from typing import Any

from testbed import rpc
from testbed.components.accounts import AccountStore
from testbed.errors import RemoteError, ServiceUnavailable
from testbed.faultpoints import FAULTPOINTS
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio

DB_TIMEOUT_S = 2.0


def database_handlers(db: rpc.Address, pool: rpc.Pool) -> dict[str, rpc.Handler]:
    """Forward each request to the account database; an unreachable database is `backend_down`."""

    def forward(method: str) -> rpc.Handler:
        async def handler(params: dict[str, Any]) -> Any:
            try:
                return await pool.call(db, method, params, timeout=DB_TIMEOUT_S)
            except ServiceUnavailable as exc:
                raise RemoteError("backend_down", f"account database: {exc}") from exc

        return handler

    return {m: forward(m) for m in ("authenticate", "lookup", "domains")}


def with_faultpoints(handlers: dict[str, rpc.Handler]) -> dict[str, rpc.Handler]:
    """Protocol faults (testbed/faults/uas_*.py): slow answers, valid passwords rejected."""

    def wrap(method: str, handler: rpc.Handler) -> rpc.Handler:
        async def answer(params: dict[str, Any]) -> Any:
            rule = FAULTPOINTS.fire("uas", method)
            if rule is not None:
                await asyncio.sleep(float(rule.get("delay", 0.0)))
                if rule.get("error"):
                    raise RemoteError(str(rule["error"]), str(rule.get("message", "")))
            return await handler(params)

        return answer

    return {m: wrap(m, h) for m, h in handlers.items()}


def main(ctx: ServiceContext) -> None:
    spec = ctx.topology.spec
    store: AccountStore | None = None
    pool = rpc.Pool()
    if ctx.node.name == spec.uas.backup:
        store = AccountStore(ctx.home.replica_db(ctx.node.name))
        handlers = store.handlers()
    else:
        db_node = ctx.topology.node(spec.uas.database)
        handlers = database_handlers((db_node.address, spec.ports.acctdb), pool)

    async def start() -> None:
        await rpc.serve(ctx.address, ctx.service.port, with_faultpoints(handlers), reuse_port=True)

    async def stop() -> None:
        pool.close()

    run_asyncio(start, stop)
    if store is not None:
        store.close()
