"""The client-facing endpoints of a testbed: where users (and tests) connect.

Every client service is reached through the load balancer's VIP (SPEC §1): the unit holding it
spreads SMTP, submission, POP3 and IMAP over the healthy front ends and HTTP over the webservers.
`maildrill endpoints` prints them and the internet node sends inbound mail for hosted domains there
(the MX of every hosted domain points at the SMTP VIP).
"""

from __future__ import annotations

from testbed.topology.model import Topology


def client_endpoints(topology: Topology) -> dict[str, str]:
    vip = topology.vip
    p = topology.spec.ports
    return {
        "smtp": f"{vip}:{p.smtp}",
        "submission": f"{vip}:{p.submission}",
        "pop3": f"{vip}:{p.pop3}",
        "imap": f"{vip}:{p.imap}",
        "http": f"{vip}:{p.http}",
        "dns": f"{topology.nodes[topology.spec.dns.name].address}:{p.dns}",
    }


def direct_endpoints(topology: Topology, node: str | None = None) -> dict[str, str]:
    """One front end's own ports, bypassing the VIP (benchmarks, diagnosis)."""
    fe = topology.node(node) if node else topology.frontends[0]
    p = topology.spec.ports
    return {
        "smtp": f"{fe.address}:{p.smtp}",
        "submission": f"{fe.address}:{p.submission}",
        "pop3": f"{fe.address}:{p.pop3}",
        "imap": f"{fe.address}:{p.imap}",
    }


def hosted_mx(topology: Topology) -> tuple[str, int]:
    """Where mail for a hosted domain is delivered from outside: the SMTP VIP."""
    host, port = client_endpoints(topology)["smtp"].rsplit(":", 1)
    return host, int(port)
