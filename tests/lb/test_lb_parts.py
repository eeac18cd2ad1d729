"""The balancer's parts in one process with real sockets: prepared configuration, VIP state,
health checks, back-end selection, and the proxy (TCP and HTTP with X-Forwarded-For)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from testbed.components.lb.config import Group, LbConfig, Real, build_config, parse, render
from testbed.components.lb.health import HealthMonitor, check
from testbed.components.lb.proxy import Proxy, stamp
from testbed.components.lb.state import read_state, set_owner
from testbed.errors import ConfigError
from testbed.home import Home
from testbed.topology.model import TopologyFile
from testbed.topology.resolve import resolve

BACK = "127.0.26.241"  # fake back ends and the proxy live on .240-.250 (the live test uses .1-.30)
FRONT = "127.0.26.240"
LOG = logging.getLogger("test-lb")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def topology():  # type: ignore[no-untyped-def]
    return resolve(TopologyFile(network="127.0.26.0/24"))


def test_prepared_configuration_round_trips_and_names_vip_and_back_ends() -> None:
    topo = topology()
    cfg = build_config(topo, "alteon180e")
    text = render(cfg)
    assert "vip 127.0.26.1" in text and "unit alteon180e cold" in text
    again = parse(text)
    assert again == cfg
    assert [g.name for g in again.groups] == ["smtp", "submission", "pop3", "imap", "http"]
    assert [r.node for r in again.groups[0].reals] == ["fe01", "fe02", "fe03", "fe04"]
    assert [r.node for r in again.groups[-1].backups] == ["webbak"]
    assert again.takeover_after > build_config(topo, "alteon184b").takeover_after


@pytest.mark.parametrize(
    "line, field",
    [("real smtp fe01 1.2.3.4 x", "real"), ("bogus 1", "bogus"), ("group web 80 ftp", "group")],
)
def test_a_broken_configuration_line_is_named(line: str, field: str) -> None:
    text = render(build_config(topology(), "alteon184a")) + line + "\n"
    with pytest.raises(ConfigError) as err:
        parse(text, "alteon.cfg")
    assert err.value.field == field and err.value.line == len(text.splitlines())


def test_vip_owner_compare_and_set(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert read_state(home)["owner"] is None
    assert set_owner(home, "a", "test")
    assert not set_owner(home, "b", "test", expect="c")  # someone else changed it meanwhile
    assert set_owner(home, "b", "test", expect="a")
    assert read_state(home)["owner"] == "b"


def test_stamp_replaces_a_forged_forwarded_for_and_reads_the_body_length() -> None:
    head = b"POST /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\nContent-Length: 5\r\n\r\n"
    out, chunked, length = stamp(head, "10.0.0.7")
    assert b"6.6.6.6" not in out and out.endswith(b"X-Forwarded-For: 10.0.0.7\r\n\r\n")
    assert (chunked, length) == (False, 5)
    out, chunked, _ = stamp(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", "h"
    )
    assert chunked and b"keep-alive" not in out and b"Connection: close" in out


def cfg_for(group: Group) -> LbConfig:
    return LbConfig("unit", False, FRONT, (FRONT, 0), {}, interval=0.1, timeout=1.0, groups=[group])


def test_pick_spreads_by_least_connections_and_uses_backups_only_without_mains() -> None:
    mains = [Real(f"fe0{i}", BACK, 1000 + i) for i in range(1, 4)]
    bk = Real("bak", BACK, 1009)
    group = Group("smtp", 25, "smtp", list(mains), [bk])
    health = HealthMonitor(cfg_for(group), LOG)
    proxy = Proxy(cfg_for(group), health, LOG)
    picks = set()
    for _ in range(3):
        real = proxy.pick(group, set())
        assert real is not None
        proxy.conns[real] += 1
        picks.add(real)
    assert picks == set(mains)
    for real in mains:
        health.report(group, real, False, "down")
        health.report(group, real, False, "down")
    assert proxy.pick(group, set()) is None  # the backup was never seen answering
    health.report(group, bk, True)
    assert proxy.pick(group, set()) == bk
    health.report(group, mains[0], True)
    assert proxy.pick(group, set()) == bk  # one good result is not enough to come back
    health.report(group, mains[0], True)
    assert proxy.pick(group, set()) == mains[0]


@contextlib.asynccontextmanager
async def server(port: int, handler: Handler) -> AsyncIterator[None]:
    srv = await asyncio.start_server(handler, BACK, port, reuse_address=True)
    try:
        yield
    finally:
        srv.close()
        await srv.wait_closed()


async def greeter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 fake ESMTP\r\n")
    with contextlib.suppress(OSError):
        while line := await reader.readline():
            writer.write(b"250 echo " + line)
            await writer.drain()
    writer.close()


async def http_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request with its own head as the body (keep-alive)."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next(
                (int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.startswith(b"Content-L")),
                0,
            )
            body = head + await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    writer.close()


async def run_proxy(group: Group) -> tuple[Proxy, asyncio.Server]:
    cfg = cfg_for(group)
    proxy = Proxy(cfg, HealthMonitor(cfg, LOG), LOG)
    srv = await asyncio.start_server(proxy.handler(group), FRONT, group.port, reuse_address=True)
    return proxy, srv


async def stop_proxy(proxy: Proxy, srv: asyncio.Server) -> None:
    srv.close()
    await proxy.stop()
    await srv.wait_closed()


def test_health_checks_see_greetings_refusals_and_wrong_protocols() -> None:
    async def body() -> None:
        async with server(26101, greeter):
            assert await check("smtp", BACK, 26101, 2.0, FRONT) is None
            assert "bad greeting" in str(await check("pop3", BACK, 26101, 2.0))
        assert await check("imap", BACK, 26101, 2.0) == "connection refused"

    asyncio.run(body())


def test_proxy_falls_through_a_dead_back_end_and_closes_when_none_is_left() -> None:
    dead, alive = Real("fe01", BACK, 26111), Real("fe02", BACK, 26112)
    group = Group("smtp", 26110, "smtp", [dead, alive])

    async def body() -> None:
        proxy, srv = await run_proxy(group)
        try:
            async with server(26112, greeter):
                for _ in range(3):
                    reader, writer = await asyncio.open_connection(FRONT, 26110)
                    assert (await reader.readline()).startswith(b"220")
                    writer.write(b"NOOP\r\n")
                    assert await reader.readline() == b"250 echo NOOP\r\n"
                    writer.close()
                    await writer.wait_closed()
            assert proxy.health.state[("smtp", dead)].healthy is False
            reader, writer = await asyncio.open_connection(FRONT, 26110)
            assert await reader.read() == b""  # nothing healthy left: closed at once
            writer.close()
            await writer.wait_closed()
        finally:
            await stop_proxy(proxy, srv)

    asyncio.run(body())


def test_proxy_stamps_every_http_request_on_a_keep_alive_connection() -> None:
    group = Group("http", 26120, "http", [Real("web1", BACK, 26121)])

    async def body() -> None:
        proxy, srv = await run_proxy(group)
        try:
            async with server(26121, http_echo):
                reader, writer = await asyncio.open_connection(
                    FRONT, 26120, local_addr=("127.0.26.245", 0)
                )
                for i in range(2):
                    writer.write(
                        b"POST /%d HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6\r\n"
                        b"Content-Length: 4\r\n\r\nbody" % i
                    )
                    await reader.readuntil(b"\r\n\r\n")
                    echoed = await reader.readuntil(b"body")
                    assert b"X-Forwarded-For: 127.0.26.245" in echoed  # the client's address
                    assert b"6.6.6.6" not in echoed and b"POST /%d" % i in echoed
                writer.close()
                await writer.wait_closed()
        finally:
            await stop_proxy(proxy, srv)

    asyncio.run(body())
