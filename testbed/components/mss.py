"""The mss process of one mailroot (SPEC §1 step 7): the only reader/writer of that mailroot's data.

It runs on whichever MSS node the cluster placed the mailroot's service group. At start it takes the
array reservation (fencing off a previous holder), then answers MAPI-server requests over RPC. Every
operation asks the array first (check_io), so an offline array, a broken path or a lost reservation
reach the client as the I/O error they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from testbed import rpc
from testbed.components import array
from testbed.components.mailstore import Mailbox, MailStore
from testbed.components.mssconfig import log_restart, read_maildir
from testbed.errors import MaildrillError, RemoteError
from testbed.home import Home
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio

Params = dict[str, Any]


class MailrootService:
    def __init__(
        self,
        home: Home,
        node: str,
        mailroot: str,
        maildir: Path | None = None,
        on_array: bool = True,
    ) -> None:
        self.home, self.node, self.mailroot = home, node, mailroot
        self.on_array = on_array  # a temporary mailroot on local disk never asks the array
        self.store = MailStore(maildir or home.luns / mailroot)

    def _box(self, p: Params, write: bool) -> Mailbox:
        if self.on_array:
            array.check_io(self.home, self.node, write, self.mailroot)
        user = p["user"]
        if user.get("mailroot") != self.mailroot:
            raise RemoteError("no_mailbox", f"{user.get('address')} is not on {self.mailroot}")
        return self.store.mailbox(user)

    async def deliver(self, p: Params) -> int:
        box = self._box(p, write=True)
        folder = box.folder(p.get("folder") or "INBOX")
        known = folder.known(p["delivery_id"])
        if known is not None:
            return known  # a retry of a delivery that already happened: store nothing new
        data = rpc.unb64(p["data"])
        box.charge(len(data), enforce=True)
        return folder.add(data, [], None, delivery_id=p["delivery_id"])

    async def append(self, p: Params) -> int:
        box = self._box(p, write=True)
        folder = box.folder(p["folder"])
        data = rpc.unb64(p["data"])
        box.charge(len(data), enforce=True)
        return folder.add(data, p.get("flags") or [], p.get("internaldate"))

    async def status(self, p: Params) -> dict[str, int]:
        folder = self._box(p, write=False).folder(p.get("folder") or "INBOX")
        unseen = sum(1 for e in folder.entries.values() if "\\Seen" not in e.flags)
        return {
            "uidvalidity": folder.uidvalidity,
            "uidnext": folder.uidnext,
            "messages": len(folder.entries),
            "unseen": unseen,
            "recent": 0,
        }

    async def list_(self, p: Params) -> dict[str, Any]:
        folder = self._box(p, write=False).folder(p.get("folder") or "INBOX")
        messages = []
        for uid in sorted(folder.entries):
            e = folder.entry(uid)
            messages.append({"uid": uid, "size": e.size, "flags": e.flags, "internaldate": e.date})
        return {"uidvalidity": folder.uidvalidity, "uidnext": folder.uidnext, "messages": messages}

    async def fetch(self, p: Params) -> str:
        folder = self._box(p, write=False).folder(p["folder"])
        return rpc.b64(folder.read(int(p["uid"])))

    async def store_flags(self, p: Params) -> dict[str, list[str]]:
        folder = self._box(p, write=True).folder(p["folder"])
        mode, flags, out = p.get("mode", "set"), list(p["flags"]), {}
        for uid in p["uids"]:
            if uid not in folder.entries:
                continue
            old = folder.entries[uid].flags
            new = {
                "set": flags,
                "add": old + flags,
                "remove": [f for f in old if f not in flags],
            }.get(mode)
            if new is None:
                raise RemoteError("bad_request", f"bad mode {mode!r}")
            out[str(uid)] = folder.set_flags(uid, new)
        return out

    def _remove(self, box: Mailbox, folder_name: str, uids: list[int]) -> list[int]:
        folder = box.folder(folder_name)
        freed = sum(folder.entry(u).size for u in uids if u in folder.entries)
        removed = folder.remove(uids)
        box.charge(-freed, enforce=False)
        return removed

    async def expunge(self, p: Params) -> list[int]:
        box = self._box(p, write=True)
        folder = box.folder(p["folder"])
        wanted = p.get("uids")
        uids = [
            u
            for u, e in folder.entries.items()
            if "\\Deleted" in e.flags and (wanted is None or u in wanted)
        ]
        return self._remove(box, p["folder"], sorted(uids))

    async def delete(self, p: Params) -> list[int]:
        box = self._box(p, write=True)
        return self._remove(box, p["folder"], [int(u) for u in p["uids"]])

    async def copy(self, p: Params) -> dict[str, int]:
        box = self._box(p, write=True)
        src, dst = box.folder(p["folder"]), box.folder(p["dest"])
        out = {}
        for uid in p["uids"]:
            if uid in src.entries:
                entry = src.entry(uid)
                box.charge(entry.size, enforce=True)
                out[str(uid)] = dst.add(None, entry.flags, None, link_from=src.path_of(uid))
        return out

    async def move(self, p: Params) -> dict[str, int]:
        out = await self.copy(p)
        await self.delete({**p, "uids": [int(u) for u in out]})
        return out

    async def folders(self, p: Params) -> list[str]:
        return sorted(self._box(p, write=False).names, key=lambda n: (n != "INBOX", n))

    async def create_folder(self, p: Params) -> None:
        self._box(p, write=True).create_folder(p["folder"])

    async def delete_folder(self, p: Params) -> None:
        self._box(p, write=True).delete_folder(p["folder"])

    async def rename_folder(self, p: Params) -> None:
        self._box(p, write=True).rename_folder(p["old"], p["new"])

    async def quota(self, p: Params) -> dict[str, int]:
        box = self._box(p, write=False)
        return {"used": box.used(), "limit": box.limit()}

    def handlers(self) -> dict[str, Callable[[Params], Awaitable[Any]]]:
        names = (
            "deliver",
            "append",
            "status",
            "list",
            "fetch",
            "store_flags",
            "expunge",
            "delete",
            "copy",
            "move",
            "folders",
            "create_folder",
            "delete_folder",
            "rename_folder",
            "quota",
        )
        return {n: getattr(self, "list_" if n == "list" else n) for n in names}


def main(ctx: ServiceContext) -> None:
    mailroot, node = ctx.service.instance, ctx.node.name
    try:
        maildir = read_maildir(ctx.home, node, mailroot)
    except MaildrillError as exc:
        log_restart(ctx.home, node, f"mss.{mailroot} FAILED: {exc}")
        raise SystemExit(f"mss.{mailroot}: {exc}") from exc
    service = MailrootService(ctx.home, node, mailroot, maildir.path, maildir.on_array)
    servers: list[asyncio.Server] = []

    async def start() -> None:
        if maildir.on_array:
            array.reserve(ctx.home, mailroot, node)
        servers.append(await rpc.serve(ctx.address, ctx.service.port, service.handlers()))
        where = "disk array" if maildir.on_array else "local disk"
        log_restart(
            ctx.home, node, f"mss.{mailroot} started MailDir={maildir.configured} ({where}) ready"
        )
        ctx.log.info("serving mailroot %s from %s", mailroot, maildir.configured)

    async def stop() -> None:
        for server in servers:
            server.close()

    run_asyncio(start, stop)
