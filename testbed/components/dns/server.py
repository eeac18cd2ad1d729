"""The dns node's authoritative name server ("named", kind "dns"): twisted.names over UDP and TCP.

It serves the BIND zone files in <dns root>/etc/named/*.zone (see zones.py). Before answering it
checks whether a file changed (mtime, size, inode), was added or removed, and reloads, so editing a
zone by hand or by a fault takes effect on the next query, and so does its revert.

Answers: names inside a zone get their records (AA set) or NXDOMAIN with the zone's SOA; names of
no zone get REFUSED (this server never recurses); a zone file that does not parse gets SERVFAIL
for its names, as BIND does for a zone it could not load.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.names import common, dns, server
from twisted.names.authority import BindAuthority
from twisted.python import failure
from twisted.python.filepath import FilePath

from testbed.components.dns.zones import ZONE_DIR
from testbed.runtime.context import ServiceContext

_NAMED = ("name", "mname", "rname")  # the Name fields of NS, MX, CNAME, PTR, SOA records


class NotAuthoritative(Exception):
    """The name belongs to no zone of this server."""


class ZoneBroken(Exception):
    """The name's zone file exists but could not be loaded."""


class Zone(BindAuthority):  # type: ignore[misc]
    """One zone file. BindAuthority keeps names in record data as written ("mx.aimc.test." with
    its dot, "mx2" relative); they are made absolute here, or additional-section lookups and
    clients following them would miss."""

    def __init__(self, path: Path, origin: str) -> None:
        self._default_origin = origin.encode() + b"."
        super().__init__(str(path))

    def loadFile(self, filename: str) -> None:
        me: Any = self  # twisted types origin/soa/records loosely (str, None)
        me.origin = self._default_origin
        lines = FilePath(filename).getContent().splitlines(True)
        self.parseLines(self.collapseContinuations(self.stripComments(lines)))
        if me.soa is None:
            raise ValueError("no SOA record")
        origin = me.origin if me.origin.endswith(b".") else me.origin + b"."
        for records in me.records.values():
            for record in records:
                for attr in _NAMED:
                    value = getattr(record, attr, None)
                    if isinstance(value, dns.Name):
                        setattr(record, attr, dns.Name(_absolute(value.name, origin)))

    @property
    def serial(self) -> int:
        me: Any = self
        return int(me.soa[1].serial)

    def soa_header(self) -> Any:
        me: Any = self
        name, soa = me.soa
        return dns.RRHeader(name, dns.SOA, dns.IN, soa.ttl or soa.minimum, soa, auth=True)


def _absolute(name: bytes, origin: bytes) -> bytes:
    if name.endswith(b"."):
        return name[:-1]
    if name in (b"@", b""):
        return origin[:-1]
    return name + b"." + origin[:-1]


