"""Who holds the VIP: <home>/lb/state.json, shared by every unit and the `alteon` command.

{"owner": "alteon184a" | null, "by": "<who wrote it>", "changed": <unix time>}

"owner" is the unit that should hold the VIP; the owner binds it, every other unit releases it.
Writes are atomic (temp file + rename) and compare-and-set under an flock, so two standbys that
decide to take over at the same moment cannot both win.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from testbed.home import Home


def state_file(home: Home) -> Path:
    return home.root / "lb" / "state.json"


def read_state(home: Home) -> dict[str, Any]:
    try:
        data = json.loads(state_file(home).read_text())
        return data if isinstance(data, dict) else {"owner": None}
    except (OSError, ValueError):
        return {"owner": None}  # no file (yet) or a torn one: nobody is known to hold the VIP


def write_state(home: Home, state: dict[str, Any]) -> None:
    path = state_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"state.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**state, "changed": time.time()}))
    tmp.replace(path)


@contextlib.contextmanager
def _locked(home: Home) -> Iterator[None]:
    lock = state_file(home).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def set_owner(home: Home, owner: str | None, by: str, expect: object = ...) -> bool:
    """Make `owner` the VIP holder; with `expect`, only if the current owner is still `expect`
    (compare-and-set). Returns whether the state was written."""
    with _locked(home):
        if expect is not ... and read_state(home).get("owner") != expect:
            return False
        write_state(home, {"owner": owner, "by": by})
        return True
