"""An asyncio DNS client for processes that do not run twisted's reactor (the MTA, the Internet
node): asks the dns node directly, the way a stub resolver asks its configured name server.

twisted.names.dns is used only to encode and decode messages; importing it installs no reactor.

Failures map onto what a mail server does with them:
- no answer (server down, hung, dropping packets), SERVFAIL → DnsTemporary: the MTA defers;
- NXDOMAIN, REFUSED (no zone on the testbed's only name server holds the name, so the name does
  not exist in this world), or neither MX nor address → DnsPermanent: the MTA bounces with
  "Host or domain name not found".
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from typing import Any

from twisted.names import dns

from testbed.errors import MaildrillError
from testbed.netem import LINKS
from testbed.topology.model import Topology

TIMEOUT = 2.0  # per attempt; one retry, so a dead server costs at most 2 * TIMEOUT
ATTEMPTS = 2
MAX_CNAME_CHAIN = 8
_RCODES = {dns.EFORMAT: "FORMERR", dns.ESERVER: "SERVFAIL", dns.ENOTIMP: "NOTIMP"}


class DnsError(MaildrillError):
    """A name could not be resolved."""


class DnsTemporary(DnsError):
    """No usable answer now; a later lookup may succeed."""


class DnsPermanent(DnsError):
    """The name does not exist (or has no mail host): no retry will help."""


def server_address(topology: Topology) -> tuple[str, int]:
    return topology.nodes[topology.spec.dns.name].address, topology.spec.ports.dns


def _not_found(name: str, qtype: int) -> str:
    # Postfix's wording: operators grep maillogs for it
    return f"Host or domain name not found. Name service error for name={name} type={_t(qtype)}"


def _t(qtype: int) -> str:
    return str(dns.QUERY_TYPES.get(qtype, qtype))


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == self.qid and not self.done.done():
            self.done.set_result(data)  # anything else is a stray or spoofed packet: ignore

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        if not self.done.done():
            self.done.set_exception(exc)


async def _udp(server: tuple[str, int], packet: bytes, qid: int, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Reply(qid), remote_addr=server)
    try:
        transport.sendto(packet)
        return await asyncio.wait_for(proto.done, timeout)
    finally:
        transport.close()


async def _tcp(server: tuple[str, int], packet: bytes, timeout: float) -> bytes:
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(*server)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(size)
        finally:
            writer.close()
            await writer.wait_closed()

    return await asyncio.wait_for(exchange(), timeout)


async def query(server: tuple[str, int], name: str, qtype: int, timeout: float = TIMEOUT) -> Any:
    """One question to `server`: a dns.Message whose rcode is OK, else DnsTemporary/Permanent."""
    last: BaseException | None = None
    for _attempt in range(ATTEMPTS):
        qid = secrets.randbits(16)
        request = dns.Message(id=qid, recDes=1)
        try:
            request.queries = [dns.Query(name, qtype, dns.IN)]
            packet = request.toStr()
        except Exception as exc:  # noqa: BLE001 - e.g. a label over 63 bytes, non-ASCII junk
            raise DnsPermanent(f"{_not_found(name, qtype)}: invalid name ({exc})") from exc
        try:
            faults = LINKS.active(server[0])  # link faults (testbed/netem.py): drop or delay
            if faults:
                if any(f.kind == "partition" for f in faults) or LINKS.delay(faults) >= timeout:
                    await asyncio.sleep(timeout)
                    raise TimeoutError("no answer (link fault)")
                LINKS.refuse(faults)
                await asyncio.sleep(LINKS.delay(faults))
            data = await _udp(server, packet, qid, timeout)
            answer = dns.Message()
            answer.fromStr(data)
            if answer.trunc:  # too big for a datagram: ask again over TCP, as resolvers do
                answer = dns.Message()
                answer.fromStr(await _tcp(server, packet, timeout))
        except Exception as exc:  # noqa: BLE001 - timeout, refused, reset, garbage: no answer
            last = exc
            continue
        if answer.rCode == dns.OK:
            return answer
        if answer.rCode in (dns.ENAME, dns.EREFUSED):
            raise DnsPermanent(f"{_not_found(name, qtype)}: Host not found")
        last = RuntimeError(_RCODES.get(answer.rCode, f"rcode {answer.rCode}"))
    reason = f"{type(last).__name__}: {last}" if str(last) else type(last).__name__
    raise DnsTemporary(
        f"{_not_found(name, qtype)}: Host not found, try again "
        f"(no answer from {server[0]}:{server[1]}: {reason})"
    )


def _names(records: list[Any], rtype: int, owner: str) -> list[Any]:
    return [r.payload for r in records if r.type == rtype and _str(r.name) == owner]


def _str(name: Any) -> str:
    raw = name.name if isinstance(name, dns.Name) else name
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).lower()


async def resolve_addresses(
    server: tuple[str, int], name: str, timeout: float = TIMEOUT
) -> list[str]:
    """IPv4 addresses of `name`, following CNAMEs; [] if the name exists but has no A record."""
    target = name.lower().rstrip(".")
    for _hop in range(MAX_CNAME_CHAIN):
        asked = target
        records = (await query(server, target, dns.A, timeout)).answers
        # the server usually puts the whole chain in one answer; follow it as far as it goes
        for _link in range(MAX_CNAME_CHAIN):
            found = _names(records, dns.A, target)
            if found:
                return [p.dottedQuad() for p in found]
            aliases = _names(records, dns.CNAME, target)
            if not aliases:
                break
            target = _str(aliases[0].name).rstrip(".")
        if target == asked:
            return []  # the name exists, without an address
    raise DnsTemporary(f"{_not_found(name, dns.A)}: CNAME chain too long")


async def resolve_mx(
    topology: Topology, domain: str, timeout: float = TIMEOUT
) -> list[tuple[str, int]]:
    """Where to deliver mail for `domain`: (address, ports.smtp) by MX preference, or the
    domain's own address when it has no MX (RFC 5321 §5.1 implicit MX)."""
    server, port = server_address(topology), topology.spec.ports.smtp
    domain = domain.lower().rstrip(".")
    answer = await query(server, domain, dns.MX, timeout)
    mx = sorted(
        (p.preference, _str(p.name).rstrip(".")) for p in _names(answer.answers, dns.MX, domain)
    )
    if any(host == "" for _pref, host in mx):  # null MX (RFC 7505): accepts no mail at all
        raise DnsPermanent(f"{_not_found(domain, dns.MX)}: domain accepts no mail (null MX)")
    if not mx:
        addresses = await resolve_addresses(server, domain, timeout)
        if not addresses:
            raise DnsPermanent(f"{_not_found(domain, dns.MX)}: no MX and no address")
        return [(a, port) for a in addresses]
    glue: dict[str, list[str]] = {}
    for r in answer.additional:
        if r.type == dns.A:
            glue.setdefault(_str(r.name), []).append(r.payload.dottedQuad())
    out: list[tuple[str, int]] = []
    temporary: DnsTemporary | None = None
    for _pref, host in mx:
        try:
            addresses = glue.get(host) or await resolve_addresses(server, host, timeout)
        except DnsPermanent:
            continue  # a dangling MX host: try the next one
        except DnsTemporary as exc:
            temporary = temporary or exc
            continue
        out += [(a, port) for a in addresses if (a, port) not in out]
    if out:
        return out
    if temporary is not None:
        raise temporary
    raise DnsPermanent(f"{_not_found(domain, dns.MX)}: no address for any MX host")
