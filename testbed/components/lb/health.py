"""Back-end health checks: every interval, per back end and port, a TCP connect plus the protocol's
greeting (SMTP "220", POP3 "+OK", IMAP "* OK"; HTTP: any status line for GET /), with a short
timeout. A back end changes state only after `rise`/`fall` consecutive results (2 by default), so one
slow answer does not take a front end out of service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from testbed.components.lb.config import Group, LbConfig, Real

HTTP_STATUS = re.compile(rb"^HTTP/\d\.\d \d{3}")
GREETING = {"smtp": b"220", "pop3": b"+OK", "imap": b"* OK"}
GOODBYE = {"smtp": b"QUIT\r\n", "pop3": b"QUIT\r\n", "imap": b"a LOGOUT\r\n"}


@dataclass
class Health:
    healthy: bool | None = None  # None: not checked yet
    ok_streak: int = 0
    fail_streak: int = 0
    last_error: str = ""
    checked: float = 0.0


class HealthMonitor:
    def __init__(self, cfg: LbConfig, log: logging.Logger) -> None:
        self.cfg, self.log = cfg, log
        self.state: dict[tuple[str, Real], Health] = {
            (g.name, r): Health() for g in cfg.groups for r in [*g.reals, *g.backups]
        }
        self.tasks: list[asyncio.Task[None]] = []

    def usable(self, group: Group, real: Real) -> bool:
        """Mains count as usable until proven otherwise (a fresh unit must serve at once); a
        backup only once a check has seen it answer."""
        healthy = self.state[(group.name, real)].healthy
        return healthy if healthy is not None else real in group.reals

    def report(self, group: Group, real: Real, ok: bool, error: str = "") -> None:
        """One check result (also fed by the proxy when a connect to the back end fails)."""
        h = self.state[(group.name, real)]
        h.checked = time.time()
        if ok:
            h.ok_streak, h.fail_streak, h.last_error = h.ok_streak + 1, 0, ""
            if h.healthy is not True and (h.ok_streak >= self.cfg.rise or h.healthy is None):
                self._flip(group, real, h, True)
        else:
            h.ok_streak, h.fail_streak, h.last_error = 0, h.fail_streak + 1, error
            if h.healthy is not False and h.fail_streak >= self.cfg.fall:
                self._flip(group, real, h, False)

    def _flip(self, group: Group, real: Real, h: Health, healthy: bool) -> None:
        if h.healthy is not None or not healthy:
            self.log.info(
                "%s %s %s:%d is %s%s",
                group.name,
                real.node,
                real.address,
                real.port,
                "UP" if healthy else "DOWN",
                f" ({h.last_error})" if h.last_error else "",
            )
        h.healthy = healthy

    def start(self) -> None:
        for g in self.cfg.groups:
            for r in [*g.reals, *g.backups]:
                self.tasks.append(asyncio.create_task(self._loop(g, r)))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _loop(self, group: Group, real: Real) -> None:
        while True:
            started = time.monotonic()
            error = await check(
                group.check, real.address, real.port, self.cfg.timeout, self.cfg.ctl[0]
            )
            self.report(group, real, error is None, error or "")
            await asyncio.sleep(max(0.05, self.cfg.interval - (time.monotonic() - started)))

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        for g in self.cfg.groups:
            for r in [*g.reals, *g.backups]:
                h = self.state[(g.name, r)]
                out.append(
                    {
                        "group": g.name,
                        "node": r.node,
                        "address": r.address,
                        "port": r.port,
                        "backup": r in g.backups,
                        "healthy": h.healthy,
                        "error": h.last_error,
                    }
                )
        return out


async def check(
    kind: str, host: str, port: int, timeout: float, source: str | None = None
) -> str | None:
    """None if the back end answered like a healthy server, else why not. `source`: the unit's
    own address, so the check comes from the balancer node as on a real network."""
    try:
        return await asyncio.wait_for(_check(kind, host, port, source), timeout)
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "connection refused"
    except (OSError, asyncio.IncompleteReadError) as exc:
        return exc.__class__.__name__


async def _check(kind: str, host: str, port: int, source: str | None) -> str | None:
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=local)
    try:
        if kind == "http":
            writer.write(
                f"GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: alteon-health\r\n\r\n".encode()
            )
            await writer.drain()
        line = await reader.readline()
        if not line:
            return "closed without a greeting"
        good = HTTP_STATUS.match(line) if kind == "http" else line.startswith(GREETING[kind])
        if kind in GOODBYE:  # a polite end keeps the servers' logs free of aborted sessions
            writer.write(GOODBYE[kind])
            with contextlib.suppress(OSError):
                await writer.drain()
        return None if good else f"bad greeting {line[:40]!r}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
