"""Turn a topology file into concrete nodes, addresses and services."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from testbed.errors import ConfigError
from testbed.topology.model import Node, Service, Topology, TopologyFile
from testbed.yamlsource import load, validate

DEFAULT_FILE = Path(__file__).with_name("default.yaml")
FIRST_HOST = 11  # .1-.10 stay free for the load balancers' VIPs


def load_topology(path: Path | None = None) -> Topology:
    path = path or DEFAULT_FILE
    data, lines = load(path)
    spec = validate(TopologyFile, data, lines, str(path))
    return resolve(spec, str(path))


def resolve(spec: TopologyFile, name: str = "<topology>") -> Topology:
    p = spec.ports
    fe = [f"{spec.frontends.prefix}{i:02d}" for i in range(1, spec.frontends.count + 1)]
    plan: list[tuple[str, str, list[Service]]] = []
    for n in fe:
        plan.append(
            (
                n,
                "frontend",
                [
                    Service(name="mta", kind="mta", port=p.smtp),
                    Service(name="pop3", kind="pop3", port=p.pop3),
                    Service(name="imap", kind="imap", port=p.imap),
                ],
            )
        )
    pool = [
        Service(name=f"aiuum.{i}", kind="uas", port=p.uas, instance=str(i))
        for i in range(1, spec.uas.pool_size + 1)
    ]
    for n in [*spec.uas.nodes, spec.uas.backup]:
        plan.append((n, "uas", [s.model_copy() for s in pool]))
    plan.append(
        (spec.uas.database, "database", [Service(name="acctdb", kind="acctdb", port=p.acctdb)])
    )
    for n in spec.mss.nodes:
        services = [Service(name="had", kind="had", port=p.had)]
        services += [
            Service(name=f"mapis.{i}", kind="mapis", port=p.mapis + i, instance=str(i))
            for i in range(spec.mss.mapis_per_node)
        ]
        plan.append((n, "mss", services))
    plan.append((spec.array.name, "array", []))
    for n in [*spec.lb.nodes, spec.lb.backup]:
        cold = n == spec.lb.backup
        plan.append(
            (n, "lb", [Service(name="alteon", kind="lb", port=p.lb_ctl, autostart=not cold)])
        )
    for n in [*spec.web.nodes, spec.web.backup]:
        cold = n == spec.web.backup
        plan.append(
            (n, "web", [Service(name="httpd", kind="web", port=p.http, autostart=not cold)])
        )
    plan.append((spec.dns.name, "dns", [Service(name="named", kind="dns", port=p.dns)]))
    plan.append(
        (spec.internet.name, "internet", [Service(name="remote-mta", kind="internet", port=p.smtp)])
    )

    names = [n for n, _, _ in plan]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(name, None, "nodes", f"node names used twice: {', '.join(dupes)}")
    hosts = list(ipaddress.ip_network(spec.network).hosts())[FIRST_HOST - 1 :]
    if len(hosts) < len(plan):
        raise ConfigError(name, None, "network", f"too small for {len(plan)} nodes")
    nodes = {
        n: Node(name=n, role=role, address=str(hosts[i]), services=svcs)  # type: ignore[arg-type]
        for i, (n, role, svcs) in enumerate(plan)
    }
    return Topology(spec=spec, nodes=nodes)
