"""IMAP mailbox model for the front end: a per-session cache of one folder's listing from MAPIc.

Import only after the asyncio reactor is installed (twisted.mail.imap4). Twisted's IMAP4Server
works on sequence numbers and synchronous message objects; MAPIc is asynchronous and keyed by UID.
So a selected folder keeps the listing MAPIc returned (uid, size, flags, internaldate), sequence
number = position + 1, and message bodies are fetched only for FETCH/SEARCH parts that need them.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import email.utils
import io
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.mail import imap4
from zope.interface import implementer

Call = Callable[[Coroutine[Any, Any, Any]], Any]  # coroutine -> Deferred (errors noted)
DELIMITER = "/"
SYSTEM_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")


@implementer(imap4.IMessage, imap4.IMessageFile)
class Message:
    """One message as IMAP4Server's FETCH/SEARCH code wants it."""

    def __init__(self, info: dict[str, Any], raw: bytes | None) -> None:
        self.info = info
        self.raw = raw

    def _split(self) -> tuple[bytes, bytes]:
        raw = self.raw or b""
        for sep in (b"\r\n\r\n", b"\n\n"):
            head, found, body = raw.partition(sep)
            if found:
                return head + sep, body
        return raw, b""

    def getUID(self) -> int:
        return int(self.info["uid"])

    def getFlags(self) -> list[str]:
        return list(self.info.get("flags", []))

    def getInternalDate(self) -> str:
        return email.utils.formatdate(float(self.info.get("internaldate") or 0), usegmt=True)

    def getSize(self) -> int:
        return int(self.info["size"])

    def getHeaders(self, negate: bool, *names: Any) -> dict[str, str]:
        head, _ = self._split()
        parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        wanted = {(n.decode() if isinstance(n, bytes) else n).lower() for n in names}
        out: dict[str, str] = {}
        for key, value in parsed.items():
            if not names or ((key.lower() in wanted) != negate):
                out[key.lower()] = str(value)  # twisted looks headers up in lower case
        return out

    def getBodyFile(self) -> io.BytesIO:
        return io.BytesIO(self._split()[1])

    def isMultipart(self) -> bool:
        return False

    def getSubPart(self, part: int) -> Any:
        raise TypeError("not a multipart message")

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.raw or b"")


class FolderInfo:
    """What LIST needs about a folder."""

    def getFlags(self) -> list[str]:
        return []

    def getHierarchicalDelimiter(self) -> str:
        return DELIMITER


