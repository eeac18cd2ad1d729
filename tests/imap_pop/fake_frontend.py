"""Test-only front end: the real POP3/IMAP factories on the asyncio reactor with in-memory fakes.

    python tests/imap_pop/fake_frontend.py ADDR POP3_PORT IMAP_PORT CONTROL_DIR

The fake MAPIc keeps folders in memory. The test steers it through CONTROL_DIR:
  drop/<address>/<name>.eml -> delivered to that INBOX at the next MAPIc call (IDLE polls status)
  FAIL                      -> while present, every MAPIc call raises MapiError("io_error")
  UASDOWN                   -> while present, authenticate raises AuthUnavailable
Users: any <name>@example.com with password <name>pw; a mailbox starts with 3 INBOX messages, so
each test uses its own user and one server process serves a whole test module.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from testbed.components.mapic import MapiError  # noqa: E402
from testbed.components.uas_client import AuthFailed, AuthUnavailable  # noqa: E402

USER_RE = re.compile(r"(\w+)@example\.com")


def sample(n: int) -> bytes:
    return (
        f"From: sender{n}@remote.test\r\nTo: alice@example.com\r\nSubject: message {n}\r\n"
        f"\r\nline one of {n}\r\n.starts with a dot\r\nline three\r\n"
    ).encode()


class FakeUas:
    def __init__(self, control: Path) -> None:
        self.control = control

    async def authenticate(self, address: str, password: str) -> dict[str, Any]:
        if (self.control / "UASDOWN").exists():
            raise AuthUnavailable("uas down (test)")
        m = USER_RE.fullmatch(address)
        if not m:
            raise AuthFailed("no_such_user")
        if password != m.group(1) + "pw":
            raise AuthFailed("bad_password")
        return {"address": address, "cls": "regular", "mailroot": "m0", "status": "active"}


class FakeMapi:
    def __init__(self, control: Path) -> None:
        self.control = control
        self.boxes: dict[str, dict[str, dict[str, Any]]] = {}

    def _new(self, user: str, folder: str) -> None:
        self.boxes[user][folder] = {"uidvalidity": 1000 + len(self.boxes[user]), "uidnext": 1,
                                    "msgs": {}}  # fmt: skip

    def _add(self, user: str, folder: str, body: bytes, flags: list[str], when: float) -> int:
        box = self._box(user, folder)
        uid = box["uidnext"]
        box["uidnext"] += 1
        box["msgs"][uid] = {"body": body, "flags": list(flags), "internaldate": when}
        return uid

    def _box(self, user: str, folder: str) -> dict[str, Any]:
        if folder.upper() == "INBOX":
            folder = "INBOX"
        try:
            return self.boxes[user][folder]
        except KeyError:
            raise MapiError("no_such_folder", f"no folder {folder}") from None

    def _check(self, user: dict[str, Any]) -> str:
        if (self.control / "FAIL").exists():
            raise MapiError("io_error", "array I/O error (test)")
        addr = str(user["address"])
        if addr not in self.boxes:
            self.boxes[addr] = {}
            self._new(addr, "INBOX")
            for n in (1, 2, 3):
                self._add(addr, "INBOX", sample(n), [], time.time())
        drop = self.control / "drop" / addr
        for f in sorted(drop.glob("*.eml")) if drop.exists() else []:
            self._add(addr, "INBOX", f.read_bytes(), ["\\Recent"], time.time())
            f.unlink()
        return addr

    async def status(self, user: dict[str, Any], folder: str = "INBOX") -> dict[str, int]:
        box = self._box(self._check(user), folder)
        msgs = box["msgs"].values()
        return {"uidvalidity": box["uidvalidity"], "uidnext": box["uidnext"],
                "messages": len(msgs), "unseen": sum("\\Seen" not in m["flags"] for m in msgs),
                "recent": sum("\\Recent" in m["flags"] for m in msgs)}  # fmt: skip

    async def list(self, user: dict[str, Any], folder: str = "INBOX") -> dict[str, Any]:
        box = self._box(self._check(user), folder)
        return {"uidvalidity": box["uidvalidity"], "uidnext": box["uidnext"], "messages": [
            {"uid": u, "size": len(m["body"]), "flags": list(m["flags"]),
             "internaldate": m["internaldate"]} for u, m in sorted(box["msgs"].items())]}  # fmt: skip

    async def fetch(self, user: dict[str, Any], folder: str, uid: int) -> bytes:
        box = self._box(self._check(user), folder)
        return bytes(box["msgs"][uid]["body"])

    async def append(self, user: dict[str, Any], folder: str, message: bytes,
                     flags: list[str] | None = None, internaldate: float | None = None) -> int:  # fmt: skip
        return self._add(
            self._check(user), folder, message, flags or [], internaldate or time.time()
        )

    async def store_flags(self, user: dict[str, Any], folder: str, uids: list[int],
                          flags: list[str], mode: str = "set") -> dict[int, list[str]]:  # fmt: skip
        box = self._box(self._check(user), folder)
        out = {}
        for uid in uids:
            m = box["msgs"][uid]
            cur = set(m["flags"])
            new = (
                set(flags)
                if mode == "set"
                else cur | set(flags)
                if mode == "add"
                else cur - set(flags)
            )
            m["flags"] = sorted(new)
            out[uid] = m["flags"]
        return out

    async def expunge(self, user: dict[str, Any], folder: str, uids: list[int] | None = None) -> list[int]:  # fmt: skip
        box = self._box(self._check(user), folder)
        gone = [u for u, m in sorted(box["msgs"].items())
                if "\\Deleted" in m["flags"] and (uids is None or u in uids)]  # fmt: skip
        for u in gone:
            del box["msgs"][u]
        return gone

    async def delete(self, user: dict[str, Any], folder: str, uids: list[int]) -> list[int]:
        box = self._box(self._check(user), folder)
        return [u for u in uids if box["msgs"].pop(u, None) is not None]

    async def copy(self, user: dict[str, Any], folder: str, uids: list[int], dest: str) -> dict[int, int]:  # fmt: skip
        addr = self._check(user)
        src, self_dest = self._box(addr, folder), self._box(addr, dest)
        del self_dest
        return {u: self._add(addr, dest, src["msgs"][u]["body"], src["msgs"][u]["flags"],
                             src["msgs"][u]["internaldate"]) for u in uids}  # fmt: skip

    async def move(self, user: dict[str, Any], folder: str, uids: list[int], dest: str) -> dict[int, int]:  # fmt: skip
        mapping = await self.copy(user, folder, uids, dest)
        for u in uids:
            del self._box(user["address"], folder)["msgs"][u]
        return mapping

    async def folders(self, user: dict[str, Any]) -> list[str]:
        return sorted(self.boxes[self._check(user)])

    async def create_folder(self, user: dict[str, Any], folder: str) -> None:
        addr = self._check(user)
        if folder in self.boxes[addr]:
            raise MapiError("bad_request", f"{folder} exists")
        self._new(addr, folder)

    async def delete_folder(self, user: dict[str, Any], folder: str) -> None:
        addr = self._check(user)
        self._box(addr, folder)
        del self.boxes[addr][folder]

    async def rename_folder(self, user: dict[str, Any], old: str, new: str) -> None:
        addr = self._check(user)
        self.boxes[addr][new] = self._box(addr, old)
        del self.boxes[addr][old]


def _listening(addr: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((addr, port)) == 0


@contextlib.contextmanager
def running(addr: str, pop_port: int, imap_port: int, control: Path) -> Iterator[Path]:
    """Run this file as a subprocess until both ports answer; always stop it afterwards."""
    (control / "drop").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, addr, str(pop_port), str(imap_port), str(control)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (_listening(addr, pop_port) and _listening(addr, imap_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake front end did not start (exit {proc.returncode})")
            time.sleep(0.05)
        yield control
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    addr, pop_port, imap_port, control = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        Path(sys.argv[4]),
    )
    from testbed.runtime.serve import install_asyncio_reactor

    install_asyncio_reactor()
    from twisted.internet import reactor

    from testbed.components import imap, pop3

    uas, mapi = FakeUas(control), FakeMapi(control)
    reactor.listenTCP(pop_port, pop3.build_factory(uas, mapi), interface=addr)  # type: ignore[attr-defined]
    reactor.listenTCP(imap_port, imap.build_factory(uas, mapi), interface=addr)  # type: ignore[attr-defined]
    print("ready", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
