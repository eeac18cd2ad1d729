"""/opt/aimc/setup/migrate.sh MAILROOT on an MSS node: the disk-array chapter's withdrawal.

Re-delivers the mail that arrived on the temporary mailroot (the folder this node's mss_yj.ini
names) into the mailroot on the repaired array, through MAPIc like any delivery. Users go in class
order — VIP, then paying, then regular (the plan: key users first); mail that would exceed the
user's quota stays behind; filters, address books and notifications are not moved (the plan says
so). Each message carries a delivery id derived from its file, so running migrate again never
duplicates anything. Every user migrated is journaled ("migrate") for the scorer.
"""

from __future__ import annotations

import asyncio
import configparser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from testbed.components.mailstore import _in_mailroot
from testbed.components.mapic import MapiClient, MapiError
from testbed.components.mssconfig import config_dir
from testbed.faults import journal
from testbed.home import Home
from testbed.runtime.provision import read_users

ORDER = {"vip": 0, "paying": 1, "regular": 2}


def temp_mailroot(home: Home, node: str, mailroot: str) -> Path:
    parser = configparser.ConfigParser()
    parser.read_string((config_dir(home, node, mailroot) / "mss_yj.ini").read_text())
    return home.node_root(node) / parser["MSS"]["MailDir"].strip().lstrip("/")


async def _migrate_user(
    mapi: MapiClient, user: dict[str, Any], box: Path, mailroot: str
) -> tuple[int, int]:
    moved = left = 0
    quota = await mapi.quota(user)
    room = quota["limit"] - quota["used"]
    for folder_dir in sorted((box / "f").glob("*")) if (box / "f").exists() else []:
        folder = unquote(folder_dir.name)
        for msg in sorted((folder_dir / "cur").glob("*"), key=lambda p: int(p.name.split(".")[0])):
            size = msg.stat().st_size
            if size > room:
                left += 1  # over quota: stays on the temporary mailroot
                continue
            if folder != "INBOX" and folder not in await mapi.folders(user):
                await mapi.create_folder(user, folder)
            await mapi.deliver(
                user, msg.read_bytes(), f"migrate/{mailroot}/{folder}/{msg.name}", folder=folder
            )
            msg.unlink()
            room -= size
            moved += 1
    return moved, left


def migrate(
    home: Home, node: str, mailroot: str, classes: tuple[str, ...] = ("vip", "paying", "regular")
) -> tuple[int, int]:
    temp = temp_mailroot(home, node, mailroot)
    users = sorted(
        (u for u in read_users(home) if u["mailroot"] == mailroot and u["cls"] in classes),
        key=lambda u: ORDER.get(u["cls"], 9),
    )
    mapi = MapiClient(home, timeout=10.0)
    total_moved = total_left = 0
    for user in users:
        box = _in_mailroot(temp, user)
        if not box.exists():
            continue
        try:
            moved, left = asyncio.run(_migrate_user(mapi, user, box, mailroot))
        except MapiError as exc:
            print(f"{user['address']}: {exc} — stopped; run migrate.sh again when fixed")
            return total_moved, total_left
        journal.append(
            home,
            "migrate",
            mailroot=mailroot,
            user=user["address"],
            cls=user["cls"],
            moved=moved,
            left=left,
        )
        print(f"{user['cls']:<8} {user['address']:<40} moved {moved}, left (over quota) {left}")
        total_moved, total_left = total_moved + moved, total_left + left
    return total_moved, total_left


def main(home: Home, node: str, argv: list[str]) -> int:
    """migrate.sh MAILROOT [--class vip,paying] — a class filter lets an operator move every
    mailroot's key users before anyone else's."""
    classes: tuple[str, ...] = ("vip", "paying", "regular")
    if len(argv) == 3 and argv[1] == "--class":
        classes = tuple(argv[2].split(","))
        argv = argv[:1]
    if len(argv) != 1 or argv[0] not in home.topology.mailroots or not set(classes) <= set(ORDER):
        print(
            f"usage: migrate.sh MAILROOT [--class vip,paying,regular]  "
            f"(MAILROOT one of {', '.join(home.topology.mailroots)})"
        )
        return 2
    moved, left = migrate(home, node, argv[0], classes)
    print(
        f"migrate {argv[0]} ({','.join(classes)}): {moved} messages moved to the array, {left} "
        "left behind (quota); filters, address books and notifications are not moved"
    )
    return 0
