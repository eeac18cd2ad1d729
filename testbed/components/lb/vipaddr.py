"""The VIP on the wire. On the local backend every 127/8 address is already the host's, so a unit
only binds it. In a container (docker backend, MAILDRILL_VIP_DEVICE set) the owner must also hold
the address on its interface and announce it with gratuitous ARP, so the network — and the host's
neighbour cache — sends VIP traffic to the new owner after a failover; a unit that does not own
the VIP removes the address (it may still be there from before a crash)."""

from __future__ import annotations

import os
import shutil
import subprocess

DEVICE_ENV = "MAILDRILL_VIP_DEVICE"


def _device() -> str | None:
    return os.environ.get(DEVICE_ENV) or None


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def claim(vip: str) -> str | None:
    """Hold the VIP on the device; an error message, or None when held (or nothing to do)."""
    device = _device()
    if device is None:
        return None
    done = _ip("addr", "add", f"{vip}/32", "dev", device)
    if done.returncode != 0 and "File exists" not in done.stderr:
        return done.stderr.strip() or f"ip addr add failed ({done.returncode})"
    if shutil.which("arping"):  # unsolicited ARP: everyone's cache now points at this unit
        subprocess.Popen(  # noqa: S603 - fixed argv
            ["arping", "-U", "-c", "2", "-I", device, vip],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    return None


def release(vip: str) -> None:
    device = _device()
    if device is not None:
        _ip("addr", "del", f"{vip}/32", "dev", device)
