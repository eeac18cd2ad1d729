"""The SMTP side of the MTA (SPEC §1 steps 1–4): policy at each command, then the queue.

Port smtp takes mail from the Internet for hosted users, and from authenticated users for anyone;
port submission takes mail only from authenticated users. A message is answered 250 only after it
and its envelope are in the spool.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import ssl
import time
from email.utils import formatdate
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from testbed import clock, rpc
from testbed.components.disks import LocalDisk
from testbed.components.mta.delivery import Deliverer, DeliverySettings, Directory
from testbed.components.mta.spool import Queued, Recipient, Spool, new_queue_id
from testbed.components.uas_client import AuthFailed, AuthUnavailable, UasClient
from testbed.faultpoints import FAULTPOINTS
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio

REQUIRE_AUTH = "530 5.7.0 Authentication required"


class Authenticator(Directory, Protocol):
    async def authenticate(self, address: str, password: str) -> dict[str, Any]: ...


# The everyday address form, <dot-atom@domain>; anything else takes aiosmtpd's full RFC 5321 parser,
# which costs ~0.2 ms per MAIL/RCPT (a fifth of the MTA's time under load).
SIMPLE_PATH = re.compile(
    r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)>(.*)\Z",
    re.S,
)


class MtaSMTP(SMTP):
    """aiosmtpd parses AUTH PLAIN/LOGIN; the UAS check is asynchronous, so it happens here."""

    async def _handle_client(self) -> None:
        rule = FAULTPOINTS.fire("mta", "connect")  # protocol fault: refuse at the greeting
        if rule is not None:
            await self.push(_reply(rule))
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802
        rule = FAULTPOINTS.fire("mta", "ehlo")
        if rule is not None:
            await self.push(_reply(rule))
            return
        await super().smtp_EHLO(hostname)

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802
        rule = FAULTPOINTS.fire("mta", "auth")
        if rule is not None:
            await self.push(_reply(rule))
            return
        await super().smtp_AUTH(arg)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = SIMPLE_PATH.match(arg)
        if match:
            return match.group(1), match.group(2)
        return super()._getaddr(arg)

    def __init__(self, handler: MtaHandler, **kwargs: Any) -> None:
        super().__init__(handler, authenticator=_accept_for_checking, **kwargs)
        self.mta = handler

    async def _check(self, result: AuthResult) -> AuthResult:
        if not result.success or not isinstance(result.auth_data, LoginPassword):
            return result
        login = result.auth_data.login.decode(errors="replace")
        password = result.auth_data.password.decode(errors="replace")
        try:
            user = await self.mta.uas.authenticate(login, password)
        except AuthFailed:
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
            )
        except AuthUnavailable:
            return AuthResult(
                success=False, handled=False, message="454 4.7.0 Temporary authentication failure"
            )
        return AuthResult(success=True, auth_data=user)

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._check(await super().auth_PLAIN(server, args))

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._check(await super().auth_LOGIN(server, args))


def _reply(rule: dict[str, Any]) -> str:
    code = int(rule.get("code", 451))
    default = "4.3.0 Temporary failure" if code < 500 else "5.3.0 Permanent failure"
    return f"{code} {rule.get('message') or default}"


def _accept_for_checking(*args: Any) -> AuthResult:
    return AuthResult(success=True, auth_data=args[4])


class MtaHandler:
    def __init__(
        self,
        settings: DeliverySettings,
        uas: Authenticator,
        spool: Spool,
        deliverer: Deliverer,
        submission: bool = False,
    ) -> None:
        self.settings, self.uas, self.spool = settings, uas, spool
        self.deliverer = deliverer
        self.submission = submission

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,  # noqa: N802
        address: str,
        mail_options: list[str],
    ) -> str:
        if (rule := FAULTPOINTS.fire("mta", "mail")) is not None:
            return _reply(rule)
        if not session.authenticated and (self.submission or self.settings.is_local(address)):
            return REQUIRE_AUTH
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        vars(envelope)["users"] = {}
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,  # noqa: N802
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if (rule := FAULTPOINTS.fire("mta", "rcpt")) is not None:
            return _reply(rule)
        if not self.settings.is_local(address):
            if not session.authenticated:
                return "554 5.7.1 Relay access denied"
        else:
            try:
                user = await self.uas.lookup(address)
            except AuthUnavailable:
                return "451 4.4.3 User lookup temporarily unavailable, try again later"
            except AuthFailed as exc:
                return f"550 5.1.1 <{address}>: Recipient address rejected ({exc.reason})"
            if user is None:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if user.get("status", "active") != "active":
                return f"550 5.2.1 <{address}>: Mailbox disabled"
            vars(envelope).setdefault("users", {})[address] = user
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if (rule := FAULTPOINTS.fire("mta", "data")) is not None:
            return _reply(rule)
        qid = new_queue_id()
        raw = envelope.original_content or b""
        data = self._headers(qid, session, raw) + raw
        users = vars(envelope).get("users", {})
        queued = Queued(
            qid=qid,
            sender=envelope.mail_from or "",
            authenticated=bool(session.authenticated),
            created=time.time(),
            recipients=[
                Recipient(a, self.settings.is_local(a), users.get(a)) for a in envelope.rcpt_tos
            ],
            subject=_subject(raw),
            size=len(data),
        )
        try:
            self.spool.enqueue(queued, data)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # as postfix answers while its queue file system is full
                return "452 4.3.1 Insufficient system storage"
            return "451 4.3.0 Error: queue file write error"
        self.deliverer.submit(queued, data)
        return f"250 2.0.0 Ok: queued as {qid}"

    def _headers(self, qid: str, session: Session, raw: bytes) -> bytes:
        head = raw.split(b"\r\n\r\n", 1)[0].lower()
        lines = head.split(b"\r\n")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        proto = "ESMTPSA" if session.authenticated else "ESMTP"
        added = [
            f"Received: from {session.host_name or 'unknown'} ([{peer}])\r\n"
            f"\tby {self.settings.hostname} with {proto} id {qid};\r\n"
            f"\t{formatdate(clock.now(), localtime=True)}"
        ]
        if not any(line.startswith(b"message-id:") for line in lines):
            domain = sorted(self.settings.domains)[0]
            added.append(f"Message-ID: <{qid}@{domain}>")
        if not any(line.startswith(b"date:") for line in lines):
            added.append(f"Date: {formatdate(clock.now(), localtime=True)}")
        return "".join(f"{h}\r\n" for h in added).encode()


def _subject(raw: bytes) -> str:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"subject:"):
            return line[8:].strip().decode(errors="replace")
    return ""


async def listen(
    handler: MtaHandler,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    max_size: int,
    auth_require_tls: bool,
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: MtaSMTP(
            handler,
            hostname=handler.settings.hostname,
            data_size_limit=max_size,
            tls_context=tls,
            auth_require_tls=auth_require_tls,
        ),
        host,
        port,
        reuse_address=True,
    )


def main(ctx: ServiceContext) -> None:
    from testbed.components.mapic import MapiClient
    from testbed.components.mta.delivery import MailLog
    from testbed.components.mta.relay import resolve_mx
    from testbed.components.mta.tls import server_context

    spec = ctx.topology.spec
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    settings = DeliverySettings(
        hostname=f"{ctx.node.name}.{spec.domains[0]}",
        domains=frozenset(d.lower() for d in spec.domains),
        retry_schedule=list(spec.mail.retry_schedule),
        queue_lifetime=spec.mail.queue_lifetime,
    )
    pool = rpc.Pool(per_peer=32)
    uas = UasClient.from_ini(ctx.root / "opt/aimc/aimc.ini", pool=pool)
    spool = Spool(ctx.root / "var/spool/mta", LocalDisk(ctx.root))
    maillog = MailLog(ctx.root / "var/log/maillog")
    tls = server_context(ctx.home.tls_dir)
    servers: list[asyncio.Server] = []
    deliverer: list[Deliverer] = []

    async def start() -> None:
        worker = Deliverer(
            spool,
            MapiClient(ctx.home, pool=pool),
            uas,
            maillog,
            settings,
            lambda domain: resolve_mx(ctx.topology, domain),
        )
        deliverer.append(worker)
        for port, submission in ((ctx.service.port, False), (spec.ports.submission, True)):
            handler = MtaHandler(settings, uas, spool, worker, submission=submission)
            servers.append(
                await listen(
                    handler,
                    ctx.address,
                    port,
                    tls,
                    spec.mail.max_message_size,
                    spec.mail.auth_require_tls,
                )
            )
        resumed = spool.load()
        for queued in resumed:
            worker.submit(queued)
        ctx.log.info("listening; %d queued messages resumed", len(resumed))

    async def stop() -> None:
        for server in servers:
            server.close()
        for worker in deliverer:
            await worker.stop()
        maillog.close()
        pool.close()

    run_asyncio(start, stop)
