"""Delivery of queued mail: local recipients through MAPIc, remote ones by SMTP to their MX.

Each accepted message gets one task at a time; a temporary failure schedules the next attempt
(retry_schedule, last value repeating) until queue_lifetime runs out, then the recipient bounces.
Local deliveries carry delivery_id "<qid>/<recipient>", so an attempt repeated after a crash stores
nothing new; the recipient's state is saved after every outcome.
"""

from __future__ import annotations

import asyncio
import inspect
import smtplib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from testbed.components.dns.resolver import DnsPermanent, DnsTemporary
from testbed.components.mapic import MapiError
from testbed.components.mta.dsn import bounce
from testbed.components.mta.maillog import MailLog
from testbed.components.mta.spool import BOUNCED, DELIVERED, Queued, Recipient, Spool
from testbed.components.uas_client import AuthFailed, AuthUnavailable
from testbed.netem import LINKS

MX = tuple[str, int]


class Mailboxes(Protocol):
    async def deliver(
        self, user: dict[str, Any], message: bytes, delivery_id: str, folder: str = "INBOX"
    ) -> int: ...


class Directory(Protocol):
    async def lookup(self, address: str) -> dict[str, Any] | None: ...


@dataclass
class DeliverySettings:
    hostname: str
    domains: frozenset[str]
    retry_schedule: list[float] = field(default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0, 60.0])
    queue_lifetime: float = 3600.0
    concurrency: int = 16
    smtp_timeout: float = 30.0

    @property
    def postmaster(self) -> str:
        return f"MAILER-DAEMON@{sorted(self.domains)[0]}"

    def is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() in self.domains


class Temporary(Exception):
    """This attempt failed, a later one may succeed."""


class Permanent(Exception):
    """No attempt will ever succeed: bounce."""


def smtp_send(
    mxs: list[MX], sender: str, rcpts: list[str], data: bytes, helo: str, timeout: float
) -> dict[str, tuple[int, str]]:
    """One SMTP transaction (blocking; run in a thread). Returns refusals per recipient."""
    last = "no MX"
    for host, port in mxs:
        try:
            faults = LINKS.before_connect_sync(host, timeout)  # link faults: testbed/netem.py
            with smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout) as smtp:
                time.sleep(LINKS.delay(faults, len(data)))
                refused = smtp.sendmail(sender, rcpts, data)
            return {r: (c, m.decode(errors="replace")) for r, (c, m) in refused.items()}
        except smtplib.SMTPRecipientsRefused as exc:
            return {r: (c, m.decode(errors="replace")) for r, (c, m) in exc.recipients.items()}
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise Permanent(text) from exc
            last = text
        except (OSError, smtplib.SMTPException) as exc:
            last = (
                f"{host}:{port}: {exc.__class__.__name__}: {exc}"
                if str(exc)
                else str(exc.__class__.__name__)
            )
    raise Temporary(last)


