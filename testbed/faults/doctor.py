"""`maildrill doctor`: find whatever a fault (or a crashed injector) left behind and undo it.

In order: ledger entries (reverted through their fault), crash-loop markers, stopped (SIGSTOP)
processes, the disk array (status, HBA paths), then services that should run but do not: every
autostart service of the topology and every mailroot's mss process where the cluster places it.
Cold standbys (autostart False) are never started. With teardown=True (`down`, or `up` over an
old home) nothing is started: only state that would outlive the processes is repaired.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from testbed.components import array
from testbed.components.cluster.state import read_state
from testbed.errors import MaildrillError
from testbed.faults import journal, procs, registry
from testbed.faults.base import FaultContext, NoParams
from testbed.faults.ledger import Ledger
from testbed.home import Home
from testbed.runtime.registry import backend_for

Repair = Callable[[Home, bool], list[str]]
_repairs: list[Repair] = []


def register_repair(repair: Repair) -> Repair:
    """Extension point for faults whose leftovers live outside the ledger (e.g. network rules):
    `repair(home, teardown)` undoes them and returns one line per thing repaired. Register at
    import of the fault module (the registry imports every fault module before doctor runs)."""
    _repairs.append(repair)
    return repair


def doctor(home: Home, teardown: bool = False) -> list[str]:
    """Repair everything; returns one line per thing repaired (empty: nothing was left)."""
    if not home.exists:
        return []
    from testbed.faults.injector import _revert_locked

    registry.load_builtin()  # fault modules register their repairs on import

    ledger = Ledger(home)
    repaired: list[str] = []
    problems: list[str] = []
    with ledger.lock():
        for entry in ledger.entries():
            try:
                _revert_locked(home, ledger, entry, teardown=teardown)
                repaired.append(f"reverted {entry.id} ({entry.type} on {entry.target})")
            except MaildrillError as exc:
                problems.append(str(exc))
        if (home.root / "nodes").exists():
            ctx = FaultContext(home, backend_for(home), "", NoParams(), teardown)
            repaired += _markers(home)
            repaired += _stopped(ctx)
            repaired += _array(home)
            for extra in _repairs:
                try:
                    repaired += extra(home, teardown)
                except (OSError, MaildrillError) as exc:
                    problems.append(f"{getattr(extra, '__name__', extra)}: {exc}")
            if not teardown:
                try:
                    repaired += _services(ctx)
                except MaildrillError as exc:
                    problems.append(str(exc))
    if repaired or problems:
        journal.append(home, "doctor", repaired=repaired, problems=problems, teardown=teardown)
    if problems:
        raise MaildrillError("doctor could not repair everything: " + "; ".join(problems))
    return repaired


def _markers(home: Home) -> list[str]:
    out = []
    for marker in sorted((home.root / "nodes").glob("*/var/run/*.crashloop")):
        marker.unlink(missing_ok=True)
        out.append(f"removed crash-loop marker {marker.relative_to(home.root)}")
    return out


def _stopped(ctx: FaultContext) -> list[str]:
    out = []
    for state in ctx.backend.status():
        if state.pid and procs.stopped(state.pid):
            ctx.backend.signal(state.node, state.service, signal.SIGCONT)
            out.append(f"SIGCONT {state.node}/{state.service} (pid {state.pid} was stopped)")
    for node in ctx.topology.nodes:  # a whole node frozen (a paused container)
        if ctx.backend.is_frozen(node):
            ctx.backend.freeze(node, False)
            out.append(f"thawed node {node}")
    return out


def _array(home: Home) -> list[str]:
    if not (home.array_root / "state.json").exists():
        return []
    out = []
    state = array.read_array(home)
    if state["status"] != "online":
        array.set_status(home, "online")
        out.append(f"array {state['status']} → online")
    for node, path in sorted(state["paths"].items()):
        if path != "up":
            array.set_path(home, node, up=True)
            out.append(f"HBA path {node} → up")
    return out


def _services(ctx: FaultContext) -> list[str]:
    topo = ctx.topology
    live = procs.running(ctx)
    groups = read_state(ctx.home)["groups"]
    out = []
    # Mailroots whose node has no live had first: a had started before its mss would fault them.
    for root, group in sorted(groups.items()):
        node = str(group["node"])
        if (node, f"mss.{root}") not in live and not procs.had_alive(ctx, node):
            procs.restore_group(ctx, root)
            out.append(f"started mss.{root} on {node}")
    wanted = [(n.name, s.name) for n in topo.nodes.values() for s in n.services if s.autostart]
    for svc in procs.start_missing(ctx, [s for s in wanted if s not in procs.running(ctx)]):
        out.append(f"started {svc[0]}/{svc[1]}")
    live = procs.running(ctx)
    for root, group in sorted(read_state(ctx.home)["groups"].items()):
        node = str(group["node"])
        if (node, f"mss.{root}") not in live or group["state"] != "ONLINE":
            procs.restore_group(ctx, root)
            out.append(f"group {root} brought ONLINE on {node} (was {group['state']})")
    out += [f"removed the stale pid file of {s}" for s in procs.clear_stale_mss(ctx)]
    return out
