"""What a service process is told about itself when it starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from testbed import clock
from testbed.home import Home
from testbed.topology.model import Node, Service, Topology


@dataclass
class ServiceContext:
    home: Home
    node: Node
    service: Service

    @property
    def topology(self) -> Topology:
        return self.home.topology

    @property
    def address(self) -> str:
        return self.node.address

    @property
    def root(self) -> Path:
        """The node's root folder (its own file system)."""
        return self.home.node_root(self.node.name)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"{self.node.name}.{self.service.name}")


def configure_logging(ctx: ServiceContext) -> None:
    """Each service writes its own log under the node's var/log."""
    log_dir = ctx.home.log_dir(ctx.node.name)
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / f"{ctx.service.name}.log")
    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    formatter.converter = clock.localtime  # the node's clock: skewed under the clock_skew fault
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
