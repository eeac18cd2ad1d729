"""The docker backend: every node a container on a network this testbed creates, with the node's
address from the topology; the same home folder bind-mounted at the same path in every container,
so cluster state, the array, queues, ledgers and pid files are shared exactly as on the local
backend. Containers use the host's pid namespace: a pid file means the same process inside and
outside, and faults, status and `down` reach a process in a container as they reach a local one.

Everything it creates carries the label org.maildrill.home=<home>, which is how `down` (and a
later `up` after a crash) finds its own containers and network and never anyone else's.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from testbed.errors import AlreadyRunningError, MaildrillError
from testbed.runtime import launch
from testbed.runtime.backend import ServiceState
from testbed.runtime.health import wait_all
from testbed.runtime.kernel_links import KernelLinks, supported
from testbed.runtime.local import MARKER, LocalBackend
from testbed.runtime.node import IN_CONTAINER
from testbed.runtime.provision import initial_services, provision
from testbed.topology.resolve import DEFAULT_FILE

IMAGE = os.environ.get("MAILDRILL_IMAGE", "maildrill/node:latest")
LABEL = "org.maildrill.home"
SOURCE_LABEL = "org.maildrill.source"  # on the image: source_hash() of what it holds
DOCKER_NET = "10.231.{}.0/24"  # a loopback topology network 127.0.X.0/24 becomes 10.231.X.0/24
UP_WAIT_S = 60.0
START_WAIT_S = 20.0
RECORD_PID = "MAILDRILL_RECORD_PID"  # a service started by `docker exec` writes its own pid file


def source_hash() -> str:
    """What the image must have been built from: a hash of this package's Python files."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")) + sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def docker_network(network: str) -> str:
    """The topology's network, moved off loopback (containers cannot share 127/8)."""
    net = ipaddress.ip_network(network)
    if not net.is_loopback:
        return network
    return DOCKER_NET.format(int(net.network_address.packed[2]))


