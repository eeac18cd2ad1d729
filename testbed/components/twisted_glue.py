"""Glue between twisted protocols and the asyncio clients (UAS, MAPIc) in front-end processes.

The front ends run twisted on the asyncio reactor, so one event loop serves both worlds: a coroutine
of the MAPIc/UAS clients becomes a Deferred with `as_deferred`. Twisted modules must only be
imported after `install_asyncio_reactor()` (twisted.mail.pop3 installs the default reactor at
import), which is why this module imports nothing from twisted at the top level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from testbed.runtime.context import ServiceContext


def as_deferred(coro: Coroutine[Any, Any, Any]) -> Any:
    """Schedule `coro` on the reactor's asyncio loop and return a Deferred of its result."""
    from twisted.internet.defer import Deferred

    return Deferred.fromFuture(asyncio.ensure_future(coro))


def real_clients(ctx: ServiceContext) -> tuple[Any, Any]:
    """The UAS client (from the node's aimc.ini, read at start like the real aimc) and MAPIc."""
    from testbed import rpc
    from testbed.components.mapic import MapiClient
    from testbed.components.uas_client import UasClient

    pool = rpc.Pool()  # lives as long as the process; the reactor's loop is never replaced
    return UasClient.from_ini(ctx.root / "opt/aimc/aimc.ini", pool=pool), MapiClient(
        ctx.home, pool=pool
    )


def no_delay(factory: Any) -> Any:
    """Replies go out at once: twisted leaves Nagle on, and Nagle plus the client's delayed ACK
    cost ~40 ms per multi-write IMAP answer (asyncio transports already set TCP_NODELAY)."""
    build = factory.buildProtocol

    def build_no_delay(addr: Any) -> Any:
        proto = build(addr)
        if proto is not None:
            made = proto.connectionMade

            def connection_made() -> None:
                proto.transport.setTcpNoDelay(True)
                made()

            proto.connectionMade = connection_made
        return proto

    factory.buildProtocol = build_no_delay
    return factory


def serve_twisted(address: str, port: int, make_factory: Callable[[], Any], log: Any) -> None:
    """Install the asyncio reactor, listen on address:port with the factory `make_factory` builds
    (after the reactor exists), and run until SIGTERM/SIGINT, which twisted turns into a clean
    reactor stop that closes the listening port and open connections."""
    from testbed.runtime.serve import install_asyncio_reactor

    install_asyncio_reactor()
    from twisted.internet import reactor as installed

    reactor: Any = installed  # the module attribute is typed loosely by twisted
    reactor.listenTCP(port, no_delay(make_factory()), interface=address)
    log.info("listening on %s:%d", address, port)
    reactor.run()
    log.info("stopped")
