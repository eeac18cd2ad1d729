"""A load balancer unit's "prepared configuration": <node root>/opt/alteon/config/alteon.cfg.

Written at provisioning from the topology, read by the unit when it starts, so the plan's step
"activate the backup Alteon 180e with its prepared configuration" is literally true: the cold unit
brings up whatever its file says (and a drill can break the file on purpose). One statement a line:

    unit alteon184a primary            # or: cold
    vip 127.0.10.1
    ctl 127.0.10.27 7900
    peer alteon184a 127.0.10.27 7900   # every unit, in preference order (first = active at `up`)
    health interval 1.0 timeout 1.0 rise 2 fall 2
    group smtp 2525 smtp               # VIP port and health check (smtp|pop3|imap|http)
    real smtp fe01 127.0.10.11 2525    # a main back end of the group
    backup http webbak 127.0.10.33 8080  # used only while no main back end is healthy
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from testbed.errors import ConfigError
from testbed.home import Home
from testbed.topology.model import Topology

CHECKS = ("smtp", "pop3", "imap", "http")
CFG_PATH = "opt/alteon/config/alteon.cfg"


@dataclass(frozen=True)
class Real:
    node: str
    address: str
    port: int


@dataclass
class Group:
    name: str
    port: int
    check: str
    reals: list[Real] = field(default_factory=list)
    backups: list[Real] = field(default_factory=list)


@dataclass
class LbConfig:
    unit: str
    cold: bool
    vip: str
    ctl: tuple[str, int]
    peers: dict[str, tuple[str, int]]  # insertion order = preference order
    interval: float = 1.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 2
    groups: list[Group] = field(default_factory=list)

    @property
    def takeover_after(self) -> float:
        """Silence of the VIP holder before this unit takes over: 2.5 health intervals for a
        primary; the cold unit waits 3 and then still defers to any other unit that answers."""
        return self.interval * (3.0 if self.cold else 2.5)


def cfg_path(home: Home, node: str) -> Path:
    return home.node_root(node) / CFG_PATH


def build_config(topology: Topology, unit: str) -> LbConfig:
    spec, p = topology.spec, topology.spec.ports
    units = [*spec.lb.nodes, spec.lb.backup]
    cfg = LbConfig(
        unit=unit,
        cold=unit == spec.lb.backup,
        vip=topology.vip,
        ctl=(topology.node(unit).address, p.lb_ctl),
        peers={u: (topology.node(u).address, p.lb_ctl) for u in units},
        interval=spec.lb.health_interval,
        # short, but never below a second: a loaded 2-core box must not flap its back ends
        timeout=max(1.0, spec.lb.health_interval),
    )
    fes = topology.frontends
    for name, port, check in (
        ("smtp", p.smtp, "smtp"),
        ("submission", p.submission, "smtp"),
        ("pop3", p.pop3, "pop3"),
        ("imap", p.imap, "imap"),
    ):
        cfg.groups.append(Group(name, port, check, [Real(n.name, n.address, port) for n in fes]))
    web = Group("http", p.http, "http")
    web.reals = [Real(n, topology.node(n).address, p.http) for n in spec.web.nodes]
    web.backups = [Real(spec.web.backup, topology.node(spec.web.backup).address, p.http)]
    cfg.groups.append(web)
    return cfg


def render(cfg: LbConfig) -> str:
    out = [
        f"# {cfg.unit}: prepared configuration (written at provisioning; read when the unit starts)",
        f"unit {cfg.unit} {'cold' if cfg.cold else 'primary'}",
        f"vip {cfg.vip}",
        f"ctl {cfg.ctl[0]} {cfg.ctl[1]}",
    ]
    out += [f"peer {name} {addr} {port}" for name, (addr, port) in cfg.peers.items()]
    out.append(
        f"health interval {cfg.interval} timeout {cfg.timeout} rise {cfg.rise} fall {cfg.fall}"
    )
    for g in cfg.groups:
        out.append(f"group {g.name} {g.port} {g.check}")
        out += [f"real {g.name} {r.node} {r.address} {r.port}" for r in g.reals]
        out += [f"backup {g.name} {r.node} {r.address} {r.port}" for r in g.backups]
    return "\n".join(out) + "\n"


def parse(text: str, file: str = "alteon.cfg") -> LbConfig:
    """The inverse of render(); a wrong line raises ConfigError naming the file and line."""
    cfg = LbConfig(unit="", cold=False, vip="", ctl=("", 0), peers={})
    groups: dict[str, Group] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        key, args = words[0], words[1:]
        try:
            if key == "unit":
                cfg.unit, cfg.cold = args[0], args[1] == "cold"
            elif key == "vip":
                cfg.vip = args[0]
            elif key == "ctl":
                cfg.ctl = (args[0], int(args[1]))
            elif key == "peer":
                cfg.peers[args[0]] = (args[1], int(args[2]))
            elif key == "health":
                opts = dict(zip(args[::2], args[1::2], strict=True))
                cfg.interval = float(opts.get("interval", cfg.interval))
                cfg.timeout = float(opts.get("timeout", cfg.timeout))
                cfg.rise = int(opts.get("rise", cfg.rise))
                cfg.fall = int(opts.get("fall", cfg.fall))
            elif key == "group":
                if args[2] not in CHECKS:
                    raise ValueError(f"health check must be one of {', '.join(CHECKS)}")
                groups[args[0]] = Group(args[0], int(args[1]), args[2])
                cfg.groups.append(groups[args[0]])
            elif key in ("real", "backup"):
                real = Real(args[1], args[2], int(args[3]))
                group = groups[args[0]]
                (group.reals if key == "real" else group.backups).append(real)
            else:
                raise ValueError(f"unknown statement {key!r}")
        except KeyError as exc:
            raise ConfigError(file, no, key, f"group {exc} is not declared above") from exc
        except (IndexError, ValueError) as exc:
            raise ConfigError(file, no, key, str(exc) or "missing argument") from exc
    if not cfg.unit or not cfg.vip or not cfg.ctl[1]:
        raise ConfigError(file, None, "", "needs `unit`, `vip` and `ctl` statements")
    if cfg.interval <= 0 or cfg.timeout <= 0 or cfg.rise < 1 or cfg.fall < 1:
        raise ConfigError(file, None, "health", "interval/timeout > 0 and rise/fall >= 1")
    return cfg


def load_config(home: Home, node: str) -> LbConfig:
    path = cfg_path(home, node)
    try:
        return parse(path.read_text(), str(path))
    except FileNotFoundError:  # a home provisioned without it (e.g. a unit test's bare home)
        return build_config(home.topology, node)


def provision_lb(home: Home, topology: Topology) -> None:
    """Write every unit's prepared configuration and the shared VIP state (first unit holds it)."""
    from testbed.components.lb.state import write_state

    for unit in [*topology.spec.lb.nodes, topology.spec.lb.backup]:
        path = cfg_path(home, unit)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(build_config(topology, unit)))
    write_state(home, {"owner": topology.spec.lb.nodes[0], "by": "provision"})
