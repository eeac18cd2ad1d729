"""The drill journal: <home>/journal.jsonl, one JSON object per line, appended, never rewritten.

Every line has "event" (inject, effect_check, revert, error, ...), "mono" (time.monotonic(), one
clock for every process on the machine, for durations) and "wall" (time.time(), for people). The
scorer reads only this file, so whatever happened must be written here.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from testbed.home import Home


def journal_path(home: Home) -> Path:
    return home.root / "journal.jsonl"


def append(home: Home, event: str, **fields: Any) -> dict[str, Any]:
    """Append one event. One write() of one line under an exclusive lock, so lines written by
    concurrent processes (injector, scenario runner, probes) never interleave."""
    record = {"event": event, "mono": time.monotonic(), "wall": time.time(), **fields}
    line = (json.dumps(record, default=str, sort_keys=False) + "\n").encode()
    path = journal_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)
    return record


def read(home: Home) -> list[dict[str, Any]]:
    path = journal_path(home)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash mid-write is skipped, not fatal
    return out
