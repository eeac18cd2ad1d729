"""IMAP4 commands that change folders and messages, on top of ImapSession (imap_proto).

Import only after the asyncio reactor is installed. Adds UIDPLUS (APPENDUID, COPYUID, UID EXPUNGE),
MOVE (RFC 6851), CREATE/DELETE/RENAME, EXPUNGE/CLOSE and NOOP (which reports new and vanished mail)
through MAPIc. Twisted's command tables point at its own functions, so each command re-declares
its entry with `_cmd`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import protocol
from twisted.mail import imap4

from testbed.components.imap_mailbox import DELIMITER
from testbed.components.imap_proto import ImapSession, S, _cmd, _parse_date, _seqset


class ImapServer(ImapSession):
    # --- folders ------------------------------------------------------------------------------
    def do_CREATE(self, tag: bytes, name: bytes) -> None:
        async def run() -> None:
            await self.mapi.create_folder(self.user, imap4._parseMbox(name).rstrip(DELIMITER))
            self.sendPositiveResponse(tag, b"CREATE completed")

        self._do(tag, run())

    auth_CREATE = select_CREATE = _cmd(do_CREATE, S.arg_finalastring)

    def do_DELETE(self, tag: bytes, name: bytes) -> None:
        folder = imap4._parseMbox(name)
        if folder.upper() == "INBOX":
            self.sendNegativeResponse(tag, b"[CANNOT] INBOX cannot be deleted")
            return

        async def run() -> None:
            await self.mapi.delete_folder(self.user, folder)
            self.sendPositiveResponse(tag, b"DELETE completed")

        self._do(tag, run())

    auth_DELETE = select_DELETE = _cmd(do_DELETE, S.arg_finalastring)

    def do_RENAME(self, tag: bytes, old: bytes, new: bytes) -> None:
        async def run() -> None:
            await self.mapi.rename_folder(self.user, imap4._parseMbox(old), imap4._parseMbox(new))
            self.sendPositiveResponse(tag, b"RENAME completed")

        self._do(tag, run())

    auth_RENAME = select_RENAME = _cmd(do_RENAME, S.arg_astring, S.arg_finalastring)

    # --- messages in and between folders (UIDPLUS) ----------------------------------------------
    def do_APPEND(self, tag: bytes, mailbox: bytes, flags: Any, date: Any, message: Any) -> None:
        folder = imap4._parseMbox(mailbox)
        names = [f.decode() for f in (flags or [])]

        async def run() -> None:
            when = _parse_date(date)
            data = message.read() if hasattr(message, "read") else bytes(message)
            uid = await self.mapi.append(self.user, folder, data, names, when)
            validity = (await self.mapi.status(self.user, folder))["uidvalidity"]
            await self._resync_if_selected(folder)
            self.sendPositiveResponse(tag, b"[APPENDUID %d %d] APPEND completed" % (validity, uid))

        self._do(tag, run())

    auth_APPEND = select_APPEND = _cmd(do_APPEND, S.arg_astring, S.opt_plist, S.opt_datetime,
                                   S.arg_literal)  # fmt: skip

    def do_COPY(self, tag: bytes, messages: Any, mailbox: bytes, uid: int = 0) -> None:
        self._transfer(tag, messages, mailbox, bool(uid), move=False)

    def do_MOVE(self, tag: bytes, messages: Any, mailbox: bytes, uid: int = 0) -> None:
        self._transfer(tag, messages, mailbox, bool(uid), move=True)

    select_COPY = _cmd(do_COPY, S.arg_seqset, S.arg_finalastring)
    select_MOVE = _cmd(do_MOVE, S.arg_seqset, S.arg_finalastring)

    def _transfer(self, tag: bytes, messages: Any, mailbox: bytes, uid: bool, move: bool) -> None:
        assert self.mbox is not None
        mbox, dest = self.mbox, imap4._parseMbox(mailbox)
        uids = mbox.uids(messages, uid)
        verb = b"MOVE" if move else b"COPY"

        async def run() -> None:
            if not uids:
                self.sendPositiveResponse(tag, verb + b" completed (no messages)")
                return
            op = self.mapi.move if move else self.mapi.copy
            mapping = {
                int(k): int(v) for k, v in (await op(self.user, mbox.name, uids, dest)).items()
            }
            validity = (await self.mapi.status(self.user, dest))["uidvalidity"]
            src = sorted(mapping)
            code = b"[COPYUID %d %s %s]" % (
                validity, _seqset(src), _seqset([mapping[u] for u in src]),
            )  # fmt: skip
            if not move:
                await self._resync_if_selected(dest)
                self.sendPositiveResponse(tag, code + b" COPY completed")
                return
            self.sendPositiveResponse(None, code + b" moved")  # RFC 6851: untagged COPYUID
            seqs = [seq for seq, m in enumerate(mbox.msgs, 1) if m["uid"] in mapping]
            mbox.msgs = [m for m in mbox.msgs if m["uid"] not in mapping]
            for seq in sorted(seqs, reverse=True):
                self.sendUntaggedResponse(b"%d EXPUNGE" % seq)
            self.sendPositiveResponse(tag, b"MOVE completed")

        self._do(tag, run())

    def do_UID(self, tag: bytes, command: bytes, line: bytes) -> None:
        command = command.upper()
        if command == b"EXPUNGE":
            messages, rest = self.arg_seqset(line)
            if rest:
                raise imap4.IllegalClientResponse("too many arguments")
            self._expunge(tag, messages)
        elif command in (b"COPY", b"MOVE", b"FETCH", b"STORE", b"SEARCH"):
            self.dispatchCommand(tag, command, line, uid=1)
        else:
            raise imap4.IllegalClientResponse(command)

    select_UID = _cmd(do_UID, S.arg_atom, S.arg_line)

    def do_EXPUNGE(self, tag: bytes) -> None:
        self._expunge(tag, None)

    select_EXPUNGE = _cmd(
        do_EXPUNGE,
    )

    def _expunge(self, tag: bytes, messages: Any) -> None:
        assert self.mbox is not None
        mbox = self.mbox
        if not mbox.isWriteable():
            self.sendNegativeResponse(tag, b"[READ-ONLY] mailbox is read-only")
            return
        uids = None if messages is None else mbox.uids(messages, True)

        async def run() -> None:
            if uids == []:
                seqs: list[int] = []
            else:
                seqs = await mbox.expunge_uids(uids)
            for seq in seqs:
                self.sendUntaggedResponse(b"%d EXPUNGE" % seq)
            self.sendPositiveResponse(tag, b"EXPUNGE completed")

        self._do(tag, run())

    def do_CLOSE(self, tag: bytes) -> None:
        assert self.mbox is not None
        mbox = self.mbox

        async def run() -> None:
            if mbox.isWriteable():
                await mbox.expunge_uids(None)  # CLOSE expunges silently
            self.mbox, self.state = None, "auth"
            self.sendPositiveResponse(tag, b"CLOSE completed")

        self._do(tag, run())

    select_CLOSE = _cmd(
        do_CLOSE,
    )

    def do_NOOP(self, tag: bytes) -> None:
        if self.mbox is None:
            self.sendPositiveResponse(tag, b"NOOP completed")
            return

        async def run() -> None:
            await self._resync()
            self.sendPositiveResponse(tag, b"NOOP completed")

        self._do(tag, run())

    unauth_NOOP = auth_NOOP = select_NOOP = logout_NOOP = _cmd(
        do_NOOP,
    )
    select_CHECK = _cmd(
        do_NOOP,
    )


class ImapFactory(protocol.ServerFactory):
    noisy = False

    def __init__(self, uas: Any, mapi: Any) -> None:
        self.uas = uas
        self.mapi = mapi

    def buildProtocol(self, addr: Any) -> Any:
        proto = ImapServer(self.uas, self.mapi)
        proto.factory = self
        return proto
