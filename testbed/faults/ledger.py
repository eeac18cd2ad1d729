"""The revert ledger: <home>/faults/ledger/<id>.json per fault that may be active.

An entry is written (atomically: temp file + rename) *before* the fault is applied and removed
only after its revert is confirmed, so a crash of the injecting process at any moment leaves a
record that `maildrill doctor` finds and undoes. `lock()` serialises injectors, reverts and
doctor across processes; the kernel drops it when its holder dies, also on kill -9.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from testbed.home import Home


class Entry(BaseModel):
    id: str
    type: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    plan: dict[str, Any] = Field(default_factory=dict)
    phase: str = "planned"  # planned → active (inject returned) → reverting
    owner: int = Field(default_factory=os.getpid)  # the process that injected it
    duration: float | None = None
    wall: float = Field(default_factory=time.time)
    mono: float = Field(default_factory=time.monotonic)


def new_id(fault_type: str) -> str:
    return f"{fault_type}-{uuid.uuid4().hex[:8]}"


class Ledger:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.dir = home.root / "faults" / "ledger"

    def _path(self, fault_id: str) -> Path:
        if not fault_id or "/" in fault_id or fault_id.startswith("."):
            raise ValueError(f"not a fault id: {fault_id!r}")
        return self.dir / f"{fault_id}.json"

    def write(self, entry: Entry) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(entry.id)
        tmp = path.with_name(f".{entry.id}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(entry.model_dump_json(indent=1))
            f.flush()
            os.fsync(f.fileno())  # the entry must survive a crash right after inject
        tmp.replace(path)

    def get(self, fault_id: str) -> Entry | None:
        try:
            return Entry.model_validate_json(self._path(fault_id).read_text())
        except FileNotFoundError:
            return None

    def remove(self, fault_id: str) -> None:
        self._path(fault_id).unlink(missing_ok=True)

    def entries(self) -> list[Entry]:
        if not self.dir.exists():
            return []
        out = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                out.append(Entry.model_validate_json(path.read_text()))
            except (OSError, ValueError):
                continue  # removed meanwhile, or unreadable (never written half: rename)
        return sorted(out, key=lambda e: e.mono)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across processes; re-entrant within one (flock on a second descriptor of
        the same file would wait for ourselves)."""
        key = str(self.dir)
        if _held.get(key, 0):
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir.parent / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _held[key] = 1
            yield
        finally:
            _held.pop(key, None)
            os.close(fd)


_held: dict[str, int] = {}
