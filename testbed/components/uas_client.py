"""The front ends' view of the user authentication servers (UAS), as configured in aimc.ini.

`aimc.ini` on every front end names the UAS servers in its [UAPI] section:

    [UAPI]
    Backend=8
    Server1=127.0.10.15:7300:100
    Server2=127.0.10.16:7300:100

The client tries Server1, then Server2, ... (the plan's recovery edits these lines to point at the
backup UAS and restarts the front end, so the file is read when a service starts).

UAS RPC methods (served by every aiuum worker):
    authenticate {address, password} -> user   errors: bad_password, no_such_user, disabled, backend_down
    lookup {address} -> user                   errors: no_such_user, backend_down
    domains {} -> [hosted domain, ...]
A user is a dict: address, name, cls (vip|paying|regular), level, quota, mailroot, status.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from testbed import rpc
from testbed.errors import MaildrillError, RemoteError, ServiceUnavailable

User = dict[str, Any]


class AuthFailed(MaildrillError):
    """Definite "no": the reason is one of bad_password, no_such_user, disabled."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AuthUnavailable(MaildrillError):
    """No UAS answered, or the account database behind it is down: a temporary failure."""


def read_uapi_servers(ini: Path) -> list[rpc.Address]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep Server1 as written
    parser.read(ini)
    if not parser.has_section("UAPI"):
        raise MaildrillError(f"{ini}: no [UAPI] section")
    servers = []
    for key in sorted(k for k in parser["UAPI"] if k.lower().startswith("server")):
        host, port, *_rate = parser["UAPI"][key].split(":")
        servers.append((host, int(port)))
    return servers


class UasClient:
    def __init__(
        self, servers: list[rpc.Address], timeout: float = 2.0, pool: rpc.Pool | None = None
    ) -> None:
        self.servers = servers
        self.timeout = timeout
        self.call = pool.call if pool else rpc.call  # long-running services keep connections

    @classmethod
    def from_ini(cls, ini: Path, timeout: float = 2.0, pool: rpc.Pool | None = None) -> UasClient:
        return cls(read_uapi_servers(ini), timeout, pool)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        last: Exception | None = None
        for addr in self.servers:
            try:
                return await self.call(addr, method, params, timeout=self.timeout)
            except ServiceUnavailable as exc:
                last = exc
            except RemoteError as exc:
                if exc.code == "backend_down":
                    last = exc  # another UAS may have a working database
                    continue
                raise
        raise AuthUnavailable(f"no user authentication server answered: {last}")

    async def authenticate(self, address: str, password: str) -> User:
        try:
            return await self._call("authenticate", {"address": address, "password": password})
        except RemoteError as exc:
            raise AuthFailed(exc.code) from exc

    async def lookup(self, address: str) -> User | None:
        try:
            return await self._call("lookup", {"address": address})
        except RemoteError as exc:
            if exc.code == "no_such_user":
                return None
            raise AuthFailed(exc.code) from exc

    async def domains(self) -> list[str]:
        return list(await self._call("domains", {}))