@implementer(imap4.IMailboxInfo, imap4.IMailbox)
class Mailbox(FolderInfo):
    def __init__(
        self,
        call: Call,
        mapi: Any,
        user: dict[str, Any],
        name: str,
        listing: dict[str, Any],
        rw: bool = True,
    ) -> None:
        self.call, self.mapi, self.user, self.name, self.rw = call, mapi, user, name, rw
        self.listeners: list[Any] = []
        self.load(listing)
        self.need_body = False  # set by the session for FETCH/SEARCH parts that read the message
        self.mark_seen = False  # set by the session for non-PEEK body fetches

    def load(self, listing: dict[str, Any]) -> None:
        self.uidvalidity = int(listing.get("uidvalidity", 1))
        self.uidnext = int(listing.get("uidnext", 1))
        self.msgs: list[dict[str, Any]] = sorted(listing["messages"], key=lambda m: m["uid"])

    # --- IMailboxInfo / IMailbox basics -------------------------------------------------------
    def getFlags(self) -> list[str]:
        return list(SYSTEM_FLAGS)

    def getUIDValidity(self) -> int:
        return self.uidvalidity

    def getUIDNext(self) -> int:
        return self.uidnext

    def getUID(self, seq: int) -> int:
        return int(self.msgs[seq - 1]["uid"])

    def getMessageCount(self) -> int:
        return len(self.msgs)

    def getRecentCount(self) -> int:
        return sum(1 for m in self.msgs if "\\Recent" in m.get("flags", []))

    def getUnseenCount(self) -> int:
        return sum(1 for m in self.msgs if "\\Seen" not in m.get("flags", []))

    def isWriteable(self) -> bool:
        return self.rw

    def destroy(self) -> None:
        raise imap4.MailboxException("use DELETE")

    def addListener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def removeListener(self, listener: Any) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def requestStatus(self, names: list[str]) -> dict[str, int]:
        values = {
            "MESSAGES": self.getMessageCount(),
            "RECENT": self.getRecentCount(),
            "UIDNEXT": self.getUIDNext(),
            "UIDVALIDITY": self.getUIDValidity(),
            "UNSEEN": self.getUnseenCount(),
        }
        return {n: values[n.upper()] for n in names if n.upper() in values}

    # --- message sets -------------------------------------------------------------------------
    def resolve(self, messages: Any, uid: bool) -> list[tuple[int, dict[str, Any]]]:
        """(seq, info) for every message of the set, in mailbox order."""
        if not self.msgs:
            return []
        with contextlib.suppress(ValueError):  # ValueError: `last` was already set
            messages.last = self.msgs[-1]["uid"] if uid else len(self.msgs)
        out = []
        for seq, info in enumerate(self.msgs, 1):
            if (info["uid"] if uid else seq) in messages:
                out.append((seq, info))
        return out

    def uids(self, messages: Any, uid: bool) -> list[int]:
        return [int(info["uid"]) for _, info in self.resolve(messages, uid)]

    # --- operations ---------------------------------------------------------------------------
    def fetch(self, messages: Any, uid: bool) -> Any:
        chosen = self.resolve(messages, uid)
        need_body, mark_seen = self.need_body, self.mark_seen and self.rw
        self.need_body = self.mark_seen = False

        async def run() -> list[tuple[int, Message]]:
            out = []
            for seq, info in chosen:
                raw = (
                    await self.mapi.fetch(self.user, self.name, info["uid"]) if need_body else None
                )
                out.append((seq, Message(info, raw)))
            unseen = [m.getUID() for _, m in out if "\\Seen" not in m.getFlags()]
            if mark_seen and unseen:
                new = await self.mapi.store_flags(self.user, self.name, unseen, ["\\Seen"], "add")
                self.apply_flags(new)
            return out

        return self.call(run())

    def apply_flags(self, new: dict[Any, list[str]]) -> dict[int, list[str]]:
        """Update cached flags from MAPIc's answer; returns {seq: flags}."""
        by_uid = {int(u): list(f) for u, f in new.items()}
        changed = {}
        for seq, info in enumerate(self.msgs, 1):
            if info["uid"] in by_uid:
                info["flags"] = by_uid[info["uid"]]
                changed[seq] = info["flags"]
        return changed

    def store(self, messages: Any, flags: list[str], mode: int, uid: bool) -> Any:
        uids = self.uids(messages, uid)
        flags = [f for f in flags if f.lower() != "\\recent"]
        how = {1: "add", -1: "remove", 0: "set"}[mode]

        async def run() -> dict[int, list[str]]:
            if not uids:
                return {}
            new = await self.mapi.store_flags(self.user, self.name, uids, flags, how)
            return self.apply_flags(new)

        return self.call(run())

    async def refresh(self) -> tuple[list[int], int | None]:
        """Re-read the listing; returns (expunged seqs, highest first; new EXISTS or None)."""
        listing = await self.mapi.list(self.user, self.name)
        now = {m["uid"] for m in listing["messages"]}
        gone = [seq for seq, m in enumerate(self.msgs, 1) if m["uid"] not in now]
        before = len(self.msgs) - len(gone)
        self.load(listing)
        return sorted(gone, reverse=True), (len(self.msgs) if len(self.msgs) != before else None)

    async def expunge_uids(self, uids: list[int] | None) -> list[int]:
        """Expunge (only `uids` if given); returns the EXPUNGE seq numbers, highest first."""
        removed = set(await self.mapi.expunge(self.user, self.name, uids))
        seqs = [seq for seq, m in enumerate(self.msgs, 1) if m["uid"] in removed]
        self.msgs = [m for m in self.msgs if m["uid"] not in removed]
        return sorted(seqs, reverse=True)

    def expunge(self) -> Any:
        return self.call(self.expunge_uids(None))

    def addMessage(self, message: Any, flags: Any = (), date: Any = None) -> Any:
        raise imap4.MailboxException("APPEND is handled by the session")
