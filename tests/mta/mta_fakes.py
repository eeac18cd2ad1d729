"""An MTA running in-process on its own event loop thread, with fake UAS and MAPIc behind it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer

from testbed.components.mapic import MapiError
from testbed.components.mta.delivery import Deliverer, DeliverySettings
from testbed.components.mta.maillog import MailLog
from testbed.components.mta.server import MtaHandler, listen
from testbed.components.mta.spool import Spool
from testbed.components.mta.tls import server_context
from testbed.components.uas_client import AuthFailed, AuthUnavailable

HOST = "127.0.24.1"
SINK = "127.0.24.2"
USERS = {
    "ann@aimc.test": {"address": "ann@aimc.test", "password": "secret-ann", "mailroot": "m0"},
    "bob@aimc.test": {"address": "bob@aimc.test", "password": "secret-bob", "mailroot": "m1"},
    "full@aimc.test": {"address": "full@aimc.test", "password": "x", "mailroot": "m1"},
}


class FakeUas:
    def __init__(self) -> None:
        self.down = False

    async def lookup(self, address: str) -> dict[str, Any] | None:
        if self.down:
            raise AuthUnavailable("uas down")
        return USERS.get(address.lower())

    async def authenticate(self, address: str, password: str) -> dict[str, Any]:
        if self.down:
            raise AuthUnavailable("uas down")
        user = USERS.get(address.lower())
        if user is None or user["password"] != password:
            raise AuthFailed("bad_password")
        return user


class FakeMapi:
    """Stores by delivery id, like the mss does; can fail temporarily a number of times."""

    def __init__(self) -> None:
        self.boxes: dict[str, dict[str, bytes]] = {}
        self.fail_next = 0
        self.hang = False

    async def deliver(
        self, user: dict[str, Any], message: bytes, delivery_id: str, folder: str = "INBOX"
    ) -> int:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise MapiError("unavailable", "no live MAPI server")
        if user["address"] == "full@aimc.test":
            raise MapiError("quota_exceeded", "Destination mailbox exceeds quota")
        box = self.boxes.setdefault(user["address"], {})
        box.setdefault(delivery_id, message)
        return len(box)


class Sink:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok"


class RunningMta:
    """Start with start(); stop() closes the servers (or crash() leaves the queue as is)."""

    def __init__(
        self,
        spool_dir: Path,
        tls_dir: Path,
        uas: FakeUas,
        mapi: FakeMapi,
        sink: Sink,
        port: int,
        retry: list[float] | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.settings = DeliverySettings(
            hostname="fe01.aimc.test",
            domains=frozenset({"aimc.test"}),
            retry_schedule=retry or [0.2],
            queue_lifetime=30.0,
        )
        self.spool = Spool(spool_dir)
        self.maillog_path = spool_dir.parent / "maillog"
        self.maillog = MailLog(self.maillog_path)
        self.uas, self.mapi, self.sink, self.port = uas, mapi, sink, port
        self.tls = server_context(tls_dir)
        self.servers: list[asyncio.AbstractServer] = []

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self, deliver: bool = True) -> None:
        self.thread.start()

        async def go() -> None:
            self.deliverer = Deliverer(
                self.spool,
                self.mapi,
                self.uas,
                self.maillog,
                self.settings,
                lambda _d: [(SINK, self.port)],
            )
            if not deliver:
                self.deliverer.submit = lambda q, data=None: None  # type: ignore[method-assign]
            for port, sub in ((self.port, False), (self.port + 1, True)):
                handler = MtaHandler(self.settings, self.uas, self.spool, self.deliverer, sub)
                self.servers.append(await listen(handler, HOST, port, self.tls, 20_000, False))
            loop = asyncio.get_running_loop()
            self.servers.append(
                await loop.create_server(
                    lambda: SMTPServer(self.sink), SINK, self.port, reuse_address=True
                )
            )
            for queued in self.spool.load():
                self.deliverer.submit(queued)

        self.run(go())

    def stop(self) -> None:
        async def halt() -> None:
            for server in self.servers:
                server.close()
                await server.wait_closed()
            await self.deliverer.stop()

        self.run(halt())
        self.maillog.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def log(self) -> str:
        return self.maillog_path.read_text() if self.maillog_path.exists() else ""
