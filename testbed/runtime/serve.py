"""Run a service's event loop until SIGTERM/SIGINT, then let it close cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_asyncio(
    start: Callable[[], Awaitable[object]], stop: Callable[[], Awaitable[object]] | None = None
) -> None:
    """`start` sets the service up (binds its ports) and returns; runs until a stop signal."""

    async def body() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        await start()
        await done.wait()
        if stop is not None:
            await stop()

    asyncio.run(body())


def install_asyncio_reactor() -> None:
    """Twisted services share one asyncio loop with MAPIc/UAS clients; call before any twisted
    module that imports the reactor."""
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
