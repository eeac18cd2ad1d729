"""The client-facing endpoints of a testbed: where users (and tests) connect.

Until the load balancer exists these are the first front end's ports; `maildrill endpoints` prints
them and the internet node sends inbound mail for hosted domains there.
"""

from __future__ import annotations

from testbed.topology.model import Topology


def client_endpoints(topology: Topology) -> dict[str, str]:
    fe = topology.frontends[0]
    p = topology.spec.ports
    return {
        "smtp": f"{fe.address}:{p.smtp}",
        "submission": f"{fe.address}:{p.submission}",
        "pop3": f"{fe.address}:{p.pop3}",
        "imap": f"{fe.address}:{p.imap}",
    }


def hosted_mx(topology: Topology) -> tuple[str, int]:
    """Where mail for a hosted domain is delivered from outside."""
    host, port = client_endpoints(topology)["smtp"].rsplit(":", 1)
    return host, int(port)
