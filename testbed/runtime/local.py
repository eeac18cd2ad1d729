"""The embedded local backend: every service an OS process, every node a loopback address and a
root folder under the home. No daemon: pid files (pid + start time) are the process table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import psutil

from testbed.components.cluster.state import read_state
from testbed.components.lb.commands import wait_serving
from testbed.errors import AlreadyRunningError, MaildrillError, NotRunningError
from testbed.runtime import launch
from testbed.runtime.backend import Backend, ServiceState
from testbed.runtime.health import listening, wait_all
from testbed.runtime.provision import initial_services, provision

PYTHON = os.path.realpath(sys.executable)  # a shell in a node root (`maildrill shell`) is not ours
MARKER = "MAILDRILL_TESTBED"  # in every service's environment: how `down` finds strays
STOP_GRACE_S = 3.0


class LocalBackend(Backend):
    name = "local"

    def up(self, topology_file: Path | None, users: int, seed: int) -> list[ServiceState]:
        if self.is_up():
            raise AlreadyRunningError(f"already up in {self.home.root} (`maildrill down` first)")
        self._sweep()  # leftovers of a crashed earlier run never share ports with the new one
        self.timings = provision(self.home, topology_file, users, seed)
        started = time.perf_counter()
        launch.preimport()
        os.environ[MARKER] = str(self.home.root)
        topo = self.home.topology
        targets: dict[tuple[str, int], tuple[str, str]] = {}
        try:
            for node, service in initial_services(topo):
                launch.spawn_forked(self.home, node, service)
                spec = launch.service_spec(topo, node, service)
                targets[(topo.nodes[node].address, spec.port)] = (node, service)
            missing = wait_all(targets, 20.0, lambda t: self._alive(*targets[t]))
        except BaseException:  # Ctrl-C or a failed fork half-way: leave nothing running
            self.down()
            raise
        return self._healthy_or_down(targets, missing, started)

    def _healthy_or_down(
        self,
        targets: dict[tuple[str, int], tuple[str, str]],
        missing: list[tuple[str, int]],
        started: float,
    ) -> list[ServiceState]:
        """The end of `up` on every backend: healthy means every port listens and the load
        balancer sees every main back end; otherwise the first problem and nothing left running."""
        if missing:
            node, service = targets[missing[0]]
            detail = self._log_tail(node, service)
            self.down()
            raise MaildrillError(f"{node}/{service} did not become healthy.\n{detail}")
        unseen = wait_serving(self.home)  # every port listens; clients come in through the VIP
        if unseen:
            self.down()
            raise MaildrillError("the load balancer does not see: " + ", ".join(unseen[:5]))
        self.timings["start"] = time.perf_counter() - started
        return self.status()

    def _alive(self, node: str, service: str) -> bool:
        return launch.read_pid(self.home.pid_file(node, service)) is not None

    def _log_tail(self, node: str, service: str, lines: int = 15) -> str:
        path = self.home.log_dir(node) / f"{service}.out"
        text = path.read_text(errors="replace") if path.exists() else "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def _pid_files(self) -> list[Path]:
        return sorted((self.home.root / "nodes").glob("*/var/run/*.pid"))

    def is_up(self) -> bool:
        return self.home.exists and any(launch.read_pid(p) for p in self._pid_files())

    def status(self) -> list[ServiceState]:
        if not self.home.exists:
            raise NotRunningError(f"no testbed in {self.home.root} (run `maildrill up`)")
        topo = self.home.topology
        groups = read_state(self.home)["groups"]
        out = []
        for node in topo.nodes.values():
            names = [s.name for s in node.services]
            # a mailroot's mss where it runs, or where the cluster places it (then it may be down);
            # a pid file left behind where the group no longer lives is history, not a service
            placed = {f"mss.{r}" for r, g in groups.items() if g.get("node") == node.name}
            names += sorted(
                p.stem
                for p in self.home.pid_file(node.name, "x").parent.glob("mss.*.pid")
                if p.stem not in names and (p.stem in placed or launch.read_pid(p))
            )
            names += sorted(placed - set(names))
            for name in names:
                spec = launch.service_spec(topo, node.name, name)
                pid = launch.read_pid(self.home.pid_file(node.name, name))
                state = "down" if spec.autostart else "cold"
                if pid:
                    state = "up" if listening(node.address, spec.port, 0.3) else "starting"
                out.append(ServiceState(node.name, name, node.address, spec.port, pid, state))
        return out

    def start(self, node: str, service: str) -> None:
        launch.service_spec(self.home.topology, node, service)  # unknown names fail here
        if self._alive(node, service):
            raise MaildrillError(f"{node}/{service} is already running")
        os.environ[MARKER] = str(self.home.root)
        launch.spawn_exec(self.home, node, service)
        spec = launch.service_spec(self.home.topology, node, service)
        address = self.home.topology.nodes[node].address
        if wait_all([(address, spec.port)], 15.0, lambda _t: self._alive(node, service)):
            raise MaildrillError(
                f"{node}/{service} did not start.\n{self._log_tail(node, service)}"
            )

    def signal(self, node: str, service: str, sig: signal.Signals = signal.SIGTERM) -> bool:
        launch.service_spec(self.home.topology, node, service)
        pid = launch.read_pid(self.home.pid_file(node, service))
        if pid is None:
            return False
        os.kill(pid, sig)
        return True

    def _node_pids(self, node: str) -> list[int]:
        # the node's pid files (its services and any mss.* placed there), not status(): that
        # probes every port of the testbed, and doctor asks this for every node
        run_dir = self.home.pid_file(node, "x").parent
        return [pid for path in run_dir.glob("*.pid") if (pid := launch.read_pid(path))]

    def freeze(self, node: str, frozen: bool) -> None:
        self.home.topology.node(node)
        pids = self._node_pids(node)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        # signals arrive asynchronously: return once every process is in the state asked for
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(stopped(p) != frozen for p in pids):
            time.sleep(0.01)

    def is_frozen(self, node: str) -> bool:
        return any(stopped(pid) for pid in self._node_pids(node))

    def node_command(self, node: str, argv: list[str]) -> tuple[list[str], dict[str, str], Path]:
        from testbed.runtime.nodeshell import node_command

        return node_command(self.home, node, argv)

    def down(self) -> int:
        procs = []
        for path in self._pid_files():
            pid = launch.read_pid(path)
            if pid:
                procs.append(psutil.Process(pid))
            path.unlink(missing_ok=True)
        procs += [p for p in self._strays() if p.pid not in {q.pid for q in procs}]
        stopped = terminate(procs)
        return stopped + self._sweep()

    def _strays(self) -> list[psutil.Process]:
        """Processes of this home without a (valid) pid file: exec'd ones carry the marker in their
        environment; forked ones (whose /proc environ is the parent's) run in their node's root."""
        found = []
        nodes = str(self.home.root / "nodes") + os.sep
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid == os.getpid():
                    continue
                if (
                    proc.cwd().startswith(nodes)
                    and proc.exe() == PYTHON
                    or proc.environ().get(MARKER) == str(self.home.root)
                ):
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def _sweep(self) -> int:
        return terminate(self._strays())


def stopped(pid: int) -> bool:
    """SIGSTOPped (a gone process is not)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_STOPPED)
    except psutil.Error:
        return False


def terminate(procs: list[psutil.Process]) -> int:
    """SIGCONT + SIGTERM, then SIGKILL what is left after the grace; returns how many."""
    for proc in procs:
        try:
            proc.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) process cannot act on SIGTERM
            proc.terminate()
        except psutil.Error:
            pass
    _gone, alive = psutil.wait_procs(procs, timeout=STOP_GRACE_S)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=STOP_GRACE_S)
    return len(procs)