class DockerBackend(LocalBackend):
    name = "docker"
    _engine: Any = None

    # --- the engine -----------------------------------------------------------------------------
    def client(self) -> Any:
        """The engine's client, connected and pinged once per backend object (doctor and the
        kernel link rules ask for it once per node)."""
        if self._engine is not None:
            return self._engine
        try:
            import docker

            client = docker.from_env(timeout=60)
            client.ping()
        except Exception as exc:  # noqa: BLE001 - docker raises many kinds; all mean "no engine"
            raise MaildrillError(
                f"docker backend: no Docker engine reachable ({exc.__class__.__name__}); "
                "start dockerd (see README, 'Containers')"
            ) from exc
        self._engine = client
        return client

    @property
    def prefix(self) -> str:
        return "md-" + hashlib.sha1(str(self.home.root).encode()).hexdigest()[:8]

    def container_name(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def _filters(self) -> dict[str, str]:
        return {"label": f"{LABEL}={self.home.root}"}

    # --- up -------------------------------------------------------------------------------------
    def up(self, topology_file: Path | None, users: int, seed: int) -> list[ServiceState]:
        if self.is_up():
            raise AlreadyRunningError(f"already up in {self.home.root} (`maildrill down` first)")
        client = self.client()
        self.provision_only(client, topology_file, users, seed)
        started = time.perf_counter()
        topo = self.home.topology
        try:
            network = self._network(client)
            nodes = self.container_nodes()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: self._run_node(client, network, n), nodes))
            targets: dict[tuple[str, int], tuple[str, str]] = {}
            for node, service in initial_services(topo):
                spec = launch.service_spec(topo, node, service)
                targets[(topo.nodes[node].address, spec.port)] = (node, service)
            missing = wait_all(targets, UP_WAIT_S, lambda _t: True)
        except BaseException:
            self.down()
            raise
        return self._healthy_or_down(targets, missing, started)

    def provision_only(
        self, client: Any, topology_file: Path | None, users: int, seed: int
    ) -> None:
        """Everything before the containers start: image check, leftovers removed, home written."""
        try:
            image = client.images.get(IMAGE)
        except Exception as exc:  # noqa: BLE001 - ImageNotFound or an API error
            raise MaildrillError(
                f"docker backend: image {IMAGE} not found; build it with `make image`"
            ) from exc
        if (image.labels or {}).get(SOURCE_LABEL) != source_hash():
            raise MaildrillError(
                f"docker backend: image {IMAGE} was built from other sources than this "
                "maildrill; rebuild it with `make image`"
            )
        self._remove_all(client)  # leftovers of a crashed earlier run
        self.home.root.mkdir(parents=True, exist_ok=True)
        self.timings = provision(self.home, self._topology_file(topology_file), users, seed)

    def _topology_file(self, topology_file: Path | None) -> Path:
        data = yaml.safe_load((topology_file or DEFAULT_FILE).read_text()) or {}
        data["network"] = docker_network(str(data.get("network", "127.0.10.0/24")))
        out = self.home.root / "topology.docker.yaml"
        out.write_text(yaml.safe_dump(data, sort_keys=False))
        return out

    def node_spec(self, node: str) -> dict[str, Any]:
        """What a node's container is, for the engine API and for `maildrill compose` alike."""
        topo = self.home.topology
        role = topo.nodes[node].role
        home = str(self.home.root)
        env = {MARKER: home, IN_CONTAINER: node, "MAILDRILL_HOME": home}
        if role == "lb":
            env["MAILDRILL_VIP_DEVICE"] = "eth0"  # the active unit holds the VIP on its interface
        return {
            "name": self.container_name(node),
            "hostname": node,
            "address": topo.nodes[node].address,
            "command": ["python3", "-m", "testbed.runtime.node", home, node],
            "labels": {LABEL: home, "org.maildrill.node": node, "org.maildrill.role": role},
            "environment": env,
            "working_dir": str(self.home.node_root(node)),
            "home": home,
            "cap_add": ["NET_ADMIN", "NET_RAW"] if role == "lb" else [],
        }

    def container_nodes(self) -> list[str]:
        # cold standbys too: their machine is on, only their services wait to be started
        return sorted(n.name for n in self.home.topology.nodes.values() if n.services)

    def network_spec(self) -> dict[str, str]:
        subnet = self.home.topology.spec.network
        # the host's own address on the bridge: the last-but-one host (the last is the "dead
        # address" faults point at; the one before is also the flood source, which the host owns)
        gateway = str(list(ipaddress.ip_network(subnet).hosts())[-2])
        return {"name": self.prefix, "subnet": subnet, "gateway": gateway}

    def _network(self, client: Any) -> Any:
        from docker.types import IPAMConfig, IPAMPool

        net = self.network_spec()
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=net["subnet"], gateway=net["gateway"])])
        return client.networks.create(
            net["name"], driver="bridge", ipam=ipam, labels={LABEL: str(self.home.root)}
        )

    def _run_node(self, client: Any, network: Any, node: str) -> None:
        api = client.api
        spec = self.node_spec(node)
        host_config = api.create_host_config(
            binds={spec["home"]: {"bind": spec["home"], "mode": "rw"}},
            pid_mode="host",
            cap_add=spec["cap_add"] or None,
        )
        endpoint = api.create_endpoint_config(ipv4_address=spec["address"])
        created = api.create_container(
            IMAGE,
            command=spec["command"],
            name=spec["name"],
            hostname=spec["hostname"],
            labels=spec["labels"],
            environment=spec["environment"],
            working_dir=spec["working_dir"],
            host_config=host_config,
            networking_config=api.create_networking_config({network.name: endpoint}),
        )
        api.start(created["Id"])

    # --- state ----------------------------------------------------------------------------------
    def is_up(self) -> bool:
        if super().is_up():
            return True
        if not self.home.exists:
            return False
        try:
            return bool(self.client().containers.list(filters=self._filters()))
        except MaildrillError:
            return False

    # --- services -------------------------------------------------------------------------------
    def start(self, node: str, service: str) -> None:
        here = os.environ.get(IN_CONTAINER)
        if here is not None:  # a node command inside a container: only its own node's services
            if here != node:
                raise MaildrillError(f"from {here} only {here}'s services start; run it on {node}")
            super().start(node, service)
            return
        spec = launch.service_spec(self.home.topology, node, service)
        if self._alive(node, service):
            raise MaildrillError(f"{node}/{service} is already running")
        container = self.client().containers.get(self.container_name(node))
        home = str(self.home.root)
        container.exec_run(
            ["python3", "-m", "testbed.runtime.launch", home, node, service],
            detach=True,
            environment={MARKER: home, IN_CONTAINER: node, RECORD_PID: "1"},
        )
        began = time.monotonic()
        address = self.home.topology.nodes[node].address
        # the pid file appears once the process runs; give it a moment before judging it dead
        missing = wait_all(
            [(address, spec.port)],
            START_WAIT_S,
            lambda _t: time.monotonic() - began < 5.0 or self._alive(node, service),
        )
        if missing:
            raise MaildrillError(
                f"{node}/{service} did not start.\n{self._log_tail(node, service)}"
            )

    def freeze(self, node: str, frozen: bool) -> None:
        """`docker pause`/`unpause`: the cgroup freezer holds every process of the container,
        also those started later by `docker exec` (they live in its cgroup)."""
        self.home.topology.node(node)
        container = self.client().containers.get(self.container_name(node))
        paused = container.status == "paused"
        if frozen and not paused:
            container.pause()
        elif not frozen and paused:
            container.unpause()

    def is_frozen(self, node: str) -> bool:
        try:
            container = self.client().containers.get(self.container_name(node))
        except Exception:  # noqa: BLE001 - no engine or no such container: nothing frozen
            return False
        return bool(container.status == "paused")

    # --- link faults in the kernel ---------------------------------------------------------------
    def _kernel(self) -> KernelLinks:
        topo = self.home.topology

        def netns(node: str) -> list[str]:
            client = self.client()
            try:
                pid = client.containers.get(self.container_name(node)).attrs["State"]["Pid"]
            except Exception as exc:  # noqa: BLE001 - NotFound or an API error
                raise MaildrillError(f"no container for {node}") from exc
            if not pid:
                raise MaildrillError(f"{node}'s container is not running")
            return ["nsenter", "-t", str(pid), "-n"]

        return KernelLinks(netns, lambda node: topo.nodes[node].address)

    def link_in_kernel(self, rule: dict[str, Any]) -> bool:
        return supported(rule, set(self.container_nodes()))

    def set_kernel_link(self, rule: dict[str, Any], on: bool) -> None:
        self._kernel().apply(rule, on)

    def kernel_links(self) -> set[str]:
        return self._kernel().ids(self.container_nodes())

    def clear_kernel_links(self) -> list[str]:
        return self._kernel().clear(self.container_nodes())

    def node_command(self, node: str, argv: list[str]) -> tuple[list[str], dict[str, str], Path]:
        """`docker exec` into the node's container, in its root, with its commands on PATH."""
        from testbed.nodecmd import bin_dirs

        self.home.topology.node(node)
        interactive = os.isatty(0)
        path = ":".join([*bin_dirs(self.home, node), "/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        cmd = ["docker", "exec", *(["-it"] if interactive else ["-i"])]
        cmd += ["-w", str(self.home.node_root(node)), "-e", f"PATH={path}"]
        cmd += ["-e", f"MAILDRILL_HOME={self.home.root}", "-e", f"MAILDRILL_NODE={node}"]
        cmd += ["-e", f"PS1=[{node} \\W]# ", self.container_name(node), *argv]
        return cmd, dict(os.environ), self.home.root

    # --- down -----------------------------------------------------------------------------------
    def down(self) -> int:
        stopped = 0
        try:
            client = self.client()
        except MaildrillError:
            client = None
        if client is not None:
            stopped = self._remove_all(client)
        return stopped + super().down()

    def _remove_all(self, client: Any) -> int:
        containers = client.containers.list(all=True, filters=self._filters())

        def remove(container: Any) -> None:
            # the node's init stops its services first; an exited one is removed all the same
            with contextlib.suppress(Exception):
                container.stop(timeout=3)
            container.remove(force=True)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove, containers))
        for network in client.networks.list(filters=self._filters()):
            network.remove()
        return len(containers)