class Deliverer:
    def __init__(
        self,
        spool: Spool,
        mapi: Mailboxes,
        uas: Directory,
        maillog: MailLog,
        settings: DeliverySettings,
        resolve_mx: Callable[[str], list[MX] | Awaitable[list[MX]]],
    ) -> None:
        self.spool, self.mapi, self.uas, self.maillog = spool, mapi, uas, maillog
        self.settings = settings
        self.resolve_mx = resolve_mx
        self.queued: dict[str, Queued] = {}
        self.running: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.fresh: dict[str, bytes] = {}

    def submit(self, queued: Queued, data: bytes | None = None) -> None:
        """Schedule a queued message; `data` spares re-reading a message just written."""
        self.queued[queued.qid] = queued
        if data is not None:
            self.fresh[queued.qid] = data
        self._start(queued.qid)

    def _start(self, qid: str) -> None:
        self.timers.pop(qid, None)
        if qid in self.running or qid not in self.queued:
            return
        self.running.add(qid)
        task = asyncio.get_running_loop().create_task(self._run(qid))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, qid: str) -> None:
        try:
            async with self.slots:
                await self.attempt(self.queued[qid])
        finally:
            self.running.discard(qid)
        queued = self.queued.get(qid)
        if queued is not None and queued.pending:
            delay = max(0.0, min(r.next_at for r in queued.pending) - time.time())
            self.timers[qid] = asyncio.get_running_loop().call_later(delay, self._start, qid)

    async def stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def attempt(self, q: Queued) -> None:
        """Try every due recipient once; save progress; finish the message when none is left."""
        data = self.fresh.pop(q.qid, None) or self.spool.data(q.qid)
        now = time.time()
        due = [r for r in q.pending if r.next_at <= now]
        for r in (r for r in due if r.local):
            await self._outcome(q, [r], self._local(q, r, data))
        remote: dict[str, list[Recipient]] = {}
        for r in (r for r in due if not r.local):
            remote.setdefault(r.address.rpartition("@")[2].lower(), []).append(r)
        for domain, rcpts in remote.items():
            await self._remote(q, domain, rcpts, data)
        if q.pending:
            self.spool.save(q)
        else:
            await self._finish(q, data)

    async def _local(self, q: Queued, r: Recipient, data: bytes) -> None:
        user = r.user
        if user is None:
            try:
                user = await self.uas.lookup(r.address)
            except AuthUnavailable as exc:
                raise Temporary(f"user lookup failed: {exc}") from exc
            except AuthFailed as exc:
                raise Permanent(f"User unknown ({exc.reason})") from exc
            if user is None:
                raise Permanent("User unknown in virtual mailbox table")
            r.user = user
        try:
            await self.mapi.deliver(user, data, f"{q.qid}/{r.address}")
        except MapiError as exc:
            reason = str(exc)
            raise (Permanent(reason) if exc.permanent else Temporary(reason)) from exc

    async def _remote(self, q: Queued, domain: str, rcpts: list[Recipient], data: bytes) -> None:
        async def send() -> None:
            refused = await asyncio.to_thread(
                smtp_send,
                await self._mx(domain),
                q.sender,
                [r.address for r in rcpts],
                data,
                self.settings.hostname,
                self.settings.smtp_timeout,
            )
            for r in rcpts:
                if r.address in refused:
                    code, text = refused[r.address]
                    cls = Permanent if code >= 500 else Temporary
                    await self._outcome(q, [r], _raise(cls(f"{code} {text}")))
                else:
                    await self._outcome(q, [r], _noop())

        try:
            await send()
        except (Temporary, Permanent) as exc:
            await self._outcome(q, rcpts, _raise(exc))

    async def _mx(self, domain: str) -> list[MX]:
        """The domain's MX hosts; a DNS failure defers (no answer) or bounces (no such domain)."""
        try:
            found = self.resolve_mx(domain)
            return await found if inspect.isawaitable(found) else found
        except DnsTemporary as exc:
            raise Temporary(str(exc)) from exc
        except DnsPermanent as exc:
            raise Permanent(str(exc)) from exc

    async def _outcome(self, q: Queued, rcpts: list[Recipient], attempt: Any) -> None:
        try:
            await attempt
        except Permanent as exc:
            for r in rcpts:
                self._fail(q, r, str(exc))
        except Temporary as exc:
            for r in rcpts:
                self._defer(q, r, str(exc))
        else:
            for r in rcpts:
                r.state = DELIVERED
                self._log(q, r, "OK")
        if q.pending and len(q.recipients) > 1:
            self.spool.save(q)  # progress survives a crash before the next recipient

    def _defer(self, q: Queued, r: Recipient, reason: str) -> None:
        now = time.time()
        if now - q.created >= self.settings.queue_lifetime:
            self._fail(q, r, f"{reason} (message expired in the queue)")
            return
        schedule = self.settings.retry_schedule
        self._log(q, r, f"RETRY.{r.attempts} {reason}")
        r.next_at = now + schedule[min(r.attempts, len(schedule) - 1)]
        r.attempts += 1
        r.error = reason

    def _fail(self, q: Queued, r: Recipient, reason: str) -> None:
        r.state, r.error = BOUNCED, reason
        self._log(q, r, f"FAIL {reason}")

    def _log(self, q: Queued, r: Recipient, outcome: str) -> None:
        sender_local = q.authenticated or not q.sender or self.settings.is_local(q.sender)
        direction = ("L" if sender_local else "R") + ("L" if r.local else "R")
        self.maillog.write(q.qid, direction, q.subject, q.size, outcome, q.sender, r.address)

    async def _finish(self, q: Queued, data: bytes) -> None:
        failed = [(r.address, r.error) for r in q.recipients if r.state == BOUNCED]
        if failed and q.sender:  # never bounce a bounce
            dsn_id = f"{q.qid}.B"
            if not self.spool.exists(dsn_id):
                domain = self.settings.postmaster.partition("@")[2]
                report = bounce(
                    data,
                    q.sender,
                    failed,
                    self.settings.postmaster,
                    self.settings.hostname,
                    message_id=f"<{dsn_id}@{domain}>",
                )
                dsn = Queued(
                    dsn_id,
                    "",
                    False,
                    time.time(),
                    [Recipient(q.sender, self.settings.is_local(q.sender))],
                    subject="Undelivered Mail Returned to Sender",
                    size=len(report),
                    dsn_of=q.qid,
                )
                self.spool.enqueue(dsn, report)
                self.submit(dsn, report)
        self.spool.remove(q.qid)
        self.queued.pop(q.qid, None)


async def _raise(exc: Exception) -> None:
    raise exc


async def _noop() -> None:
    return None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
