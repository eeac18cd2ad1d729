"""Disk fill levels: each node's local disk and the shared disk array.

The testbed's files all live on the host's one file system, so a node's disk cannot really fill up
without root-owned loop devices. Instead a disk has a fill level in percent — 0 unless the
disk_full fault set one — kept in <node root>/var/run/disk_usage (local disks) or in the array's
state file ("usage"). Writers ask before they write: at 100 % they get the OSError a full disk
gives (ENOSPC, "No space left on device"); the monitor's disk alarm fires above 85 %.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from testbed.components import array
from testbed.home import Home

FULL = 100


def usage_file(node_root: Path) -> Path:
    return node_root / "var" / "run" / "disk_usage"


def local_usage(node_root: Path) -> int:
    try:
        return int(usage_file(node_root).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def set_local_usage(node_root: Path, percent: int | None) -> None:
    """Set a node's fill level; None: back to normal (the file removed)."""
    path = usage_file(node_root)
    if percent is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{percent}\n")
    os.replace(tmp, path)


def array_usage(home: Home) -> int:
    return int(array.read_array(home).get("usage", 0))


class LocalDisk:
    """One node's disk as its writers see it: `check_write()` before each write. One stat per
    call when the disk is normal (the usage file does not exist)."""

    def __init__(self, node_root: Path) -> None:
        self.path = usage_file(node_root)
        self.root = node_root

    def check_write(self) -> None:
        if not self.path.exists():
            return
        if local_usage(self.root) >= FULL:
            raise OSError(errno.ENOSPC, "No space left on device")


def usages(home: Home) -> dict[str, int]:
    """Every disk above 0 %: node name (or the array's) → percent."""
    topology = home.topology
    out = {
        name: level for name in topology.nodes if (level := local_usage(home.node_root(name))) > 0
    }
    level = array_usage(home)
    if level > 0:
        out[topology.spec.array.name] = level
    return out
