"""MAPIc: the client library every front end embeds to reach mailboxes (INTERFACE STUB).

Routing (SPEC §1): user's mailroot → the MSS node the cluster currently runs it on (cluster state)
→ any live MAPI server of that node (failover between them, timeouts) → the mailroot's mss process.

Errors: MapiError with `code` and `permanent`:
    quota_exceeded (permanent, "Destination mailbox exceeds quota"), no_such_folder (permanent),
    io_error (temporary: the array or the node's path to it failed), unavailable (temporary: no
    live MAPI server / mss process for that mailroot, refused or timed out).
"""

from __future__ import annotations

from typing import Any

from testbed.errors import MaildrillError
from testbed.home import Home

User = dict[str, Any]


class MapiError(MaildrillError):
    PERMANENT = frozenset({"quota_exceeded", "no_such_folder", "bad_request", "no_mailbox"})

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        self.permanent = code in self.PERMANENT
        super().__init__(message or code)


class MapiClient:
    def __init__(self, home: Home, timeout: float = 3.0) -> None:
        self.home = home
        self.timeout = timeout

    async def deliver(self, user: User, message: bytes, delivery_id: str,
                      folder: str = "INBOX") -> int:
        """Store one message; idempotent on delivery_id (a retry after a crash stores nothing new).
        Returns the uid."""
        raise NotImplementedError

    async def status(self, user: User, folder: str = "INBOX") -> dict[str, int]:
        """{"uidvalidity", "uidnext", "messages", "unseen", "recent"}"""
        raise NotImplementedError

    async def list(self, user: User, folder: str = "INBOX") -> dict[str, Any]:
        """{"uidvalidity", "uidnext", "messages": [{"uid", "size", "flags", "internaldate"}]}"""
        raise NotImplementedError

    async def fetch(self, user: User, folder: str, uid: int) -> bytes:
        raise NotImplementedError

    async def append(self, user: User, folder: str, message: bytes, flags: list[str] | None = None,
                     internaldate: float | None = None) -> int:
        raise NotImplementedError

    async def store_flags(self, user: User, folder: str, uids: list[int], flags: list[str],
                          mode: str = "set") -> dict[int, list[str]]:
        """mode: set | add | remove. Returns the new flags of each uid."""
        raise NotImplementedError

    async def expunge(self, user: User, folder: str, uids: list[int] | None = None) -> list[int]:
        """Remove messages flagged \\Deleted (only among `uids` if given); returns removed uids."""
        raise NotImplementedError

    async def delete(self, user: User, folder: str, uids: list[int]) -> list[int]:
        """Remove messages at once (POP3 DELE committed at QUIT)."""
        raise NotImplementedError

    async def copy(self, user: User, folder: str, uids: list[int], dest: str) -> dict[int, int]:
        raise NotImplementedError

    async def move(self, user: User, folder: str, uids: list[int], dest: str) -> dict[int, int]:
        raise NotImplementedError

    async def folders(self, user: User) -> list[str]:
        raise NotImplementedError

    async def create_folder(self, user: User, folder: str) -> None:
        raise NotImplementedError

    async def delete_folder(self, user: User, folder: str) -> None:
        raise NotImplementedError

    async def rename_folder(self, user: User, old: str, new: str) -> None:
        raise NotImplementedError

    async def quota(self, user: User) -> dict[str, int]:
        """{"used": bytes, "limit": bytes}"""
        raise NotImplementedError
