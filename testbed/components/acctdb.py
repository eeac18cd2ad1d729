"""The account database server (service kind "acctdb" on the database node): the primary UAS
workers ask it; when it is down they answer backend_down and the front ends fail temporarily."""

from __future__ import annotations

from testbed import rpc
from testbed.components.accounts import AccountStore
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio


def main(ctx: ServiceContext) -> None:
    store = AccountStore(ctx.home.accounts_db)

    async def start() -> None:
        await rpc.serve(ctx.address, ctx.service.port, store.handlers())

    run_asyncio(start)
    store.close()
