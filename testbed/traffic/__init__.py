"""Background mail: faker-written messages between hosted users and from the Internet, at a rate and
class mix, each recorded in the mail ledger; `reconcile` later finds out what became of each one.

Local mail is submitted through the VIP with the sender's own credentials (like a user); Internet
mail through the Internet node's control port (like a remote MTA following the MX). The recipient's
class follows the mix; each message has a unique Message-ID, which is what reconcile looks for.
"""

from __future__ import annotations

import asyncio
import random
import smtplib
import ssl
import threading
import time
import uuid
from email.message import EmailMessage
from typing import Any

from faker import Faker

from testbed import rpc
from testbed.home import Home
from testbed.runtime.provision import read_users
from testbed.topology.endpoints import client_endpoints
from testbed.traffic import ledger
from testbed.traffic.reconcile import reconcile

__all__ = ["Traffic", "reconcile"]
INTERNET_SHARE = 0.3  # a third of the background mail comes from outside


class Traffic:
    def __init__(self, home: Home, rate: float, mix: dict[str, float], seed: int = 1) -> None:
        self.home, self.rate, self.mix = home, rate, mix
        self.rng = random.Random(seed)
        self.fake = Faker()
        self.fake.seed_instance(seed)
        users = [u for u in read_users(home) if u["level"] != 0]
        self.by_class = {c: [u for u in users if u["cls"] == c] for c in mix}
        self.senders = users
        self.endpoints = client_endpoints(home.topology)
        self.sent = 0

    def _message(self, sender: str, rcpt: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"] = sender, rcpt
        msg["Subject"] = self.fake.sentence(nb_words=5).rstrip(".")
        msg["Message-ID"] = f"<bg-{uuid.uuid4().hex}@maildrill>"
        msg.set_content(self.fake.paragraph(nb_sentences=4) + "\n")
        return msg

    def send_one(self) -> None:
        classes = [c for c in self.mix if self.by_class.get(c)]
        cls = self.rng.choices(classes, weights=[self.mix[c] for c in classes])[0]
        rcpt = self.rng.choice(self.by_class[cls])
        if self.rng.random() < INTERNET_SHARE:
            sender = f"{self.fake.user_name()}@example.net"
            msg = self._message(sender, rcpt["address"])
            outcome, code = self._from_internet(msg, sender, rcpt["address"])
        else:
            user = self.rng.choice(self.senders)
            sender = user["address"]
            msg = self._message(sender, rcpt["address"])
            outcome, code = self._submit(msg, user)
        self.sent += 1
        ledger.append(
            self.home,
            "sent",
            message_id=msg["Message-ID"],
            **{"from": sender},
            to=rcpt["address"],
            cls=cls,
            outcome=outcome,
            code=code,
        )

    def _submit(self, msg: EmailMessage, user: dict[str, Any]) -> tuple[str, int]:
        host, port = self.endpoints["submission"].rsplit(":", 1)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with smtplib.SMTP(host, int(port), timeout=10) as smtp:
                smtp.starttls(context=context)
                smtp.login(user["address"], user["password"])
                smtp.send_message(msg)
            return "accepted", 250
        except smtplib.SMTPResponseException as exc:
            return "rejected", exc.smtp_code
        except (OSError, smtplib.SMTPException):
            return "error", 0

    def _from_internet(self, msg: EmailMessage, sender: str, rcpt: str) -> tuple[str, int]:
        internet = self.home.topology.nodes[self.home.topology.spec.internet.name]
        addr = (internet.address, self.home.topology.spec.ports.internet_ctl)
        params = {"mail_from": sender, "rcpt_tos": [rcpt], "data": rpc.b64(msg.as_bytes())}
        try:
            got = asyncio.run(rpc.call(addr, "send", params, timeout=30))
        except rpc.RemoteError as exc:
            return "error", 0 if exc.code == "unavailable" else 1
        if rcpt in got.get("accepted", []):
            return "accepted", 250
        refused = got.get("refused", {}).get(rcpt, [0])
        return "rejected", int(refused[0])

    def run(self, stop: threading.Event, seconds: float | None = None) -> None:
        """Send at `rate` per second (Poisson arrivals) until `stop` or `seconds`."""
        end = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and (end is None or time.monotonic() < end):
            self.send_one()
            stop.wait(self.rng.expovariate(self.rate) if self.rate > 0 else 1.0)
