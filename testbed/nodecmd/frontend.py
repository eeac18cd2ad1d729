"""/opt/aimc/aimc_stop and aimc_start on a front end: stop or start its aimc processes (MTA, POP3,
IMAP). They read aimc.ini when they start, which is how the plan's UAS chapter takes effect."""

from __future__ import annotations

import signal
import time

from testbed.home import Home
from testbed.runtime.registry import backend_for

STOP_WAIT_S = 10.0


def _services(home: Home, node: str) -> list[str]:
    return [s.name for s in home.topology.node(node).services]


def stop_services(home: Home, node: str) -> list[str]:
    """SIGTERM every aimc process of the node and wait until they are gone; the ones signalled."""
    backend = backend_for(home)
    stopping = [
        name for name in _services(home, node) if backend.signal(node, name, signal.SIGTERM)
    ]
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        running = {s.service for s in backend.status() if s.node == node and s.pid}
        if not running & set(stopping):
            break
        time.sleep(0.1)
    return stopping


def start_services(home: Home, node: str) -> dict[str, str]:
    """Start every aimc process of the node that is not running: name → "started", "already
    running" or the reason it failed."""
    backend = backend_for(home)
    running = {s.service for s in backend.status() if s.node == node and s.pid}
    result = {}
    for name in _services(home, node):
        if name in running:
            result[name] = "already running"
            continue
        try:
            backend.start(node, name)
            result[name] = "started"
        except Exception as exc:  # noqa: BLE001 - report each service's failure like the real script
            result[name] = f"FAILED to start: {exc}"
    return result


def aimc_stop(home: Home, node: str, argv: list[str]) -> int:
    if argv:
        print("usage: aimc_stop")
        return 2
    stopping = stop_services(home, node)
    for name in _services(home, node):
        print(f"aimc: {name} {'stopped' if name in stopping else 'was not running'}")
    return 0


def aimc_start(home: Home, node: str, argv: list[str]) -> int:
    if argv:
        print("usage: aimc_start")
        return 2
    result = start_services(home, node)
    for name, outcome in result.items():
        print(f"aimc: {name} {outcome}")
    return 1 if any(o.startswith("FAILED") for o in result.values()) else 0
