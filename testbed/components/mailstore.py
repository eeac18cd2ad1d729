"""The mailboxes of one mailroot on the array, used only by that mailroot's mss process.

    luns/<root>/<domain>/<local>/info.json        {"level": 0, "quota": N} (custom-quota users only)
    luns/<root>/<domain>/<local>/f/<folder>/...   one Folder per IMAP folder (see mailfolder.py)

Mailbox folders are created lazily at first use, so provisioning 10,000 users writes only the few
info files. The mss process is the single writer of its mailroot, so it keeps folder indexes and
quota usage in memory after the first look.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from testbed.components.mailfolder import Folder
from testbed.errors import RemoteError
from testbed.home import Home

User = dict[str, Any]
QUOTA_MESSAGE = "Destination mailbox exceeds quota"


def mailbox_dir(luns: Path, user: User) -> Path:
    """The user's mailbox on the array (luns/<mailroot>/<domain>/<local>)."""
    return _in_mailroot(luns / str(user["mailroot"]), user)


def _in_mailroot(mailroot_dir: Path, user: User) -> Path:
    local, _, domain = str(user["address"]).lower().rpartition("@")
    return mailroot_dir / quote(domain, safe="") / quote(local, safe="")


def provision_mailbox_info(home: Home, users: list[User]) -> None:
    """The custom quota of level-0 users lives with the mailbox, as on the real MSS."""
    for user in users:
        if user["level"] == 0:
            box = mailbox_dir(home.luns, user)
            box.mkdir(parents=True, exist_ok=True)
            (box / "info.json").write_text(json.dumps({"level": 0, "quota": user["quota"]}))


def _folder_key(name: str) -> str:
    if name.upper() == "INBOX":
        return "INBOX"
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise RemoteError("bad_request", f"bad folder name {name!r}")
    return name


class Mailbox:
    def __init__(self, path: Path, user: User) -> None:
        self.path = path
        self.user = user
        self.folders: dict[str, Folder] = {}
        self._used: int | None = None
        names = [p.name for p in (path / "f").iterdir()] if (path / "f").exists() else []
        self.names = {_unquote(n) for n in names if not n.startswith(".")}
        self.names.add("INBOX")

    def _dir(self, name: str) -> Path:
        return self.path / "f" / quote(name, safe="")

    def folder(self, name: str, create: bool = False) -> Folder:
        key = _folder_key(name)
        if key in self.folders:
            return self.folders[key]
        path = self._dir(key)
        if not path.exists():
            if key != "INBOX" and not create:
                raise RemoteError("no_such_folder", f"no folder {name!r}")
            path.parent.mkdir(parents=True, exist_ok=True)
            Folder.create(path, uidvalidity=int(time.time()))
            self.names.add(key)
        folder = self.folders[key] = Folder(path)
        return folder

    def limit(self) -> int:
        if self.user.get("level") == 0:
            try:
                return int(json.loads((self.path / "info.json").read_text())["quota"])
            except (FileNotFoundError, KeyError, ValueError):
                pass
        return int(self.user.get("quota") or 0)

    def used(self) -> int:
        if self._used is None:
            self._used = sum(self.folder(n).size() for n in sorted(self.names))
        return self._used

    def charge(self, size: int, enforce: bool) -> None:
        if enforce and self.used() + size > self.limit():
            raise RemoteError("quota_exceeded", QUOTA_MESSAGE)
        self._used = self.used() + size

    def create_folder(self, name: str) -> None:
        key = _folder_key(name)
        if key in self.names:
            raise RemoteError("already_exists", f"folder {name!r} exists")
        self.folder(key, create=True)

    def delete_folder(self, name: str) -> None:
        key = _folder_key(name)
        if key == "INBOX":
            raise RemoteError("bad_request", "INBOX cannot be deleted")
        folder = self.folder(key)
        size = folder.size()
        trash = self.path / "f" / f".trash-{uuid.uuid4().hex}"
        folder.path.rename(trash)  # gone in one step; the slow removal comes after
        shutil.rmtree(trash, ignore_errors=True)
        self.folders.pop(key, None)
        self.names.discard(key)
        if self._used is not None:
            self._used -= size

    def rename_folder(self, old: str, new: str) -> None:
        src, dst = _folder_key(old), _folder_key(new)
        if src == "INBOX":
            raise RemoteError("bad_request", "renaming INBOX is not supported")
        if dst in self.names:
            raise RemoteError("already_exists", f"folder {new!r} exists")
        folder = self.folder(src)
        folder.path.rename(self._dir(dst))
        self.folders.pop(src, None)
        self.names.discard(src)
        self.names.add(dst)


def _unquote(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name)


class MailStore:
    """All mailboxes of one mailroot (the folder its mss.ini MailDir names); one per mss process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.boxes: dict[str, Mailbox] = {}

    def mailbox(self, user: User) -> Mailbox:
        address = str(user["address"]).lower()
        box = self.boxes.get(address)
        if box is None:
            box = self.boxes[address] = Mailbox(_in_mailroot(self.root, user), user)
        box.user = user  # the UAS record may have changed (quota, level)
        return box
