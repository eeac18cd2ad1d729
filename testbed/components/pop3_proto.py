"""POP3 protocol (RFC 1939 + CAPA/UIDL/TOP) on twisted.mail.pop3, backed by UAS and MAPIc.

Import only after the asyncio reactor is installed (twisted.mail.pop3 imports the reactor).
A session takes a snapshot of INBOX at login; DELE only marks, QUIT commits through
MapiClient.delete (RFC 1939 UPDATE state). Temporary failures of the UAS or of mailbox access answer
"-ERR [SYS/TEMP] ..." (RFC 3206) so clients retry instead of telling the user the password is wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet import protocol
from twisted.mail import pop3

from testbed.components.mapic import MapiError
from testbed.components.twisted_glue import as_deferred
from testbed.components.uas_client import AuthFailed, AuthUnavailable

log = logging.getLogger(__name__)


class Snapshot:
    """INBOX as seen at login: message numbers are 1-based indexes into `messages`."""

    def __init__(self, listing: dict[str, Any]) -> None:
        self.uidvalidity = int(listing.get("uidvalidity", 1))
        self.messages: list[dict[str, Any]] = sorted(listing["messages"], key=lambda m: m["uid"])
        self.deleted: set[int] = set()

    def live(self, index: int) -> dict[str, Any]:
        """The message at 0-based `index`, unless it is out of range or marked deleted."""
        if index < 0 or index >= len(self.messages) or index in self.deleted:
            raise ValueError("no such message")
        return self.messages[index]


def _stuff(body: bytes) -> bytes:
    """CRLF line ends and dot-stuffing for a multi-line POP3 answer (without the final '.')."""
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)


def _top(body: bytes, n: int) -> bytes:
    """Headers, the blank line, and the first `n` body lines."""
    text = body.replace(b"\r\n", b"\n")
    head, sep, rest = text.partition(b"\n\n")
    if not sep:
        return text
    lines = rest.split(b"\n")[:n]
    return head + b"\n\n" + b"\n".join(lines)


class Pop3Server(pop3.POP3):
    # No APOP timestamp in the greeting: clients such as curl would try APOP, which the platform
    # does not offer (passwords are checked by the UAS, which never reveals them).
    magic = b"aimc POP3 server ready"

    def __init__(self, uas: Any, mapi: Any) -> None:
        self.uas, self.mapi = uas, mapi
        self.user: dict[str, Any] | None = None
        self.snap: Snapshot | None = None

    def _write(self, data: bytes) -> None:
        transport: Any = self.transport
        transport.write(data)

    def _close(self) -> None:
        transport: Any = self.transport
        transport.loseConnection()

    # --- framing / errors -------------------------------------------------------------------
    def state_COMMAND(self, line: bytes) -> None:
        """Unknown or malformed commands answer -ERR and the session goes on (no traceback)."""
        try:
            self.processCommand(*line.split(b" "))
        except (ValueError, TypeError, AttributeError, pop3.POP3Error) as exc:
            self.failResponse(b"bad command: " + str(exc).encode(errors="replace")[:200])

    def listCapabilities(self) -> list[bytes]:
        return [b"TOP", b"USER", b"UIDL", b"PIPELINING", b"RESP-CODES", b"IMPLEMENTATION aimc"]

    def _temp(self, what: str, exc: BaseException) -> None:
        log.warning("%s failed: %s", what, exc)
        self.failResponse(f"[SYS/TEMP] {what} failed, try again later: {exc}")

    def _run(self, coro: Any, done: Any, what: str) -> Any:
        """Run an async MAPI/UAS call, blocking pipelined commands until it answered."""
        d = as_deferred(coro)
        d.addCallback(done)

        def failed(f: Any) -> None:
            if f.check(MapiError, AuthUnavailable):
                self._temp(what, f.value)
            else:
                log.error("%s: unexpected %s", what, f.getTraceback())
                self.failResponse(f"[SYS/TEMP] {what} failed")

        d.addErrback(failed)
        return self._longOperation(d)

    # --- authorization ----------------------------------------------------------------------
    def do_APOP(self, user: bytes, digest: bytes) -> None:
        self.failResponse(b"APOP not supported, use USER/PASS")

    def do_AUTH(self, args: bytes | None = None) -> None:
        self.failResponse(b"AUTH not supported, use USER/PASS")

    def do_PASS(self, password: bytes, *words: bytes) -> Any:
        if self._userIs is None:
            self.failResponse(b"USER required before PASS")
            return None
        if self.mbox is not None:
            self.failResponse(b"already authenticated")
            return None
        address = self._userIs.decode(errors="replace")
        self._userIs = None
        secret = b" ".join((password,) + words).decode(errors="replace")
        return self._run(self._login(address, secret), lambda _: None, "login")

    async def _login(self, address: str, password: str) -> None:
        try:
            user = await self.uas.authenticate(address, password)
        except AuthFailed as exc:
            log.info("login %s refused: %s", address, exc.reason)
            self.failResponse(b"[AUTH] authentication failed")
            return
        listing = await self.mapi.list(user, "INBOX")
        self.user, self.snap = user, Snapshot(listing)
        self.mbox = self  # twisted checks `mbox` to know the session is authenticated
        self.successResponse(f"{address} has {len(self.snap.messages)} messages")

    # --- transaction: twisted's STAT/LIST/UIDL call these (pop3.IMailbox) -------------------
    def listMessages(self, i: int | None = None) -> Any:
        assert self.snap is not None
        if i is None:
            return [
                0 if n in self.snap.deleted else m["size"] for n, m in enumerate(self.snap.messages)
            ]
        return self.snap.live(i)["size"]

    def getUidl(self, i: int) -> bytes:
        assert self.snap is not None
        return f"{self.snap.uidvalidity}.{self.snap.live(i)['uid']}".encode()

    def do_RETR(self, i: bytes) -> Any:
        return self._send(i, None)

    def do_TOP(self, i: bytes, size: bytes) -> Any:
        try:
            n = int(size)
            if n < 0:
                raise ValueError
        except ValueError:
            self.failResponse(b"bad line count")
            return None
        return self._send(i, n)

    def _send(self, i: bytes, top: int | None) -> Any:
        assert self.snap is not None and self.user is not None
        try:
            index = int(i) - 1
            msg = self.snap.live(index)
        except ValueError:
            self.failResponse(b"no such message")
            return None

        def send(body: bytes) -> None:
            if top is None:
                self._highest = max(self._highest, index + 1)
                self.successResponse(f"{len(body)} octets")
                self._write(_stuff(body) + b".\r\n")
            else:
                self.successResponse(b"top of message follows")
                self._write(_stuff(_top(body, top)) + b".\r\n")

        return self._run(self.mapi.fetch(self.user, "INBOX", msg["uid"]), send, "RETR")

    def do_DELE(self, i: bytes) -> None:
        assert self.snap is not None
        try:
            index = int(i) - 1
            self.snap.live(index)
        except ValueError:
            self.failResponse(b"no such message")
            return
        self.snap.deleted.add(index)
        self.successResponse(b"message deleted")

    def do_RSET(self) -> None:
        if self.snap is not None:
            self.snap.deleted.clear()
        self._highest = 0
        self.successResponse()

    def do_QUIT(self) -> Any:
        if self.snap is None or self.user is None or not self.snap.deleted:
            self.successResponse(b"bye")
            self._close()
            return None
        uids = [self.snap.messages[n]["uid"] for n in sorted(self.snap.deleted)]

        def committed(_: object) -> None:
            self.successResponse(b"bye")
            self._close()

        d = as_deferred(self.mapi.delete(self.user, "INBOX", uids))
        d.addCallback(committed)

        def failed(f: Any) -> None:
            # RFC 1939: if the UPDATE state fails, say so; the messages stay in the mailbox.
            self._temp("deleting messages", f.value)
            self._close()

        d.addErrback(failed)
        return self._longOperation(d)


class Pop3Factory(protocol.ServerFactory):
    noisy = False

    def __init__(self, uas: Any, mapi: Any) -> None:
        self.uas = uas
        self.mapi = mapi

    def buildProtocol(self, addr: Any) -> Any:
        proto = Pop3Server(self.uas, self.mapi)
        proto.factory = self  # type: ignore[assignment]  # read for `noisy`
        return proto
