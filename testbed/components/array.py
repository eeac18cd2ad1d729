"""The shared disk array: every mailroot's data (a LUN folder) plus the array's own state.

    <home>/nodes/<array>/luns/<mailroot>/   the data (never deleted by a fault)
    <home>/nodes/<array>/state.json         {"status": "online"|"offline"|"readonly",
                                             "paths": {"mss0": "up"|"down", ...},
                                             "reservations": {"m0": "mss0", ...},
                                             "sp_failed": ["spb"], "usage": 100}  (faults only)

Faults change the state file; every mailbox operation calls check_io() first and gets the OSError a
real server would get from a dead array (EIO), a broken path (EIO) or a read-only array (EROFS).
Reservations are the I/O fencing: only the node holding a mailroot's reservation may write it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from typing import Any

from testbed.home import Home
from testbed.topology.model import Topology

STATUSES = ("online", "offline", "readonly")
STORAGE_PROCESSORS = ("spa", "spb")  # the array's two controllers; either one serves every LUN
SP_DELAY_S = 0.02  # added to each I/O while one storage processor carries the whole load
_cache: dict[str, tuple[int, dict[str, Any]]] = {}


def _state_file(home: Home) -> str:
    return str(home.array_root / "state.json")


def read_array(home: Home) -> dict[str, Any]:
    """The parsed state, re-read only when the file changed (check_io runs before every I/O)."""
    path = _state_file(home)
    mtime = os.stat(path).st_mtime_ns
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        with open(path) as f:
            cached = (mtime, json.load(f))
        _cache[path] = cached
    return cached[1]


def _write(home: Home, state: dict[str, Any]) -> None:
    path = _state_file(home)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, path)
    _cache.pop(path, None)
    _sync_devices(home, state)


def _sync_devices(home: Home, state: dict[str, Any]) -> None:
    """The array's devices (one per LUN, /dev/clsp<i>) appear in an MSS node's /dev only while
    its HBA path works and the array is powered: the plan's `ls /dev/clsp*` judgement."""
    luns = sorted(p.name for p in home.luns.iterdir()) if home.luns.exists() else []
    for node, path in state["paths"].items():
        dev = home.node_root(node) / "dev"
        dev.mkdir(parents=True, exist_ok=True)
        visible = path == "up" and state["status"] != "offline"
        for i, lun in enumerate(luns):
            device = dev / f"clsp{i}"
            if visible and not device.exists():
                device.write_text(f"{lun}\n")
            elif not visible:
                device.unlink(missing_ok=True)


def provision_array(home: Home, topology: Topology) -> None:
    luns = home.node_root(topology.spec.array.name) / "luns"
    for root in topology.mailroots:
        (luns / root).mkdir(parents=True, exist_ok=True)
    home.node_root(topology.spec.array.name).mkdir(parents=True, exist_ok=True)
    state = {
        "status": "online",
        "paths": {n: "up" for n in topology.spec.mss.nodes},
        "reservations": dict(sorted(topology.spec.mss.mailroots.items())),
    }
    _write(home, state)


def check_io(home: Home, node: str, write: bool, mailroot: str | None = None) -> None:
    """Raise the OSError that node would see on the array now; None when I/O may proceed."""
    state = read_array(home)
    if state["status"] == "offline":
        raise OSError(errno.EIO, "Input/output error (disk array offline)")
    failed_sps = state.get("sp_failed") or []
    if failed_sps:
        if len(failed_sps) >= len(STORAGE_PROCESSORS):
            raise OSError(errno.EIO, "Input/output error (no storage processor left)")
        # every LUN now goes through the surviving processor: served, but slower
        time.sleep(float(state.get("sp_delay", SP_DELAY_S)))
    if state["paths"].get(node, "up") != "up":
        raise OSError(errno.EIO, f"Input/output error (no path from {node} to the disk array)")
    if write and state["status"] == "readonly":
        raise OSError(errno.EROFS, "Read-only file system (disk array)")
    if write and state.get("usage", 0) >= 100:
        raise OSError(errno.ENOSPC, "No space left on device (disk array full)")
    if write and mailroot is not None and state["reservations"].get(mailroot) != node:
        raise OSError(errno.EIO, f"Input/output error (reservation conflict on {mailroot})")


def _change(home: Home, key: str, sub: str | None, value: object) -> None:
    """Read-modify-write under a lock: mss processes starting together all take reservations."""
    fd = os.open(_state_file(home) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(_state_file(home)) as f:
            state = json.load(f)
        if sub is None:
            state[key] = value
        else:
            state[key][sub] = value
        _write(home, state)
    finally:
        os.close(fd)


def set_status(home: Home, status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"array status must be one of {STATUSES}")
    _change(home, "status", None, status)


def set_failed_processors(home: Home, failed: list[str], delay: float = SP_DELAY_S) -> None:
    """Storage processors out of service (the sp_failed fault); [] when all work."""
    _change(home, "sp_failed", None, sorted(failed))
    _change(home, "sp_delay", None, delay)


def set_usage(home: Home, percent: int) -> None:
    """The array's fill level (testbed.components.disks): at 100 % writes get ENOSPC."""
    _change(home, "usage", None, percent)


def set_path(home: Home, node: str, up: bool) -> None:
    _change(home, "paths", node, "up" if up else "down")


def reserve(home: Home, mailroot: str, node: str) -> None:
    """SCSI-style reservation: the newest holder wins and fences the previous one off."""
    _change(home, "reservations", mailroot, node)
