"""IMAP4rev1 session on twisted.mail.imap4, backed by the UAS (login) and MAPIc (mailboxes).

Import only after the asyncio reactor is installed. Twisted's IMAP4Server parses commands and
writes FETCH/SEARCH/STORE/LIST answers; ImapSession adds LOGIN and AUTHENTICATE PLAIN against the
UAS, IDLE that polls MAPIc for new mail, and "NO [UNAVAILABLE]" when the mailbox store fails.
imap_server.ImapServer adds the commands that change mailboxes (UIDPLUS, MOVE, folders).

Twisted binds its command tables (e.g. `select_COPY = (do_COPY, arg_seqset, ...)`) to its own
functions, so every overridden command re-declares its table entry (`_cmd`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import re
from collections.abc import Coroutine
from typing import Any

from twisted.internet import defer, task
from twisted.mail import imap4

from testbed.components.imap_mailbox import DELIMITER, FolderInfo, Mailbox
from testbed.components.mapic import MapiError
from testbed.components.twisted_glue import as_deferred
from testbed.components.uas_client import AuthFailed, AuthUnavailable

log = logging.getLogger(__name__)
S = imap4.IMAP4Server
IDLE_POLL = 0.5
CHEAP_FETCH = {"flags", "uid", "rfc822size", "internaldate"}
HEADER_SEARCH = {b"FROM", b"TO", b"CC", b"BCC", b"SUBJECT", b"HEADER", b"BODY", b"TEXT"}
HEADER_SEARCH |= {b"SENTBEFORE", b"SENTON", b"SENTSINCE"}


def _cmd(*parts: Any) -> Any:
    """A command table entry: (handler, argument parsers..., fixed arguments...)."""
    return parts


def _code(exc: MapiError) -> bytes:
    """RFC 5530 response code for a MAPIc error."""
    return {
        "no_such_folder": b"[TRYCREATE]",
        "quota_exceeded": b"[OVERQUOTA]",
        "bad_request": b"[CANNOT]",
    }.get(exc.code, b"[UNAVAILABLE]")


def _seqset(nums: list[int]) -> bytes:
    return b",".join(b"%d" % n for n in nums)


def _flatten(query: Any) -> list[bytes]:
    if isinstance(query, list | tuple):
        return [t for q in query for t in _flatten(q)]
    return [query.upper()] if isinstance(query, bytes) else []


def _parse_date(raw: bytes | None) -> float | None:
    if not raw:
        return None
    try:
        when = datetime.datetime.strptime(raw.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError as exc:
        raise imap4.IllegalClientResponse(f"bad date-time {raw!r}") from exc
    return when.timestamp()


class Account:
    """IAccount for twisted's SELECT/EXAMINE/STATUS/LIST: everything goes to MAPIc."""

    def __init__(self, session: ImapSession) -> None:
        self.s = session

    def select(self, name: str, rw: int = 1) -> Any:
        async def run() -> Mailbox | None:
            assert self.s.user is not None  # only reachable after LOGIN
            try:
                listing = await self.s.mapi.list(self.s.user, name)
            except MapiError as exc:
                if exc.code == "no_such_folder":
                    return None
                raise
            return Mailbox(self.s.call, self.s.mapi, self.s.user, name, listing, bool(rw))

        return self.s.call(run())

    def listMailboxes(self, ref: str, wildcard: str) -> Any:
        pattern = re.escape(ref + wildcard).replace(r"\*", ".*").replace("%", f"[^{DELIMITER}]*")

        async def run() -> list[tuple[str, FolderInfo]]:
            names = await self.s.mapi.folders(self.s.user)
            return [(n, FolderInfo()) for n in names if re.fullmatch(pattern, n, re.IGNORECASE)]

        return self.s.call(run())

    def isSubscribed(self, name: str) -> bool:
        return True  # every folder counts as subscribed: LSUB == LIST

    def subscribe(self, name: str) -> None:
        pass

    def unsubscribe(self, name: str) -> None:
        pass


