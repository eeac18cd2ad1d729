"""The BIND zone files the dns node serves: one per hosted domain and per Internet domain.

They live in the dns node's root, <dns root>/etc/named/<domain>.zone, as plain text that an
operator (or a fault such as "DNS MX wrong or missing") edits in place; the server reloads a file
when it changes.
This module only writes text, so `provision` does not import twisted.

The files stay within what twisted's BindAuthority parses: $ORIGIN/$TTL, one record per line, no
parentheses (its continuation handling breaks on "( ... )" written on one line).
"""

from __future__ import annotations

import time
from pathlib import Path

from testbed.home import Home
from testbed.topology.model import Topology

ZONE_DIR = Path("etc/named")
TTL = 60  # short on purpose: a drill's DNS fix should not wait for caches


def zone_dir(home: Home, topology: Topology) -> Path:
    return home.node_root(topology.spec.dns.name) / ZONE_DIR


def zone_file(home: Home, topology: Topology, domain: str) -> Path:
    return zone_dir(home, topology) / f"{domain.lower()}.zone"


def _head(domain: str, dns_address: str, serial: int) -> list[str]:
    return [
        f"; zone {domain}, written by maildrill at provisioning",
        f"$ORIGIN {domain}.",
        f"$TTL {TTL}",
        f"@        IN SOA   ns.{domain}. hostmaster.{domain}. {serial} 3600 600 86400 {TTL}",
        f"@        IN NS    ns.{domain}.",
        f"ns       IN A     {dns_address}",
    ]


def hosted_zone(topology: Topology, domain: str, serial: int) -> str:
    """Every client-facing name points at the service VIP; the backup MX (preference 20) at the
    first front end itself, so inbound mail still has a way in while the load balancer is down."""
    vip = topology.vip
    lines = _head(domain, topology.nodes[topology.spec.dns.name].address, serial)
    lines += [
        f"@        IN A     {vip}",
        f"@        IN MX    10 mx.{domain}.",
    ]
    if topology.spec.dns.backup_mx:
        lines.append(f"@        IN MX    20 mx2.{domain}.")
        lines.append(f"mx2      IN A     {topology.frontends[0].address}")
    lines += [f"{name:<8} IN A     {vip}" for name in ("mx", "smtp", "pop3", "imap", "www")]
    lines.append(f"webmail  IN CNAME www.{domain}.")
    return "\n".join(lines) + "\n"


def internet_zone(topology: Topology, domain: str, serial: int) -> str:
    """A remote domain: its MX is the Internet node's MTA."""
    internet = topology.nodes[topology.spec.internet.name].address
    lines = _head(domain, topology.nodes[topology.spec.dns.name].address, serial)
    lines += [
        f"@        IN A     {internet}",
        f"@        IN MX    10 mx.{domain}.",
        f"mx       IN A     {internet}",
    ]
    return "\n".join(lines) + "\n"


def zones(topology: Topology) -> dict[str, str]:
    """domain -> zone file text, for every domain the dns node is authoritative for."""
    serial = int(time.strftime("%Y%m%d")) * 100 + 1
    out = {d.lower(): hosted_zone(topology, d.lower(), serial) for d in topology.spec.domains}
    for d in topology.spec.internet.domains:
        out.setdefault(d.lower(), internet_zone(topology, d.lower(), serial))
    return out


def provision_dns(home: Home, topology: Topology) -> None:
    """Write every zone file (atomically, so a running server never reads half a file)."""
    folder = zone_dir(home, topology)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.zone"):
        old.unlink()
    for domain, text in zones(topology).items():
        path = zone_file(home, topology, domain)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
