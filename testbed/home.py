"""Where a testbed lives on disk: one folder (the "home") holds every node's root and the shared state.

<home>/topology.json            resolved topology, read by every process
<home>/tls/                     certificate generated at `up` (STARTTLS)
<home>/cluster/state.json       cluster membership and service groups (the had agents share it)
<home>/nodes/<node>/            a node's root folder: opt/aimc/..., var/log, var/run, var/spool
<home>/nodes/<array>/luns/mX    the disk array: every mailroot lives here
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from testbed.topology.model import Topology

ENV_HOME = "MAILDRILL_HOME"


class Home:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root or os.environ.get(ENV_HOME) or ".maildrill").absolute()

    @property
    def topology_file(self) -> Path:
        return self.root / "topology.json"

    @property
    def exists(self) -> bool:
        return self.topology_file.exists()

    @cached_property
    def topology(self) -> Topology:
        return Topology.model_validate_json(self.topology_file.read_text())

    def node_root(self, node: str) -> Path:
        return self.root / "nodes" / node

    def pid_file(self, node: str, service: str) -> Path:
        return self.node_root(node) / "var" / "run" / f"{service}.pid"

    def log_dir(self, node: str) -> Path:
        return self.node_root(node) / "var" / "log"

    def spool(self, node: str) -> Path:
        return self.node_root(node) / "var" / "spool"

    @property
    def array_root(self) -> Path:
        return self.node_root(self.topology.spec.array.name)

    @property
    def luns(self) -> Path:
        """Mailroot folders on the shared array (only the array code may touch them directly)."""
        return self.array_root / "luns"

    @property
    def cluster_state(self) -> Path:
        return self.root / "cluster" / "state.json"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def accounts_db(self) -> Path:
        return self.node_root(self.topology.spec.uas.database) / "var" / "db" / "accounts.sqlite"

    def replica_db(self, node: str) -> Path:
        return self.node_root(node) / "var" / "db" / "accounts-replica.sqlite"
