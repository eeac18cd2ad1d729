"""What became of every accepted background message: delivered (once), duplicated, bounced, lost.

Each recipient's INBOX is read once over IMAP through the VIP (Message-IDs of every message);
a message not there is looked for in its sender's mailbox as the subject of a delivery status
notification (the DSN quotes the original headers). Internet senders' bounces go to the Internet
node, whose record is read instead.
"""

from __future__ import annotations

import imaplib
import re
from collections import Counter
from typing import Any

from testbed.home import Home
from testbed.runtime.provision import read_users
from testbed.topology.endpoints import client_endpoints
from testbed.traffic import ledger

MSGID = re.compile(rb"message-id:\s*(<[^>]+>)", re.I)


def _mailbox_ids(endpoint: str, user: dict[str, Any]) -> tuple[Counter[str], bytes]:
    """Message-IDs in the user's INBOX (with counts) and the text of its bounce messages."""
    host, port = endpoint.rsplit(":", 1)
    box = imaplib.IMAP4(host, int(port), timeout=30)
    try:
        box.login(user["address"], user["password"])
        box.select("INBOX", readonly=True)
        ids: Counter[str] = Counter()
        bounces = b""
        typ, data = box.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM)])")
        if typ == "OK":
            for i, part in enumerate(d for d in data if isinstance(d, tuple)):
                head = part[1]
                found = MSGID.search(head)
                if found:
                    ids[found.group(1).decode()] += 1
                if b"mailer-daemon" in head.lower():
                    typ2, body = box.fetch(str(i + 1), "(BODY.PEEK[])")
                    bounces += b"".join(p[1] for p in body if isinstance(p, tuple))
        return ids, bounces
    finally:
        try:
            box.logout()
        except (OSError, imaplib.IMAP4.error):
            box.shutdown()


def reconcile(home: Home) -> dict[str, int]:
    records = ledger.read(home)
    decided = {r["message_id"] for r in records if r["event"] in ("delivered", "bounced", "lost")}
    accepted = [
        r
        for r in records
        if r["event"] == "sent" and r["outcome"] == "accepted" and r["message_id"] not in decided
    ]
    users = {u["address"]: u for u in read_users(home)}
    endpoint = client_endpoints(home.topology)["imap"]
    boxes: dict[str, tuple[Counter[str], bytes]] = {}

    def box(address: str) -> tuple[Counter[str], bytes]:
        if address not in boxes:
            try:
                boxes[address] = _mailbox_ids(endpoint, users[address])
            except (OSError, imaplib.IMAP4.error, KeyError):
                boxes[address] = (Counter(), b"")
        return boxes[address]

    counts = Counter({"accepted": len(accepted)})
    for rec in accepted:
        mid = rec["message_id"]
        copies = box(rec["to"])[0][mid]
        if copies >= 1:
            ledger.append(home, "delivered", message_id=mid, copies=copies)
            counts["delivered"] += 1
            if copies > 1:
                ledger.append(home, "duplicate", message_id=mid, copies=copies)
                counts["duplicate"] += 1
        elif rec["from"] in users and mid.encode() in box(rec["from"])[1]:
            ledger.append(home, "bounced", message_id=mid)
            counts["bounced"] += 1
        else:
            ledger.append(home, "lost", message_id=mid, to=rec["to"])
            counts["lost"] += 1
    return dict(counts)
