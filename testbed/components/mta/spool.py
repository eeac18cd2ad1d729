"""The MTA's queue on its node's disk: what was answered with 250 is here until delivered or bounced.

    <spool>/data/<qid>   the message, written first
    <spool>/env/<qid>    its envelope (JSON), written second: its existence means "accepted"

Both are written to a temp name and renamed, so kill -9 at any instant leaves either a complete
message or none. Data without an envelope was never acknowledged and is dropped at the next start.
Each recipient keeps its own state, saved after every change, so a restart resumes only what is left.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PENDING, DELIVERED, BOUNCED = "pending", "delivered", "bounced"
_counter = itertools.count(int(time.time() * 1000) & 0xFFFFF)


def new_queue_id() -> str:
    """Like the platform's ids, e.g. 25729-429D69CB.000CFFE5 (pid, time, counter)."""
    return f"{os.getpid()}-{int(time.time()):08X}.{next(_counter):08X}"


@dataclass
class Recipient:
    address: str
    local: bool
    user: dict[str, Any] | None = None  # the UAS record, looked up at RCPT (None: look up later)
    state: str = PENDING
    attempts: int = 0
    next_at: float = 0.0
    error: str = ""


@dataclass
class Queued:
    qid: str
    sender: str  # "" for a bounce (<>)
    authenticated: bool
    created: float
    recipients: list[Recipient]
    subject: str = ""
    size: int = 0
    dsn_of: str = ""  # the queue id this bounce reports on
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> list[Recipient]:
        return [r for r in self.recipients if r.state == PENDING]

    @staticmethod
    def from_json(text: str) -> Queued:
        raw = json.loads(text)
        raw["recipients"] = [Recipient(**r) for r in raw["recipients"]]
        return Queued(**raw)


class Spool:
    def __init__(self, root: Path) -> None:
        self.data_dir = root / "data"
        self.env_dir = root / "env"
        self.tmp_dir = root / "tmp"
        for d in (self.data_dir, self.env_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)

    def _atomic(self, path: Path, payload: bytes) -> None:
        tmp = self.tmp_dir / f"{path.parent.name}-{path.name}"
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)

    def enqueue(self, queued: Queued, data: bytes) -> None:
        self._atomic(self.data_dir / queued.qid, data)
        self.save(queued)

    def exists(self, qid: str) -> bool:
        return (self.env_dir / qid).exists()

    def save(self, queued: Queued) -> None:
        self._atomic(self.env_dir / queued.qid, json.dumps(asdict(queued)).encode())

    def data(self, qid: str) -> bytes:
        return (self.data_dir / qid).read_bytes()

    def remove(self, qid: str) -> None:
        """Envelope first: once it is gone the message counts as done even if the data lingers."""
        for path in (self.env_dir / qid, self.data_dir / qid):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def load(self) -> list[Queued]:
        """Everything accepted and not finished; drops data that was never acknowledged."""
        queued = []
        for name in sorted(os.listdir(self.env_dir)):
            try:
                queued.append(Queued.from_json((self.env_dir / name).read_text()))
            except (ValueError, TypeError, KeyError):
                os.replace(self.env_dir / name, self.tmp_dir / f"corrupt-{name}")
        known = {q.qid for q in queued}
        for name in os.listdir(self.data_dir):
            if name not in known:
                os.unlink(self.data_dir / name)
        for name in os.listdir(self.tmp_dir):
            if not name.startswith("corrupt-"):
                os.unlink(self.tmp_dir / name)
        return queued
