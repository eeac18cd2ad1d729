"""Internal RPC between components: one JSON object per line over TCP (asyncio).

Request:  {"id": 1, "method": "deliver", "params": {...}}
Response: {"id": 1, "result": ...} or {"id": 1, "error": {"code": "quota_exceeded", "message": "..."}}

A handler raises RemoteError(code, message) to answer with an error. A connection that is refused,
reset or times out raises ServiceUnavailable on the client, which callers treat as a temporary failure,
just as the real platform's MAPIc treats a dead MAPI server. Bytes travel base64-encoded (b64/unb64).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from testbed.errors import RemoteError, ServiceUnavailable
from testbed.netem import LINKS, PARTITION_WAIT_S

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
Address = tuple[str, int]
log = logging.getLogger(__name__)
_ids = itertools.count(1)
MAX_LINE = 64 * 1024 * 1024  # a message up to the size limit, base64-encoded, fits


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


async def serve(
    host: str, port: int, handlers: dict[str, Handler], reuse_port: bool = False
) -> asyncio.Server:
    """Listen on host:port and answer requests with `handlers` (method name → coroutine).
    reuse_port lets a pool of worker processes share one port, as the UAS's aiuum pool does."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(await _answer(line, handlers))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the peer went away or sent an over-long line; nothing to answer
        finally:
            writer.close()

    return await asyncio.start_server(
        on_connect, host, port, limit=MAX_LINE, reuse_address=True, reuse_port=reuse_port
    )


async def _answer(line: bytes, handlers: dict[str, Handler]) -> bytes:
    req_id = None
    try:
        req = json.loads(line)
        req_id = req.get("id")
        handler = handlers.get(req.get("method", ""))
        if handler is None:
            raise RemoteError("bad_request", f"unknown method {req.get('method')!r}")
        reply: dict[str, Any] = {"id": req_id, "result": await handler(req.get("params") or {})}
    except RemoteError as exc:
        reply = {"id": req_id, "error": {"code": exc.code, "message": str(exc)}}
    except OSError as exc:  # storage I/O errors reach the client as what they are
        reply = {"id": req_id, "error": {"code": "io_error", "message": str(exc)}}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reply = {"id": req_id, "error": {"code": "bad_request", "message": repr(exc)}}
    return json.dumps(reply).encode() + b"\n"


async def call(
    addr: Address, method: str, params: dict[str, Any] | None = None, timeout: float = 3.0
) -> Any:
    """One request on a fresh connection; raises RemoteError or ServiceUnavailable."""
    try:
        return await asyncio.wait_for(_call(addr, method, params or {}), timeout)
    except TimeoutError as exc:
        raise ServiceUnavailable(f"{addr[0]}:{addr[1]} timed out on {method}") from exc
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
        raise ServiceUnavailable(f"{addr[0]}:{addr[1]}: {exc.__class__.__name__} {exc}") from exc


async def _call(addr: Address, method: str, params: dict[str, Any]) -> Any:
    await LINKS.before_connect(addr[0])
    reader, writer = await asyncio.open_connection(addr[0], addr[1], limit=MAX_LINE)
    try:
        reply = await _exchange(reader, writer, method, params, addr)
    finally:
        writer.close()
    return _result(reply)


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    params: dict[str, Any],
    addr: Address,
) -> dict[str, Any]:
    req_id = next(_ids)
    request = json.dumps({"id": req_id, "method": method, "params": params}).encode() + b"\n"
    faults = LINKS.active(addr[0])  # link faults (testbed/netem.py); empty when none
    if faults:
        if any(f.kind == "partition" for f in faults):
            await asyncio.sleep(PARTITION_WAIT_S)  # nothing gets through; the caller times out
        await LINKS.exchange(faults, len(request))
    writer.write(request)
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("connection closed before the answer")
    if faults:
        await LINKS.exchange(faults, len(line))
    return dict(json.loads(line))


class Pool:
    """Keeps idle connections per peer for a long-running service (one event loop), sparing a
    TCP handshake per request on hot paths (MTA → UAS, MTA → MAPI server → mss).

    A pooled connection that turns out closed before any answer (the peer restarted while it was
    idle) is retried once on a fresh connection; every other failure is reported as with call().
    Use one Pool per event loop and close() it before the loop ends.
    """

    def __init__(self, per_peer: int = 8) -> None:
        self.per_peer = per_peer
        self.idle: dict[Address, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def call(
        self, addr: Address, method: str, params: dict[str, Any] | None = None, timeout: float = 3.0
    ) -> Any:
        try:
            reply = await asyncio.wait_for(self._pooled(addr, method, params or {}), timeout)
        except TimeoutError as exc:
            raise ServiceUnavailable(f"{addr[0]}:{addr[1]} timed out on {method}") from exc
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            raise ServiceUnavailable(
                f"{addr[0]}:{addr[1]}: {exc.__class__.__name__} {exc}"
            ) from exc
        return _result(reply)

    async def _pooled(self, addr: Address, method: str, params: dict[str, Any]) -> dict[str, Any]:
        idle = self.idle.setdefault(addr, [])
        while idle:
            reader, writer = idle.pop()
            if writer.is_closing() or reader.at_eof():
                writer.close()
                continue
            try:
                reply = await self._use(addr, reader, writer, method, params)
            except (ConnectionResetError, BrokenPipeError):
                continue  # went stale while idle; the request was not answered: try afresh
            return reply
        await LINKS.before_connect(addr[0])
        reader, writer = await asyncio.open_connection(addr[0], addr[1], limit=MAX_LINE)
        return await self._use(addr, reader, writer, method, params)

    async def _use(
        self,
        addr: Address,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        try:
            reply = await _exchange(reader, writer, method, params, addr)
        except BaseException:
            writer.close()  # includes cancellation by a timeout: a late answer must not be reused
            raise
        idle = self.idle.setdefault(addr, [])
        if len(idle) < self.per_peer:
            idle.append((reader, writer))
        else:
            writer.close()
        return reply

    def close(self) -> None:
        for conns in self.idle.values():
            for _reader, writer in conns:
                writer.close()
        self.idle.clear()


def _result(reply: dict[str, Any]) -> Any:
    if "error" in reply:
        err = reply["error"]
        if err.get("code") == "unavailable":
            raise ServiceUnavailable(err.get("message", ""))
        raise RemoteError(err.get("code", "error"), err.get("message", ""))
    return reply.get("result")
