"""The MTA's queue on its node's disk: what was answered with 250 is here until delivered or bounced.

    <spool>/queue/<qid>         envelope (one JSON line) + the message: its existence means "accepted"
    <spool>/queue/<qid>.state   the envelope with the latest per-recipient states, once they change

Files are written under a temp name and renamed, so kill -9 at any instant leaves either a complete
message or none. Each recipient keeps its own state, saved after every change while others are
still pending, so a restart resumes only what is left.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.components.disks import LocalDisk

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

    def to_json(self) -> dict[str, Any]:
        """Shallow, unlike dataclasses.asdict, which deep-copies every user record on each save."""
        out = dict(vars(self))
        out["recipients"] = [dict(vars(r)) for r in self.recipients]
        return out

    @staticmethod
    def from_json(text: str) -> Queued:
        raw = json.loads(text)
        raw["recipients"] = [Recipient(**r) for r in raw["recipients"]]
        return Queued(**raw)


class Spool:
    """<spool>/queue/<qid> holds the envelope (first line, JSON) and the message after it, written in
    one go; <spool>/queue/<qid>.state holds the envelope again once a recipient's state changed
    while others are still pending. One file per message keeps the accept path to a single create,
    which is what this file system charges most for."""

    def __init__(self, root: Path, disk: LocalDisk | None = None) -> None:
        self.disk = disk
        self.dir = root / "queue"
        self.tmp_dir = root / "tmp"
        for d in (self.dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)

    def _atomic(self, name: str, payload: bytes) -> None:
        tmp = self.tmp_dir / name
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, self.dir / name)

    def enqueue(self, queued: Queued, data: bytes) -> None:
        if self.disk is not None:
            self.disk.check_write()  # a full disk refuses new mail before anything is written
        self._atomic(queued.qid, json.dumps(queued.to_json()).encode() + b"\n" + data)

    def exists(self, qid: str) -> bool:
        return (self.dir / qid).exists()

    def save(self, queued: Queued) -> None:
        self._atomic(f"{queued.qid}.state", json.dumps(queued.to_json()).encode())

    def data(self, qid: str) -> bytes:
        with open(self.dir / qid, "rb") as f:
            f.readline()
            return f.read()

    def remove(self, qid: str) -> None:
        """The message file first: once it is gone the message counts as done."""
        for name in (qid, f"{qid}.state"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.dir / name)

    def load(self) -> list[Queued]:
        """Everything accepted and not finished, with the latest saved recipient states."""
        queued = []
        names = set(os.listdir(self.dir))
        for name in sorted(names):
            if name.endswith(".state"):
                if name.removesuffix(".state") not in names:
                    os.unlink(self.dir / name)  # its message finished; the state outlived it
                continue
            try:
                if f"{name}.state" in names:
                    queued.append(Queued.from_json((self.dir / f"{name}.state").read_text()))
                else:
                    with open(self.dir / name, "rb") as f:
                        queued.append(Queued.from_json(f.readline().decode()))
            except (ValueError, TypeError, KeyError):
                os.replace(self.dir / name, self.tmp_dir / f"corrupt-{name}")
        for name in os.listdir(self.tmp_dir):
            if not name.startswith("corrupt-"):
                os.unlink(self.tmp_dir / name)  # never renamed into the queue: never acknowledged
        return queued
