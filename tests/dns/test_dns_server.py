"""The dns node's name server, asked with dig and with the MTA's own resolver: records of hosted and
Internet domains, NXDOMAIN/REFUSED/SERVFAIL, zone edits taking effect, a dead or hung server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from testbed.components.dns import resolver
from testbed.components.dns.resolver import DnsPermanent, DnsTemporary, resolve_mx
from testbed.components.dns.zones import provision_dns, zone_file
from testbed.home import Home
from testbed.runtime import launch
from testbed.runtime.health import listening
from testbed.runtime.local import LocalBackend
from testbed.topology.model import Topology
from testbed.topology.resolve import load_topology

NETWORK = "127.0.28.0/26"
NOBODY = ("127.0.28.60", 5353)  # an address of the range on which nothing listens

pytestmark = pytest.mark.skipif(shutil.which("dig") is None, reason="dig (bind9-dnsutils) missing")


class Named:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.topology: Topology = home.topology
        node = self.topology.nodes[self.topology.spec.dns.name]
        self.address, self.port = node.address, self.topology.spec.ports.dns

    def dig(self, *args: str) -> str:
        cmd = ["dig", f"@{self.address}", "-p", str(self.port), "+norec", "+time=2", "+tries=2"]
        return subprocess.run(
            [*cmd, *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout

    def short(self, *args: str) -> list[str]:
        return self.dig("+short", *args).split("\n")[:-1]

    def status(self, *args: str) -> str:
        out = self.dig(*args)
        return out.split("status: ", 1)[1].split(",", 1)[0]

    def pid(self) -> int:
        pid = launch.read_pid(self.home.pid_file("dns", "named"))
        assert pid is not None
        return pid


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    root = tmp_path_factory.mktemp("dnshome")
    (root / "topology.yaml").write_text(yaml.safe_dump({"network": NETWORK}))
    home = Home(root)
    home.topology_file.write_text(load_topology(root / "topology.yaml").model_dump_json())
    provision_dns(home, home.topology)
    server = Named(home)
    try:
        launch.spawn_exec(home, "dns", "named")
        eventually(lambda: listening(server.address, server.port, 0.2))
        yield server
    finally:
        LocalBackend(home).down()
        launch.reap()


def eventually(check: Callable[[], object], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def edit(path: Path, text: str) -> None:
    """Replace a zone file the way an editor would, with a new mtime even within one tick."""
    stamp = path.stat().st_mtime_ns + 1_000_000
    path.write_text(text)
    os.utime(path, ns=(stamp, stamp))


def mx(named: Named, domain: str) -> list[tuple[str, int]]:
    return asyncio.run(resolve_mx(named.topology, domain, timeout=1.0))


def test_hosted_domain_records(named: Named) -> None:
    topo, fe = named.topology, named.topology.frontends[0].address
    assert named.short("MX", "aimc.test") == ["10 mx.aimc.test.", "20 mx2.aimc.test."]
    out = named.dig("MX", "aimc.test")
    assert "flags: qr aa" in out  # authoritative
    assert f"mx.aimc.test.\t\t60\tIN\tA\t{topo.vip}" in out  # A records as additional data
    assert named.short("A", "mx.corp.test") == [topo.vip]
    assert named.short("A", "mx2.corp.test") == [fe]
    for host in ("smtp", "pop3", "imap", "www"):
        assert named.short("A", f"{host}.mail.aimc.test") == [topo.vip]
    assert named.short("A", "webmail.aimc.test") == ["www.aimc.test.", topo.vip]
    assert named.short("CNAME", "webmail.aimc.test") == ["www.aimc.test."]
    soa = named.short("SOA", "corp.test")[0].split()
    assert soa[:2] == ["ns.corp.test.", "hostmaster.corp.test."]
    assert named.short("NS", "mail.aimc.test") == ["ns.mail.aimc.test."]
    assert named.short("A", "ns.mail.aimc.test") == [named.address]
    assert named.short("+tcp", "MX", "corp.test") == ["10 mx.corp.test.", "20 mx2.corp.test."]


def test_internet_domain_and_errors(named: Named) -> None:
    internet = named.topology.nodes["internet"].address
    assert named.short("MX", "example.net") == ["10 mx.example.net."]
    assert named.short("A", "mx.remote.test") == [internet]
    assert named.status("A", "nothing.aimc.test") == "NXDOMAIN"
    assert "SOA\tns.aimc.test." in named.dig("A", "nothing.aimc.test")
    assert named.status("MX", "gmail.com") == "REFUSED"
    assert named.status("CH", "TXT", "version.bind") == "REFUSED"
    assert named.status("TXT", "aimc.test") == "NOERROR"  # the name exists, without such records


def test_garbage_does_not_stop_the_server(named: Named) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x00", b"\xff" * 40, os.urandom(300)):
            s.sendto(junk, (named.address, named.port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"\x12\x34" + bytes(10), (named.address, named.port))  # a query of no question
        assert s.recv(512)[:4] == b"\x12\x34\x80\x01"  # QR, FORMERR
    with socket.create_connection((named.address, named.port), timeout=5) as c:
        c.sendall(b"\x00\x05hello")  # a TCP message too short to be DNS
    assert named.short("MX", "example.net") == ["10 mx.example.net."]


def test_mta_resolver(named: Named) -> None:
    topo, port = named.topology, named.topology.spec.ports.smtp
    internet = topo.nodes["internet"].address
    assert mx(named, "aimc.test") == [(topo.vip, port), (topo.frontends[0].address, port)]
    assert mx(named, "Example.NET") == [(internet, port)]
    with pytest.raises(DnsPermanent, match="Host or domain name not found"):
        mx(named, "nobody.example.net")  # NXDOMAIN
    with pytest.raises(DnsPermanent, match="Host or domain name not found"):
        mx(named, "gmail.com")  # REFUSED: no zone holds it, so it does not exist here
    with pytest.raises(DnsPermanent, match="invalid name"):
        mx(named, "a..b")


def test_zone_edits_take_effect_and_revert(named: Named) -> None:
    path = zone_file(named.home, named.topology, "example.net")
    original = path.read_text()
    internet = named.topology.nodes["internet"].address
    port = named.topology.spec.ports.smtp
    try:
        # "DNS MX wrong": the MX names a host that does not exist
        edit(path, original.replace("10 mx.example.net.", "10 mx9.example.net."))
        assert named.short("MX", "example.net") == ["10 mx9.example.net."]
        with pytest.raises(DnsPermanent, match="no address for any MX"):
            mx(named, "example.net")
        # "DNS MX missing": no MX at all, so mail goes to the domain's own A (implicit MX)
        edit(path, "\n".join(ln for ln in original.splitlines() if " MX " not in ln) + "\n")
        assert named.short("MX", "example.net") == []
        assert mx(named, "example.net") == [(internet, port)]
        # a zone file that does not parse: SERVFAIL, which the MTA treats as temporary
        edit(path, original + "this is not a record\n")
        assert named.status("MX", "example.net") == "SERVFAIL"
        with pytest.raises(DnsTemporary):
            mx(named, "example.net")
        # a CNAME'd MX host is followed to its address
        edit(path, original.replace("mx       IN A", "mx IN CNAME box\nbox      IN A"))
        assert mx(named, "example.net") == [(internet, port)]
        # a removed zone file: the server no longer answers for the domain
        path.unlink()
        assert named.status("MX", "example.net") == "REFUSED"
    finally:
        path.write_text(original)
    assert named.short("MX", "example.net") == ["10 mx.example.net."]
    assert mx(named, "example.net") == [(internet, port)]


def test_dead_or_hung_server_is_a_temporary_failure(named: Named) -> None:
    with pytest.raises(DnsTemporary, match="ConnectionRefused"):
        asyncio.run(resolver.query(NOBODY, "example.net", resolver.dns.MX, timeout=1.0))
    pid = named.pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(DnsTemporary, match="TimeoutError"):
            asyncio.run(resolve_mx(named.topology, "example.net", timeout=0.3))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert mx(named, "example.net")
