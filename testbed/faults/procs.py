"""Helpers the process faults share: find testbed processes through the backend, signal and start
them, restore cluster groups, and the client-side probes (refused, hung).

Safety: every process is named as (node, service) of the topology and reached through the backend
(pid files for the local one), never by a pid or a name pattern from outside.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Iterable

from testbed.components.cluster.state import read_state, update_state
from testbed.errors import MaildrillError
from testbed.faults.base import FaultContext, FaultError
from testbed.runtime import launch
from testbed.runtime.launch import service_spec
from testbed.runtime.local import stopped as stopped  # re-exported: faults ask procs

Svc = tuple[str, str]  # (node, service)
GROUP_WAIT_S = 25.0  # had gives a start 10 s; a busy 2-core machine needs room


def running(ctx: FaultContext) -> dict[Svc, int]:
    """(node, service) → pid of every live testbed process, as the backend reports it."""
    return {(s.node, s.service): s.pid for s in ctx.backend.status() if s.pid}


def endpoint(ctx: FaultContext, node: str, service: str) -> tuple[str, int]:
    spec = service_spec(ctx.topology, node, service)
    return ctx.topology.nodes[node].address, spec.port


def require_running(ctx: FaultContext, svcs: Iterable[Svc]) -> list[Svc]:
    """The services of `svcs` that run now; refuse when none does (the fault would do nothing)."""
    wanted = list(svcs)
    live = running(ctx)
    alive = [s for s in wanted if s in live]
    if not alive:
        names = ", ".join(f"{n}/{s}" for n, s in wanted) or "(no service)"
        raise FaultError(f"nothing to break: {names} not running in this testbed")
    return alive


def signal_all(ctx: FaultContext, svcs: Iterable[Svc], sig: signal.Signals) -> list[Svc]:
    hit = []
    for node, service in svcs:
        with contextlib.suppress(ProcessLookupError):
            if ctx.backend.signal(node, service, sig):
                hit.append((node, service))
    return hit


def kill_together(ctx: FaultContext, svcs: list[Svc]) -> None:
    """SIGSTOP all first, then SIGKILL: they die at one instant as on a power loss, so no agent
    among them sees a sibling die and reacts (e.g. had marking a group FAULTED)."""
    signal_all(ctx, svcs, signal.SIGSTOP)
    signal_all(ctx, svcs, signal.SIGKILL)
    wait_gone(ctx, svcs)


def wait_gone(ctx: FaultContext, svcs: list[Svc], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        live = running(ctx)
        if not any(s in live for s in svcs):
            return
        time.sleep(0.05)


def start_missing(ctx: FaultContext, svcs: Iterable[Svc]) -> list[Svc]:
    """Start those of `svcs` that do not run (mss.<root> through the cluster); returns started."""
    if ctx.teardown:
        return []
    started = []
    for node, service in order_for_start(list(svcs)):
        if service.startswith("mss."):
            if restore_group(ctx, service[4:], only_on=node):
                started.append((node, service))
            continue
        if (node, service) not in running(ctx):
            try:
                ctx.backend.start(node, service)
            except MaildrillError as exc:
                if "already running" not in str(exc):
                    raise
            started.append((node, service))
    return started


def order_for_start(svcs: list[Svc]) -> list[Svc]:
    """Mailroot processes before their node's had: a had that finds its ONLINE group without a
    process marks it FAULTED at its first tick."""
    return sorted(svcs, key=lambda s: (not s[1].startswith("mss."), s[1] != "had", s))


def had_alive(ctx: FaultContext, node: str) -> bool:
    return (node, "had") in running(ctx)


def restore_group(ctx: FaultContext, root: str, only_on: str | None = None) -> bool:
    """Bring mailroot `root` ONLINE where the cluster places it now. With its node's had alive the
    group goes STARTING and had starts it (as `hagrp -switch` does); without one the process is
    started directly and the group marked ONLINE. `only_on`: do nothing if the group has moved
    elsewhere meanwhile (a failover placed it on a takeover node, which is healthy)."""
    if ctx.teardown:
        return False
    group = read_state(ctx.home)["groups"].get(root)
    if group is None:
        return False
    node = str(group["node"])
    if only_on is not None and node != only_on:
        return False
    alive = (node, f"mss.{root}") in running(ctx)
    if alive and group["state"] == "ONLINE":
        return False
    if had_alive(ctx, node):
        set_group(ctx, root, node, "STARTING")
        _wait_online(ctx, root, node)
    else:
        if not alive:
            ctx.backend.start(node, f"mss.{root}")
        set_group(ctx, root, node, "ONLINE")
    return True


def set_group(ctx: FaultContext, root: str, node: str, state: str) -> None:
    def change(s: dict[str, object]) -> None:
        groups = s["groups"]
        assert isinstance(groups, dict)
        if groups[root]["node"] == node and groups[root]["state"] != "STARTING":
            groups[root]["state"] = state

    update_state(ctx.home, change)


def _wait_online(ctx: FaultContext, root: str, node: str) -> None:
    end = time.monotonic() + GROUP_WAIT_S
    while time.monotonic() < end:
        group = read_state(ctx.home)["groups"][root]
        if group["node"] != node or group["state"] == "ONLINE":
            return
        if group["state"] == "FAULTED":
            raise FaultError(f"group {root} FAULTED again on {node} while restoring it")
        time.sleep(0.1)
    raise FaultError(f"group {root} did not come ONLINE on {node} in {GROUP_WAIT_S:.0f} s")


def clear_stale_mss(ctx: FaultContext) -> list[str]:
    """Pid files of dead mss.<root> processes on nodes the cluster has moved the group away
    from: status would list them as down forever although the mailroot runs elsewhere."""
    groups = read_state(ctx.home)["groups"]
    out = []
    for node in ctx.topology.spec.mss.nodes:
        for root, group in sorted(groups.items()):
            path = ctx.home.pid_file(node, f"mss.{root}")
            if group["node"] != node and path.exists() and launch.read_pid(path) is None:
                path.unlink(missing_ok=True)
                out.append(f"{node}/mss.{root}")
    return out


# --- what a client sees -------------------------------------------------------------------------


def refused(address: str, port: int, timeout: float = 2.0) -> bool:
    """True when a TCP connect is refused (nobody listens: the process is dead)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


PROBE = b'{"id": 0, "method": "status", "params": {}}\r\n'


def hangs(address: str, port: int, timeout: float = 1.5) -> bool:
    """True when the service accepts (the kernel does that for it) but never answers: a banner,
    a reply to a probe line, or a close all count as an answer; silence until `timeout` does not."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            with contextlib.suppress(OSError):
                sock.sendall(PROBE)
            sock.recv(1)
            return False
    except TimeoutError:
        return True
    except OSError:
        return False


def answers(address: str, port: int) -> bool:
    return not refused(address, port, 2.0) and not hangs(address, port, 3.0)
