"""PLACEHOLDER (replaced by the component's author): listens so the testbed comes up."""

from __future__ import annotations

import asyncio

from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio


def main(ctx: ServiceContext) -> None:
    async def start() -> None:
        async def close(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.close()

        await asyncio.start_server(close, ctx.address, ctx.service.port, reuse_address=True)

    run_asyncio(start)
