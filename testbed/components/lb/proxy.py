"""The VIP's data path: a plain TCP proxy that spreads connections over healthy back ends.

Selection is least connections with round robin among equals, over the group's healthy main back
ends, or its healthy backups when no main is healthy. A back end whose connect fails is reported to
the health monitor and the next one is tried, so a front end that just died costs the client
nothing even before the health checks notice. No healthy back end: the client is closed at once.

HTTP: the proxy parses each request head on the client's side of the connection and replaces any
X-Forwarded-For with the real client address, so the webservers log who really asked. Bodies are
forwarded by Content-Length; a chunked request body is forwarded raw with `Connection: close`
forced on that request, so nothing after it can be mistaken for a request head. Responses flow back
untouched. (Choice documented in the brief: a parsing proxy, keep-alive preserved.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter

from testbed.components.lb.config import Group, LbConfig, Real
from testbed.components.lb.health import HealthMonitor
from testbed.netem import LINKS, PARTITION_WAIT_S, Rule

BUF = 64 * 1024
MAX_HEAD = 64 * 1024
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Proxy:
    def __init__(self, cfg: LbConfig, health: HealthMonitor, log: logging.Logger) -> None:
        self.cfg, self.health, self.log = cfg, health, log
        self.conns: Counter[Real] = Counter()  # open proxied connections per back end
        self._rr = itertools.count()
        self.sessions: set[asyncio.Task[None]] = set()

    def pick(self, group: Group, exclude: set[Real]) -> Real | None:
        usable = [r for r in group.reals if r not in exclude and self.health.usable(group, r)]
        if not usable:
            usable = [r for r in group.backups if r not in exclude and self.health.usable(group, r)]
        if not usable:
            return None
        start = next(self._rr) % len(usable)
        rotated = usable[start:] + usable[:start]
        return min(rotated, key=lambda r: self.conns[r])  # min() keeps the first of equals

    async def connect(self, group: Group) -> tuple[Real, Stream] | None:
        tried: set[Real] = set()
        while (real := self.pick(group, tried)) is not None:
            tried.add(real)
            try:
                stream = await asyncio.wait_for(
                    asyncio.open_connection(
                        real.address, real.port, local_addr=(self.cfg.ctl[0], 0), limit=MAX_HEAD
                    ),
                    self.cfg.timeout,
                )
                return real, stream
            except (OSError, TimeoutError) as exc:
                self.health.report(group, real, False, f"proxy connect: {exc.__class__.__name__}")
        return None

    def handler(self, group: Group):  # type: ignore[no-untyped-def]
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.sessions.add(task)
            try:
                await self._session(group, reader, writer)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                self.log.debug("%s session ended: %r", group.name, exc)
            finally:
                self.sessions.discard(task)
                await _close(writer)

        return on_client

    async def _session(
        self, group: Group, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sock = writer.get_extra_info("sockname")
        faults = LINKS.active(sock[0], src="client") if isinstance(sock, tuple) else []
        if faults:  # client<->vip link faults (testbed/netem.py)
            if any(f.kind == "partition" for f in faults):
                await asyncio.sleep(PARTITION_WAIT_S)  # nothing answers; the client times out
            if any(f.kind == "reset" for f in faults):
                writer.transport.abort()  # RST: "connection reset by peer"
                return
        got = await self.connect(group)
        if got is None:
            self.log.warning("%s: no healthy back end, closing the client", group.name)
            return
        real, (up_reader, up_writer) = got
        self.conns[real] += 1
        peer = writer.get_extra_info("peername")
        client_ip = peer[0] if isinstance(peer, tuple) else "unknown"
        try:
            if group.check == "http":
                upstream = _http_requests(reader, up_writer, client_ip)
            else:
                upstream = _pipe(reader, up_writer, faults)
            await _splice(upstream, _pipe(up_reader, writer, faults))
        finally:
            self.conns[real] -= 1
            await _close(up_writer)

    async def stop(self) -> None:
        for task in list(self.sessions):
            task.cancel()
        await asyncio.gather(*self.sessions, return_exceptions=True)


async def _splice(to_server: object, to_client: object) -> None:
    """Run both directions. When the client stops sending, the server gets EOF and may still answer;
    when the server is done, the session is over."""
    up = asyncio.ensure_future(to_server)  # type: ignore[call-overload]
    down = asyncio.ensure_future(to_client)  # type: ignore[call-overload]
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        if up.done() and not down.done():
            await down
    finally:
        for t in (up, down):
            t.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


async def _pipe(
    src: asyncio.StreamReader, dst: asyncio.StreamWriter, faults: list[Rule] | None = None
) -> None:
    try:
        while data := await src.read(BUF):
            if faults:  # latency, loss, bandwidth on the client<->vip link
                await asyncio.sleep(LINKS.delay(faults, len(data)))
            dst.write(data)
            await dst.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass  # either side went away: the session ends
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof() and not dst.is_closing():
                dst.write_eof()


async def _http_requests(src: asyncio.StreamReader, dst: asyncio.StreamWriter, client: str) -> None:
    """Forward requests one by one, stamping each head with X-Forwarded-For."""
    try:
        while True:
            try:
                head = await src.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                dst.write(exc.partial)  # not a complete head: let the server judge it
                break
            head, chunked, length = stamp(head, client)
            dst.write(head)
            await dst.drain()
            if chunked:
                await _pipe(src, dst)
                return
            while length > 0:
                data = await src.read(min(BUF, length))
                if not data:
                    return
                length -= len(data)
                dst.write(data)
                await dst.drain()
    except (OSError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof() and not dst.is_closing():
                dst.write_eof()


def stamp(head: bytes, client: str) -> tuple[bytes, bool, int]:
    """The request head with X-Forwarded-For set to `client` (a client-sent one is dropped: only
    the proxy knows the real address); also whether the body is chunked and its length."""
    lines = head[:-4].split(b"\r\n")
    keep = [lines[0]]
    chunked, length = False, 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"x-forwarded-for":
            continue
        if key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"content-length":
            with contextlib.suppress(ValueError):
                length = max(0, int(value.strip()))
        keep.append(line)
    keep.append(b"X-Forwarded-For: " + client.encode())
    if chunked:
        keep = [x for x in keep if x.partition(b":")[0].strip().lower() != b"connection"]
        keep.append(b"Connection: close")
    return b"\r\n".join(keep) + b"\r\n\r\n", chunked, length


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
