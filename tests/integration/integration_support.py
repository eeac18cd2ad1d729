"""A running testbed for integration tests, driven through the real CLI and real mail clients."""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import imaplib
import json
import os
import poplib
import smtplib
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from testbed import rpc

T = TypeVar("T")


class Testbed:
    def __init__(self, root: Path, network: str, users: int = 60, **topology: Any) -> None:
        self.root = root
        self.env = {**os.environ, "MAILDRILL_HOME": str(root / "home")}
        self.topology_file = root / "topology.yaml"
        self.topology_file.write_text(yaml.safe_dump({"network": network, **topology}))
        self.users_count = users

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "testbed.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"maildrill {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def up(self) -> str:
        out = self.cli(
            "up",
            "--topology",
            str(self.topology_file),
            "--users",
            str(self.users_count),
            "--seed",
            "3",
        ).stdout
        self.endpoints = {
            k: _hostport(v) for k, v in json.loads(self.cli("endpoints", "--json").stdout).items()
        }
        self.users = json.loads(self.cli("users", "--json").stdout)
        self.topology = json.loads((self.root / "home" / "topology.json").read_text())
        return out

    def down(self) -> None:
        self.cli("down", check=False)

    def user(
        self, cls: str = "regular", mailroot: str | None = None, skip: int = 0
    ) -> dict[str, Any]:
        found = [
            u
            for u in self.users
            if u["class"] == cls
            and u["level"] != 0
            and (mailroot is None or u["mailroot"] == mailroot)
        ]
        return found[skip]

    def node_address(self, node: str) -> str:
        return str(self.topology["nodes"][node]["address"])

    # --- the internet node -------------------------------------------------------------------
    def internet_ctl(self, method: str, params: dict[str, Any] | None = None) -> Any:
        addr = (self.node_address("internet"), self.topology["spec"]["ports"]["internet_ctl"])
        return asyncio.run(rpc.call(addr, method, params or {}, timeout=30))

    def send_from_internet(self, sender: str, rcpt: str, msg: email.message.EmailMessage) -> Any:
        return self.internet_ctl(
            "send", {"mail_from": sender, "rcpt_tos": [rcpt], "data": rpc.b64(msg.as_bytes())}
        )

    # --- clients -----------------------------------------------------------------------------
    def smtp(self, port: str = "submission") -> smtplib.SMTP:
        host, p = self.endpoints[port]
        return smtplib.SMTP(host, p, timeout=30)

    def send(
        self,
        sender: dict[str, Any],
        rcpt: str,
        subject: str | None = None,
        body: str = "hello\n",
        size: int = 0,
    ) -> str:
        msg = message(sender["address"], rcpt, subject, body + "x" * size)
        with self.smtp() as s:
            s.starttls(context=insecure())
            s.login(sender["address"], sender["password"])
            s.send_message(msg)
        return str(msg["Message-ID"])

    def pop3(self, user: dict[str, Any]) -> poplib.POP3:
        host, p = self.endpoints["pop3"]
        box = poplib.POP3(host, p, timeout=30)
        box.user(user["address"])
        box.pass_(user["password"])
        return box

    def imap(self, user: dict[str, Any]) -> imaplib.IMAP4:
        host, p = self.endpoints["imap"]
        box = imaplib.IMAP4(host, p, timeout=30)
        box.login(user["address"], user["password"])
        return box

    def can_login_imap(self, user: dict[str, Any]) -> bool:
        host, p = self.endpoints["imap"]
        try:
            box = imaplib.IMAP4(host, p, timeout=30)
        except OSError:
            return False
        try:
            box.login(user["address"], user["password"])
            return True
        except (imaplib.IMAP4.error, OSError):
            return False
        finally:
            box.shutdown()

    def frontends(self) -> list[str]:
        return [n for n, v in self.topology["nodes"].items() if v["role"] == "frontend"]

    def inbox_ids(self, user: dict[str, Any]) -> list[str]:
        """Message-IDs in the user's INBOX, read over IMAP."""
        box = self.imap(user)
        try:
            box.select("INBOX", readonly=True)
            typ, data = box.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            ids = []
            for item in data:
                if isinstance(item, tuple):
                    line = item[1].decode().strip()
                    ids.append(line.split(":", 1)[1].strip() if ":" in line else "")
            return ids
        finally:
            box.logout()


def _hostport(value: str) -> tuple[str, int]:
    host, port = value.rsplit(":", 1)
    return host, int(port)


def insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the testbed's certificate is self-signed, made at `up`
    return ctx


def message(
    sender: str, rcpt: str, subject: str | None = None, body: str = "hello\n"
) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = sender
    msg["To"] = rcpt
    msg["Subject"] = subject or f"test {uuid.uuid4().hex[:8]}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@test.maildrill>"
    msg.set_content(body)
    return msg


def eventually(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll `check` until it returns a truthy value without raising; re-raise the last failure."""
    end = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            last: BaseException = AssertionError(f"still {result!r}")
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {last!r}") from last
        time.sleep(interval)


@contextlib.contextmanager
def live_home(root: Path, network: str, users: int = 30) -> Iterator[Any]:
    """A testbed up on `network` for one test module: its Home; afterwards every fault it still
    holds is reverted and every process stopped, whatever the tests did."""
    from testbed.faults import injector
    from testbed.home import Home
    from testbed.runtime.local import LocalBackend

    bed = Testbed(root, network, users=users)
    home = Home(bed.root / "home")
    try:
        bed.up()
        yield home
    finally:
        injector.doctor(home, teardown=True)
        LocalBackend(home).down()
