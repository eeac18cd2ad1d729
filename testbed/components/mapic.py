"""MAPIc: the client library every front end embeds to reach mailboxes.

Routing (SPEC §1): user's mailroot → the MSS node the cluster currently runs it on (cluster state)
→ any live MAPI server of that node (failover between them, timeouts) → the mailroot's mss process.

Errors: MapiError with `code` and `permanent`:
    quota_exceeded (permanent, "Destination mailbox exceeds quota"), no_such_folder (permanent),
    io_error (temporary: the array or the node's path to it failed), unavailable (temporary: no
    live MAPI server / mss process for that mailroot, refused or timed out).
"""

from __future__ import annotations

import builtins
import os
from typing import Any

from testbed import rpc
from testbed.components.cluster.state import read_state
from testbed.errors import MaildrillError, RemoteError, ServiceUnavailable
from testbed.home import Home

User = dict[str, Any]


class MapiError(MaildrillError):
    PERMANENT = frozenset(
        {
            "quota_exceeded",
            "no_such_folder",
            "bad_request",
            "no_mailbox",
            "already_exists",
            "no_such_message",
        }
    )

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        self.permanent = code in self.PERMANENT
        super().__init__(message or code)


class MapiClient:
    def __init__(self, home: Home, timeout: float = 3.0, pool: rpc.Pool | None = None) -> None:
        self.home = home
        self.timeout = timeout
        self.rpc_call = pool.call if pool else rpc.call  # long-running services keep connections
        self._groups: tuple[int, dict[str, Any]] = (-1, {})

    def _node_of(self, mailroot: str) -> str:
        """Cluster placement, re-read only when the state file changed."""
        try:
            mtime = os.stat(self.home.cluster_state).st_mtime_ns
        except FileNotFoundError as exc:
            raise MapiError("unavailable", "no cluster state") from exc
        if mtime != self._groups[0]:
            self._groups = (mtime, read_state(self.home)["groups"])
        group = self._groups[1].get(mailroot)
        if group is None:
            raise MapiError("no_mailbox", f"unknown mailroot {mailroot!r}")
        return str(group["node"])

    async def _call(self, method: str, user: User, **params: Any) -> Any:
        topology = self.home.topology
        node = topology.node(self._node_of(str(user.get("mailroot"))))
        last = "no MAPI server"
        for port in topology.mapis_ports():
            try:
                return await self.rpc_call(
                    (node.address, port), method, {"user": user, **params}, timeout=self.timeout
                )
            except ServiceUnavailable as exc:
                last = str(exc)  # this MAPI server (or the mss behind it) is down: try the next
            except RemoteError as exc:
                raise MapiError(exc.code, str(exc).removeprefix(f"{exc.code}: ")) from exc
        raise MapiError("unavailable", f"{user.get('mailroot')} on {node.name}: {last}")

    async def deliver(
        self, user: User, message: bytes, delivery_id: str, folder: str = "INBOX"
    ) -> int:
        """Store one message; idempotent on delivery_id (a retry after a crash stores nothing new).
        Returns the uid (0 if that delivery was stored before and has since been expunged)."""
        return int(
            await self._call(
                "deliver", user, data=rpc.b64(message), delivery_id=delivery_id, folder=folder
            )
        )

    async def status(self, user: User, folder: str = "INBOX") -> dict[str, int]:
        """{"uidvalidity", "uidnext", "messages", "unseen", "recent"}"""
        return dict(await self._call("status", user, folder=folder))

    async def list(self, user: User, folder: str = "INBOX") -> dict[str, Any]:
        """{"uidvalidity", "uidnext", "messages": [{"uid", "size", "flags", "internaldate"}]}"""
        return dict(await self._call("list", user, folder=folder))

    async def fetch(self, user: User, folder: str, uid: int) -> bytes:
        return rpc.unb64(await self._call("fetch", user, folder=folder, uid=uid))

    async def append(
        self,
        user: User,
        folder: str,
        message: bytes,
        flags: builtins.list[str] | None = None,
        internaldate: float | None = None,
    ) -> int:
        return int(
            await self._call(
                "append",
                user,
                folder=folder,
                data=rpc.b64(message),
                flags=flags or [],
                internaldate=internaldate,
            )
        )

    async def store_flags(
        self,
        user: User,
        folder: str,
        uids: builtins.list[int],
        flags: builtins.list[str],
        mode: str = "set",
    ) -> dict[int, builtins.list[str]]:
        """mode: set | add | remove. Returns the new flags of each uid."""
        out = await self._call(
            "store_flags", user, folder=folder, uids=uids, flags=flags, mode=mode
        )
        return {int(k): v for k, v in out.items()}

    async def expunge(
        self, user: User, folder: str, uids: builtins.list[int] | None = None
    ) -> builtins.list[int]:
        """Remove messages flagged \\Deleted (only among `uids` if given); returns removed uids."""
        return builtins.list(await self._call("expunge", user, folder=folder, uids=uids))

    async def delete(self, user: User, folder: str, uids: builtins.list[int]) -> builtins.list[int]:
        """Remove messages at once (POP3 DELE committed at QUIT)."""
        return builtins.list(await self._call("delete", user, folder=folder, uids=uids))

    async def copy(
        self, user: User, folder: str, uids: builtins.list[int], dest: str
    ) -> dict[int, int]:
        out = await self._call("copy", user, folder=folder, uids=uids, dest=dest)
        return {int(k): int(v) for k, v in out.items()}

    async def move(
        self, user: User, folder: str, uids: builtins.list[int], dest: str
    ) -> dict[int, int]:
        out = await self._call("move", user, folder=folder, uids=uids, dest=dest)
        return {int(k): int(v) for k, v in out.items()}

    async def folders(self, user: User) -> builtins.list[str]:
        return builtins.list(await self._call("folders", user))

    async def create_folder(self, user: User, folder: str) -> None:
        await self._call("create_folder", user, folder=folder)

    async def delete_folder(self, user: User, folder: str) -> None:
        await self._call("delete_folder", user, folder=folder)

    async def rename_folder(self, user: User, old: str, new: str) -> None:
        await self._call("rename_folder", user, old=old, new=new)

    async def quota(self, user: User) -> dict[str, int]:
        """{"used": bytes, "limit": bytes}"""
        return dict(await self._call("quota", user))