class ImapSession(imap4.IMAP4Server):
    """Plumbing, login, FETCH/SEARCH and IDLE; the mailbox-changing commands are in
    imap_server.ImapServer."""

    IDENT = b"aimc IMAP4rev1 ready"

    def __init__(self, uas: Any, mapi: Any) -> None:
        super().__init__()
        self.uas, self.mapi = uas, mapi
        self.user: dict[str, Any] | None = None
        self.mbox: Mailbox | None = None
        self._noted: MapiError | None = None
        self._idler: task.LoopingCall | None = None

    # --- plumbing -----------------------------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a MAPIc coroutine; a MapiError is remembered so the BAD twisted would answer
        becomes "NO [UNAVAILABLE] ..." (see sendBadResponse)."""

        def note(failure: Any) -> Any:
            if failure.check(MapiError):
                self._noted = failure.value
            return failure

        return as_deferred(coro).addErrback(note)

    def sendBadResponse(self, tag: bytes | None = None, message: bytes = b"") -> None:
        exc, self._noted = self._noted, None
        if exc is None:
            super().sendBadResponse(tag, message)
        else:
            log.warning("mailbox access failed: %s", exc)
            self.sendNegativeResponse(tag, _code(exc) + b" mailbox store: " + str(exc).encode())

    def _do(self, tag: bytes, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a command body that answers by itself; turn failures into NO/BAD replies."""

        def failed(failure: Any) -> None:
            self._noted = None
            if failure.check(MapiError):
                exc = failure.value
                self.sendNegativeResponse(tag, _code(exc) + b" " + str(exc).encode())
            elif failure.check(imap4.IllegalClientResponse):
                self.sendBadResponse(tag, str(failure.value).encode())
            else:
                log.error("command failed: %s", failure.getTraceback())
                self.sendBadResponse(tag, b"Server error")

        # Hold pipelined commands until this one answered, as twisted does for FETCH, so replies
        # keep the order of the commands.
        owner = self.blocked is None
        if owner:
            self.blocked = []

        def release(_: object) -> None:
            if owner and self.blocked is not None:
                self._unblock()

        as_deferred(coro).addErrback(failed).addBoth(release)

    def capabilities(self) -> dict[bytes, Any]:
        cap = super().capabilities()
        cap.update({b"IDLE": None, b"UIDPLUS": None, b"MOVE": None, b"AUTH": [b"PLAIN"]})
        return cap

    def connectionLost(self, reason: Any = None) -> None:
        self._stop_idle()
        super().connectionLost(reason)

    # --- authentication -----------------------------------------------------------------------
    def do_LOGIN(self, tag: bytes, user: bytes, passwd: bytes) -> None:
        self._do(tag, self._login(tag, user.decode(errors="replace"), passwd.decode("latin-1")))

    unauth_LOGIN = _cmd(do_LOGIN, S.arg_astring, S.arg_finalastring)

    async def _login(self, tag: bytes, address: str, password: str) -> None:
        try:
            self.user = await self.uas.authenticate(address, password)
        except AuthFailed as exc:
            log.info("login %s refused: %s", address, exc.reason)
            self.sendNegativeResponse(tag, b"[AUTHENTICATIONFAILED] Authentication failed")
            return
        except AuthUnavailable as exc:
            log.warning("login %s: UAS unavailable: %s", address, exc)
            self.sendNegativeResponse(tag, b"[UNAVAILABLE] Authentication temporarily unavailable")
            return
        self.account = Account(self)
        self.state = "auth"
        self.setTimeout(self.POSTAUTH_TIMEOUT)
        self.sendPositiveResponse(tag, b"LOGIN completed")

    def do_AUTHENTICATE(self, tag: bytes, mech: bytes) -> None:
        if mech.upper() != b"PLAIN":
            self.sendNegativeResponse(tag, b"AUTHENTICATE method unsupported")
            return
        self.parseState = "pending"
        pending: Any = defer.Deferred()
        pending.addCallback(self._plain, tag)
        self._pendingLiteral = pending
        self.sendContinuationRequest(None)

    unauth_AUTHENTICATE = _cmd(do_AUTHENTICATE, S.arg_atom)

    def _plain(self, line: bytes, tag: bytes) -> None:
        try:
            _authz, authc, password = base64.b64decode(line.strip(), validate=True).split(b"\0")
        except (binascii.Error, ValueError):
            self.sendBadResponse(tag, b"malformed AUTHENTICATE PLAIN response")
            return
        self.do_LOGIN(tag, authc, password)

    # --- FETCH / SEARCH: tell the mailbox whether bodies are needed -----------------------------
    def do_FETCH(self, tag: bytes, messages: Any, query: Any, uid: int = 0) -> None:
        if self.mbox is not None:
            self.mbox.need_body = any(p.type not in CHEAP_FETCH for p in query)
            self.mbox.mark_seen = any(
                p.type in ("rfc822", "rfc822text")
                or (p.type == "body" and not p.peek and (p.empty or p.header or p.text or p.part))
                for p in query
            )
        S.do_FETCH(self, tag, messages, query, uid=uid)

    select_FETCH = _cmd(do_FETCH, S.arg_seqset, S.arg_fetchatt)

    def do_SEARCH(self, tag: bytes, charset: Any, query: Any, uid: int = 0) -> None:
        if self.mbox is not None:
            self.mbox.need_body = bool(HEADER_SEARCH & set(_flatten(query)))
        S.do_SEARCH(self, tag, charset, query, uid=uid)

    select_SEARCH = _cmd(do_SEARCH, S.opt_charset, S.arg_searchkeys)

    # twisted's header searches compare the bytes of the query with str headers (TypeError)
    @staticmethod
    def _header_has(name: Any, query: list[Any], msg: Any) -> bool:
        name = (name.decode() if isinstance(name, bytes) else name).lower()
        needle = query.pop(0)
        needle = needle.decode(errors="replace") if isinstance(needle, bytes) else str(needle)
        return needle.lower() in msg.getHeaders(False, name).get(name, "").lower()

    def search_SUBJECT(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has("subject", query, msg)

    def search_FROM(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has("from", query, msg)

    def search_TO(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has("to", query, msg)

    def search_CC(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has("cc", query, msg)

    def search_BCC(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has("bcc", query, msg)

    def search_HEADER(self, query: list[Any], id: int, msg: Any) -> bool:
        return self._header_has(query.pop(0), query, msg)

    # --- IDLE: poll MAPIc, report new mail as "* n EXISTS" --------------------------------------
    def do_IDLE(self, tag: bytes) -> None:
        S.do_IDLE(self, tag)
        if self.mbox is not None:
            self._idler = task.LoopingCall(self._poll)
            self._idler.start(IDLE_POLL, now=False).addErrback(
                lambda f: log.warning("idle poll stopped: %s", f.getErrorMessage())
            )

    auth_IDLE = select_IDLE = _cmd(
        do_IDLE,
    )

    def _poll(self) -> Any:
        mbox = self.mbox
        if mbox is None:
            return None

        async def run() -> None:
            st = await self.mapi.status(self.user, mbox.name)
            if st["messages"] != mbox.getMessageCount() or st["uidnext"] != mbox.getUIDNext():
                await self._resync()

        def failed(failure: Any) -> None:  # a MAPI hiccup must not end the IDLE
            log.warning("idle poll: %s", failure.getErrorMessage())

        return as_deferred(run()).addErrback(failed)

    def _stop_idle(self) -> None:
        if self._idler is not None and self._idler.running:
            self._idler.stop()
        self._idler = None

    def parse_idle(self, *args: Any) -> None:
        self._stop_idle()
        line = args[0] if args else b""
        tag = self.parseTag
        self.parseState = self.lastState
        del self.lastState, self.parseTag
        if line.strip().upper() == b"DONE":
            self.sendPositiveResponse(tag, b"IDLE terminated")
        else:
            self.sendBadResponse(tag, b"expected DONE to end IDLE")

    async def _resync_if_selected(self, folder: str) -> None:
        if self.mbox is not None and self.mbox.name == folder:
            await self._resync()

    async def _resync(self) -> None:
        """Tell the client about messages that went away or arrived since the last look."""
        assert self.mbox is not None
        gone, exists = await self.mbox.refresh()
        for seq in gone:
            self.sendUntaggedResponse(b"%d EXPUNGE" % seq)
        if exists is not None:
            self.sendUntaggedResponse(b"%d EXISTS" % exists)
