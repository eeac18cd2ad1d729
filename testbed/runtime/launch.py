"""Start one service process: by fork from a parent that already imported the components (fast,
used by `up`), or by exec of `python -m testbed.runtime.launch HOME NODE SERVICE` (used by agents
such as the cluster's had, which run an event loop and so must not fork).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import psutil

from testbed import clock
from testbed.errors import UnknownNodeError
from testbed.faultpoints import FAULTPOINTS
from testbed.home import Home
from testbed.netem import configure_process
from testbed.runtime.context import ServiceContext, configure_logging
from testbed.topology.model import Service, Topology

# kind -> "module:function"; each function takes a ServiceContext and blocks until SIGTERM.
KINDS = {
    "mta": "testbed.components.mta.server:main",
    "pop3": "testbed.components.pop3:main",
    "imap": "testbed.components.imap:main",
    "uas": "testbed.components.uas:main",
    "acctdb": "testbed.components.acctdb:main",
    "had": "testbed.components.cluster.had:main",
    "mapis": "testbed.components.mapis:main",
    "mss": "testbed.components.mss:main",
    "internet": "testbed.components.internet:main",
    "lb": "testbed.components.lb.server:main",
    "web": "testbed.components.web.server:main",
    "dns": "testbed.components.dns.server:main",
}
# Imported once by the forking parent. Twisted kinds are left out on purpose: their modules install
# the reactor at import, and each process must install its own (asyncio) reactor after the fork.
PREIMPORT = ("mta", "uas", "acctdb", "had", "mapis", "mss", "internet")


def service_spec(topology: Topology, node: str, name: str) -> Service:
    """The service `name` of `node`; `mss.<mailroot>` exists on whichever MSS the cluster picks."""
    n = topology.node(node)
    for svc in n.services:
        if svc.name == name:
            return svc
    if n.role == "mss" and name.startswith("mss.") and name[4:] in topology.mailroots:
        return Service(name=name, kind="mss", port=topology.mss_port(name[4:]), instance=name[4:])
    raise UnknownNodeError(
        f"node {node} has no service {name!r}; it has: " + ", ".join(s.name for s in n.services)
    )


def preimport() -> None:
    for kind in PREIMPORT:
        _entry(kind)
    assert "twisted.internet.reactor" not in sys.modules, "a preimport installed a reactor"


def _entry(kind: str):  # type: ignore[no-untyped-def]
    module, func = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), func)


def crash_marker(home: Home, node: str, name: str) -> Path:
    """While this file exists the service dies at start (the crash_loop fault)."""
    return home.node_root(node) / "var" / "run" / f"{name}.crashloop"


def run_service(home: Home, node: str, name: str) -> None:
    if crash_marker(home, node, name).exists():
        raise SystemExit(f"{node}/{name}: crashed at start ({crash_marker(home, node, name)})")
    ctx = ServiceContext(home, home.topology.node(node), service_spec(home.topology, node, name))
    if os.environ.pop("MAILDRILL_RECORD_PID", None):  # started by `docker exec`: nobody else can
        record_pid(home, node, name, os.getpid())
    os.chdir(home.node_root(node))
    os.environ["MAILDRILL_NODE"] = node
    configure_process(home.root, node, home.topology)  # link faults apply to this node's traffic
    clock.configure(home.node_root(node))  # the node's clock (clock_skew)
    FAULTPOINTS.configure(home.root, node)  # protocol faults inside the components
    configure_logging(ctx)
    ctx.log.info("starting %s on %s:%s (pid %d)", name, ctx.address, ctx.service.port, os.getpid())
    _entry(ctx.service.kind)(ctx)


def _output(home: Home, node: str, name: str) -> int:
    log_dir = home.log_dir(node)
    log_dir.mkdir(parents=True, exist_ok=True)
    return os.open(log_dir / f"{name}.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def spawn_forked(home: Home, node: str, name: str) -> int:
    out = _output(home, node, name)
    pid = os.fork()
    if pid == 0:  # child: its own session, so a signal to the CLI's group never reaches it
        code = 1
        try:
            os.setsid()
            os.chdir(home.node_root(node))  # also how `down` recognises a stray of this home
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            run_service(home, node, name)
            code = 0
        except BaseException:  # noqa: BLE001 - report anything, then leave without parent cleanup
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out)
    record_pid(home, node, name, pid)
    return pid


def spawn_exec(home: Home, node: str, name: str) -> int:
    """Start a service as a fresh interpreter in its own session. posix_spawn leaves no Popen object
    behind to warn about; the caller's own children are reaped by reap()."""
    log_dir = home.log_dir(node)
    log_dir.mkdir(parents=True, exist_ok=True)
    out = str(log_dir / f"{name}.out")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "testbed.runtime.launch", str(home.root), node, name],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    # posix_spawn cannot chdir; the exec'd service moves into its node root in run_service
    _spawned.add(pid)
    record_pid(home, node, name, pid)
    reap()
    return pid


_spawned: set[int] = set()


def reap() -> None:
    """Collect exit statuses of services this process started, so none lingers as a zombie."""
    for pid in list(_spawned):
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid  # someone else (e.g. psutil.wait_procs) already collected it
        if done:
            _spawned.discard(pid)


def record_pid(home: Home, node: str, name: str, pid: int) -> None:
    """Pid plus start time, so a recycled pid is never mistaken for our process."""
    path = home.pid_file(node, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        started = 0.0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid} {started}\n")
    tmp.replace(path)


def read_pid(path: Path) -> int | None:
    """The live process a pid file names, or None if it is gone (or the pid was recycled)."""
    try:
        pid_s, started_s = path.read_text().split()
        proc = psutil.Process(int(pid_s))
        if abs(proc.create_time() - float(started_s)) > 0.5 or proc.status() == "zombie":
            return None
        return proc.pid
    except (OSError, ValueError, psutil.Error):
        return None


if __name__ == "__main__":
    run_service(Home(sys.argv[1]), sys.argv[2], sys.argv[3])
