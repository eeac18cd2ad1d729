"""A node's clock. Every testbed process shares the host's clock, so a node's clock skew (the
clock_skew fault) is an offset in seconds kept in <node root>/etc/clock_offset, and the timestamps
a node writes for others to read — its mail log, the Received and Date headers its MTA adds, its
service log — come from `now()`, which adds it. Absent file: no skew (one stat per call, cached
on the file's mtime)."""

from __future__ import annotations

import os
import time
from pathlib import Path

_root: Path | None = None
_cache: tuple[int, float] = (-1, 0.0)


def offset_file(node_root: Path) -> Path:
    return node_root / "etc" / "clock_offset"


def configure(node_root: Path) -> None:
    """Called once per service process (testbed.runtime.launch): whose clock this process keeps."""
    global _root, _cache
    _root, _cache = node_root, (-1, 0.0)


def read_offset(node_root: Path) -> float:
    try:
        return float(offset_file(node_root).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0.0


def offset() -> float:
    global _cache
    if _root is None:
        return 0.0
    try:
        mtime = os.stat(offset_file(_root)).st_mtime_ns
    except FileNotFoundError:
        return 0.0
    if _cache[0] != mtime:
        _cache = (mtime, read_offset(_root))
    return _cache[1]


def now() -> float:
    """Wall-clock seconds as this node's clock shows them."""
    return time.time() + offset()


def localtime(seconds: float | None = None) -> time.struct_time:
    """time.localtime on this node's clock (also usable as a logging.Formatter converter)."""
    return time.localtime((time.time() if seconds is None else seconds) + offset())


def set_offset(node_root: Path, seconds: float | None) -> None:
    path = offset_file(node_root)
    if not seconds:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{seconds}\n")
    os.replace(tmp, path)
