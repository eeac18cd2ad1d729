"""Where mail for a non-hosted domain goes: the MX records of the domain, asked of the testbed's DNS
node (testbed.components.dns). A lookup failure is a DnsTemporary (the MTA defers and retries) or a
DnsPermanent (the MTA bounces: "Host or domain name not found")."""

from __future__ import annotations

from testbed.components.dns.resolver import DnsError, DnsPermanent, DnsTemporary
from testbed.components.dns.resolver import resolve_mx as _dns_mx
from testbed.topology.model import Topology

__all__ = ["DnsError", "DnsPermanent", "DnsTemporary", "resolve_mx"]


async def resolve_mx(topology: Topology, domain: str) -> list[tuple[str, int]]:
    """(address, port) of the domain's mail exchangers, best preference first."""
    return await _dns_mx(topology, domain)
