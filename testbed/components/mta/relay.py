"""Where mail for a non-hosted domain goes. Every such domain is served by the Internet node for
now; the DNS component replaces this lookup with real MX records."""

from __future__ import annotations

from testbed.topology.model import Topology


def resolve_mx(topology: Topology, domain: str) -> list[tuple[str, int]]:
    del domain  # every remote domain lives on the one Internet node
    internet = topology.nodes[topology.spec.internet.name]
    return [(internet.address, topology.spec.ports.smtp)]
