"""The mail ledger: <home>/ledger.jsonl, every background message and what became of it.

    {"event": "sent", "message_id", "from", "to", "cls", "outcome": accepted|rejected|error, "code"}
    {"event": "delivered"|"bounced"|"lost"|"duplicate", "message_id", ...}   (by reconcile)

Same format and locking as the journal (one line, one write, under a lock), with mono/wall times.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any

from testbed.home import Home


def ledger_path(home: Home) -> Any:
    return home.root / "ledger.jsonl"


def append(home: Home, event: str, **fields: Any) -> None:
    record = {"event": event, "mono": time.monotonic(), "wall": time.time(), **fields}
    fd = os.open(ledger_path(home), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def read(home: Home) -> list[dict[str, Any]]:
    path = ledger_path(home)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