class ZoneSet(common.ResolverBase):  # type: ignore[misc]
    """Every zone of the folder; each query goes to the most specific zone containing the name
    (mail.aimc.test has its own zone, inside aimc.test's name space)."""

    def __init__(self, folder: Path, log: logging.Logger) -> None:
        super().__init__()
        self.folder, self.log = folder, log
        self.zones: dict[str, Zone | None] = {}  # origin -> zone (None: the file is broken)
        self.stamps: dict[str, tuple[int, int, int]] = {}
        self.refresh()

    def refresh(self) -> None:
        found: dict[str, tuple[int, int, int]] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            entries = []
        for entry in entries:
            if entry.name.endswith(".zone") and entry.is_file():
                st = entry.stat()
                found[entry.name[: -len(".zone")].lower()] = (st.st_mtime_ns, st.st_size, st.st_ino)
        for origin in set(self.zones) - set(found):
            self.log.info("zone %s removed", origin)
            del self.zones[origin], self.stamps[origin]
        for origin, stamp in found.items():
            if self.stamps.get(origin) != stamp:
                self.stamps[origin] = stamp
                self.zones[origin] = self._load(origin)

    def _load(self, origin: str) -> Zone | None:
        try:
            zone = Zone(self.folder / f"{origin}.zone", origin)
        except Exception as exc:  # noqa: BLE001 - any parse error: serve SERVFAIL, keep running
            self.log.error("zone %s not loaded: %s: %s", origin, exc.__class__.__name__, exc)
            return None
        self.log.info("zone %s loaded (serial %s)", origin, zone.serial)
        return zone

    def zone_for(self, name: bytes) -> tuple[str, Zone | None]:
        labels = name.lower().rstrip(b".").decode(errors="replace").split(".")
        for i in range(len(labels)):
            origin = ".".join(labels[i:])
            if origin in self.zones:
                return origin, self.zones[origin]
        raise NotAuthoritative(name)

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Any = None) -> Any:
        self.refresh()
        try:
            origin, zone = self.zone_for(name)
            if zone is None:
                raise ZoneBroken(origin)
        except (NotAuthoritative, ZoneBroken) as exc:
            return defer.fail(failure.Failure(exc))
        d = zone._lookup(name, cls, type, timeout)

        def nxdomain(f: failure.Failure) -> failure.Failure:
            f.trap(dns.AuthoritativeDomainError)
            error: Any = f.value
            error.soa = zone.soa_header()  # the server puts it in the authority section
            return f

        def cname_only(result: tuple[list[Any], list[Any], list[Any]]) -> Any:
            # twisted adds the alias target's address to the answer even when the question was
            # for the CNAME itself; BIND answers just the CNAME, with the address as extra data
            answers, authority, additional = result
            if type == dns.CNAME:
                extra = [r for r in answers if r.type != dns.CNAME]
                answers = [r for r in answers if r.type == dns.CNAME]
                additional = [*additional, *extra]
            return answers, authority, additional

        return d.addCallbacks(cname_only, nxdomain)


class Factory(server.DNSServerFactory):  # type: ignore[misc]
    def __init__(self, zones: ZoneSet) -> None:
        super().__init__(authorities=[zones])

    def messageReceived(self, message: Any, proto: Any, address: Any = None) -> None:
        if message.answer:
            return  # a response sent to a server: answering it could loop between two servers
        super().messageReceived(message, proto, address)

    def allowQuery(self, message: Any, protocol: Any, address: Any) -> bool:
        return True  # twisted refuses an empty query with a malformed reply; handleQuery answers

    def handleQuery(self, message: Any, protocol: Any, address: Any) -> Any:
        rcode = None
        if not message.queries:  # twisted would fail on queries[0]; answer like BIND does
            rcode = dns.EFORMAT
        elif message.queries[0].cls != dns.IN:  # CHAOS etc.: not ours
            rcode = dns.EREFUSED
        if rcode is not None:
            response = self._responseFromMessage(message=message, rCode=rcode)
            self.sendReply(protocol, response, address)
            return defer.succeed(None)
        return super().handleQuery(message, protocol, address)

    def gotResolverError(self, reason: Any, protocol: Any, message: Any, address: Any) -> None:
        if reason.check(NotAuthoritative):
            response = self._responseFromMessage(message=message, rCode=dns.EREFUSED)
        elif reason.check(ZoneBroken):
            response = self._responseFromMessage(message=message, rCode=dns.ESERVER)
        elif reason.check(dns.AuthoritativeDomainError):
            soa = getattr(reason.value, "soa", None)
            response = self._responseFromMessage(
                message=message, rCode=dns.ENAME, authority=[soa] if soa else []
            )
            response.auth = True
        else:
            super().gotResolverError(reason, protocol, message, address)
            return
        self.sendReply(protocol, response, address)


def main(ctx: ServiceContext) -> None:
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    from testbed.runtime.serve import install_asyncio_reactor

    install_asyncio_reactor()
    from twisted.internet import reactor as installed

    reactor: Any = installed
    # twisted's own messages (e.g. an unexpected resolver error) go to this service's log
    observer: Any = STDLibLogObserver(name="twisted")
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    zones = ZoneSet(ctx.root / ZONE_DIR, ctx.log)
    factory = Factory(zones)
    reactor.listenUDP(ctx.service.port, dns.DNSDatagramProtocol(factory), interface=ctx.address)
    reactor.listenTCP(ctx.service.port, factory, interface=ctx.address)
    ctx.log.info("serving %d zones on %s:%d", len(zones.zones), ctx.address, ctx.service.port)
    reactor.run()
    ctx.log.info("stopped")
