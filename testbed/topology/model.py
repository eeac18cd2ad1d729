"""The topology file's schema and the resolved topology that every component reads.

A topology file describes the plan's platform as data (node names, counts, placement, ports, mail
policy); `resolve()` turns it into concrete nodes with loopback addresses and their services.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

UserClass = Literal["vip", "paying", "regular"]
USER_CLASSES: tuple[UserClass, ...] = ("vip", "paying", "regular")
DEFAULT_QUOTA: dict[UserClass, int] = {"vip": 200 << 20, "paying": 100 << 20, "regular": 20 << 20}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ports(Strict):
    smtp: int = Field(2525, ge=1, le=65535)
    submission: int = Field(2587, ge=1, le=65535)
    pop3: int = Field(2110, ge=1, le=65535)
    imap: int = Field(2143, ge=1, le=65535)
    uas: int = Field(7300, ge=1, le=65535)
    acctdb: int = Field(7400, ge=1, le=65535)
    mapis: int = Field(7500, ge=1, le=65535)  # MAPI server n of a node listens on mapis + n
    mss: int = Field(7600, ge=1, le=65535)  # the mss process of mailroot i listens on mss + i
    had: int = Field(7700, ge=1, le=65535)
    internet_ctl: int = Field(7800, ge=1, le=65535)
    lb_ctl: int = Field(7900, ge=1, le=65535)  # a load balancer unit's own management port
    http: int = Field(8080, ge=1, le=65535)  # the plan's port 80 (80 itself needs root)
    http_admin: int = Field(2080, ge=1, le=65535)
    dns: int = Field(5353, ge=1, le=65535)


class Frontends(Strict):
    count: int = Field(4, ge=1, le=99)
    prefix: str = Field("fe", pattern=r"^[a-z][a-z0-9-]*$")


class Uas(Strict):
    nodes: list[str] = Field(default_factory=lambda: ["uas0", "uas1"], min_length=1)
    backup: str = "uasbak"
    pool_size: int = Field(2, ge=1, le=16)
    database: str = "oradb"


class Mss(Strict):
    nodes: list[str] = Field(default_factory=lambda: ["mss0", "mss1", "mss2"], min_length=2)
    mapis_per_node: int = Field(1, ge=1, le=8)
    takeover: list[str] = Field(default_factory=lambda: ["mss2"])
    mailroots: dict[str, str] = Field(
        default_factory=lambda: {
            "m0": "mss0",
            "m1": "mss1",
            "m2": "mss0",
            "m3": "mss0",
            "m4": "mss1",
            "m5": "mss1",
        }
    )
    heartbeat_timeout: float = Field(3.0, gt=0)

    @field_validator("mailroots", "takeover")
    @classmethod
    def _on_known_nodes(cls, value: dict[str, str] | list[str], info: ValidationInfo) -> object:
        nodes = info.data.get("nodes", [])
        placed = value.items() if isinstance(value, dict) else [(None, n) for n in value]
        for root, node in placed:
            if node not in nodes:
                what = f"mailroot {root} is placed on" if root else "takeover node"
                raise ValueError(f"{what} {node!r}, not one of {nodes}")
        return value


class LoadBalancers(Strict):
    nodes: list[str] = Field(default_factory=lambda: ["alteon184a", "alteon184b"], min_length=1)
    backup: str = "alteon180e"  # cold until the network plan activates it
    health_interval: float = Field(1.0, gt=0)  # seconds between back-end health checks


class Web(Strict):
    nodes: list[str] = Field(default_factory=lambda: ["web1", "web2"], min_length=1)
    backup: str = "webbak"  # cold backup webserver
    webroot_backup_date: str = Field("040430", pattern=r"^[0-9]{6}$")


class Dns(Strict):
    name: str = "dns"
    backup_mx: bool = True  # a second MX with a higher preference (the internet node's relay)


class Array(Strict):
    name: str = "array0"


class Internet(Strict):
    name: str = "internet"
    domains: list[str] = Field(default_factory=lambda: ["example.net", "remote.test"])


class Mail(Strict):
    max_message_size: int = Field(10 * 1024 * 1024, ge=1024)
    retry_schedule: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0, 60.0], min_length=1
    )
    queue_lifetime: float = Field(3600, gt=0)  # seconds before a deferred message is bounced
    quota: dict[UserClass, int] = Field(default_factory=lambda: dict(DEFAULT_QUOTA))
    auth_require_tls: bool = False


class TopologyFile(Strict):
    name: str = "aimc"
    network: str = "127.0.10.0/24"
    domains: list[str] = Field(
        default_factory=lambda: ["aimc.test", "mail.aimc.test", "corp.test"], min_length=1
    )
    frontends: Frontends = Field(default_factory=Frontends)
    uas: Uas = Field(default_factory=Uas)
    mss: Mss = Field(default_factory=Mss)
    array: Array = Field(default_factory=Array)
    lb: LoadBalancers = Field(default_factory=LoadBalancers)
    web: Web = Field(default_factory=Web)
    dns: Dns = Field(default_factory=Dns)
    internet: Internet = Field(default_factory=Internet)
    mail: Mail = Field(default_factory=Mail)
    ports: Ports = Field(default_factory=Ports)

    @field_validator("network")
    @classmethod
    def _loopback(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ValueError(f"not a network: {value!r}") from exc
        # loopback (local backend), or the range the docker backend builds its own networks in:
        # never an address that could reach a host the testbed did not create
        allowed = [ipaddress.IPv4Network("127.0.0.0/8"), ipaddress.IPv4Network("10.231.0.0/16")]
        if not (isinstance(net, ipaddress.IPv4Network) and any(net.subnet_of(a) for a in allowed)):
            raise ValueError(
                "must lie inside 127.0.0.0/8 (loopback; the docker backend moves it to 10.231.X.0/24)"
            )
        return str(net)


class Service(BaseModel):
    """One OS process: `kind` selects the component, `instance` tells copies apart."""

    name: str  # unique on its node, e.g. "mta", "aiuum.1", "mss.m0"
    kind: str
    port: int
    instance: str = ""
    autostart: bool = True  # False: a cold standby, started only when the plan activates it


class Node(BaseModel):
    name: str
    role: Literal["frontend", "uas", "database", "mss", "array", "internet", "lb", "web", "dns"]
    address: str
    services: list[Service] = Field(default_factory=list)


class Topology(BaseModel):
    """A resolved topology: what components read (from <home>/topology.json)."""

    spec: TopologyFile
    nodes: dict[str, Node]

    def node(self, name: str) -> Node:
        from testbed.errors import UnknownNodeError

        if name not in self.nodes:
            raise UnknownNodeError(f"no node {name!r}; nodes are: {', '.join(self.nodes)}")
        return self.nodes[name]

    def nodes_with_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == role]

    @property
    def frontends(self) -> list[Node]:
        return self.nodes_with_role("frontend")

    @property
    def vip(self) -> str:
        """The service VIP the active load balancer owns (first host of the network)."""
        return str(next(ipaddress.ip_network(self.spec.network).hosts()))

    @property
    def mailroots(self) -> list[str]:
        return sorted(self.spec.mss.mailroots)

    def mss_port(self, mailroot: str) -> int:
        return self.spec.ports.mss + self.mailroots.index(mailroot)

    def mapis_ports(self) -> list[int]:
        return [self.spec.ports.mapis + i for i in range(self.spec.mss.mapis_per_node)]
