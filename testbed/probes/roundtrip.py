"""One synthetic round trip through the client-facing endpoints: the check a person (or `make run`)
uses to see that the platform works: SMTP submission with STARTTLS + AUTH, POP3 and IMAP reads of
the delivered message, and a relay to the Internet node. Each step is timed."""

from __future__ import annotations

import asyncio
import email.message
import imaplib
import poplib
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed import rpc
from testbed.topology.model import Topology

User = dict[str, Any]


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


def _hostport(value: str) -> tuple[str, int]:
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the testbed's certificate is self-signed at `up`
    return ctx


class RoundTrip:
    def __init__(
        self,
        topology: Topology,
        endpoints: dict[str, str],
        sender: User,
        rcpt: User,
        timeout: float = 30.0,
    ) -> None:
        self.topology, self.sender, self.rcpt, self.timeout = topology, sender, rcpt, timeout
        self.ep = {k: _hostport(v) for k, v in endpoints.items()}
        self.steps: list[Step] = []

    def _step(self, name: str, action: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail, ok = action(), True
        except Exception as exc:  # noqa: BLE001 - a probe reports failures, it does not raise
            detail, ok = f"{exc.__class__.__name__}: {exc}", False
        self.steps.append(Step(name, ok, time.perf_counter() - start, detail))
        return ok

    def _message(self, to: str) -> email.message.EmailMessage:
        msg = email.message.EmailMessage()
        msg["From"], msg["To"] = self.sender["address"], to
        msg["Subject"] = "maildrill round trip"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@probe.maildrill>"
        msg.set_content("synthetic transaction\n")
        return msg

    def _submit(self, msg: email.message.EmailMessage) -> str:
        with smtplib.SMTP(*self.ep["submission"], timeout=self.timeout) as smtp:
            smtp.starttls(context=_tls())
            smtp.login(self.sender["address"], self.sender["password"])
            smtp.send_message(msg)
        return f"accepted {msg['Message-ID']}"

    def _until(self, found: Callable[[], bool], what: str) -> str:
        end = time.monotonic() + self.timeout
        while not found():
            if time.monotonic() > end:
                raise TimeoutError(f"{what} not seen within {self.timeout:.0f} s")
            time.sleep(0.1)
        return what

    def _pop3_has(self, msg_id: str) -> bool:
        box = poplib.POP3(*self.ep["pop3"], timeout=self.timeout)
        try:
            box.user(self.rcpt["address"])
            box.pass_(self.rcpt["password"])
            count = box.stat()[0]
            heads = (b"\n".join(box.top(i, 0)[1]) for i in range(count, max(count - 20, 0), -1))
            return any(msg_id.encode() in h for h in heads)
        finally:
            box.quit()

    def _imap_has(self, msg_id: str) -> bool:
        box = imaplib.IMAP4(*self.ep["imap"], timeout=self.timeout)
        try:
            box.login(self.rcpt["address"], self.rcpt["password"])
            box.select("INBOX", readonly=True)
            found = box.search(None, "HEADER", "Message-ID", f'"{msg_id}"')[1][0]
            return bool(found.split())
        finally:
            box.logout()

    def _relayed(self, msg_id: str) -> bool:
        node = self.topology.nodes[self.topology.spec.internet.name]
        addr = (node.address, self.topology.spec.ports.internet_ctl)
        records = asyncio.run(rpc.call(addr, "received", {}, timeout=self.timeout))
        return any(r["message_id"] == msg_id for r in records)

    def run(self) -> list[Step]:
        local = self._message(self.rcpt["address"])
        msg_id = str(local["Message-ID"])
        if self._step("smtp submit (STARTTLS+AUTH)", lambda: self._submit(local)):
            self._step(
                "pop3 read",
                lambda: self._until(lambda: self._pop3_has(msg_id), "message in POP3 mailbox"),
            )
            self._step(
                "imap read",
                lambda: self._until(lambda: self._imap_has(msg_id), "message in IMAP INBOX"),
            )
        remote_to = f"probe@{self.topology.spec.internet.domains[0]}"
        remote = self._message(remote_to)
        remote_id = str(remote["Message-ID"])
        if self._step("smtp relay to the internet", lambda: self._submit(remote)):
            self._step(
                "internet node received",
                lambda: self._until(
                    lambda: self._relayed(remote_id), "message at the internet node"
                ),
            )
        return self.steps
