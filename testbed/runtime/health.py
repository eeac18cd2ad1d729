"""Is a service listening? A TCP connect is the health check every component shares."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable


def listening(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_all(
    targets: Iterable[tuple[str, int]],
    deadline_s: float,
    still_alive: Callable[[tuple[str, int]], bool],
) -> list[tuple[str, int]]:
    """Poll until every (address, port) accepts; return those that did not in time or died."""
    pending = set(targets)
    end = time.monotonic() + deadline_s
    while pending and time.monotonic() < end:
        for target in list(pending):
            if listening(*target, timeout=0.2):
                pending.discard(target)
            elif not still_alive(target):
                return sorted(pending)
        if pending:
            time.sleep(0.02)
    return sorted(pending)
