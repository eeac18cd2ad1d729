"""The Internet node: a remote MTA that accepts relayed mail and records it, and a sender of inbound
mail to hosted users (service kind "internet").

Mail it receives is kept under its node root (var/received/<n>.eml) and listed in
var/received/received.jsonl, one JSON object per message and recipient. A message re-sent after an
MTA crash (same Message-ID, same recipient) is accepted again but recorded once: that is how a test
tells "delivered exactly once" from "delivered twice".

Control RPC on ports.internet_ctl: send {mail_from, rcpt_tos, data (base64)} delivers inbound mail
to the hosted domains' MX; received {} lists the records.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from testbed import rpc
from testbed.errors import RemoteError
from testbed.netem import LINKS
from testbed.runtime.context import ServiceContext
from testbed.runtime.serve import run_asyncio
from testbed.topology.endpoints import hosted_mx


class ReceivedMail:
    """The record of what arrived; deduplicated on (Message-ID, recipient)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.index = folder / "received.jsonl"
        self.records: list[dict[str, Any]] = []
        if self.index.exists():
            for line in self.index.read_text().splitlines():
                if line.strip():
                    self.records.append(json.loads(line))
        self.seen = {(r["message_id"], r["rcpt"]) for r in self.records}

    def add(self, mail_from: str, rcpts: list[str], data: bytes) -> int:
        headers = BytesHeaderParser().parsebytes(data)
        message_id = (headers.get("Message-ID") or "").strip()
        new = [r for r in rcpts if not message_id or (message_id, r.lower()) not in self.seen]
        if not new:
            return 0
        number = len(self.records) + 1
        path = self.folder / f"{number}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        lines = []
        for rcpt in new:
            record = {
                "time": time.time(),
                "message_id": message_id,
                "mail_from": mail_from,
                "rcpt": rcpt.lower(),
                "subject": headers.get("Subject", ""),
                "size": len(data),
                "file": path.name,
            }
            self.records.append(record)
            self.seen.add((message_id, rcpt.lower()))
            lines.append(json.dumps(record) + "\n")
        with self.index.open("a") as out:
            out.write("".join(lines))
        return len(new)


class SinkHandler:
    def __init__(self, mail: ReceivedMail) -> None:
        self.mail = mail

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.mail.add(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 2.0.0 Ok: received"


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _send(
    mxs: list[tuple[str, int]], mail_from: str, rcpt_tos: list[str], data: bytes
) -> dict[str, Any]:
    """Deliver like a remote MTA: the MX hosts in order until one answers; per-recipient refusals
    are reported, not raised."""
    unreachable: list[str] = []
    for mx in mxs:
        try:
            faults = LINKS.before_connect_sync(mx[0], 30)  # link faults: testbed/netem.py
            with smtplib.SMTP(mx[0], mx[1], timeout=30) as smtp:
                time.sleep(LINKS.delay(faults, len(data)))
                refused = smtp.sendmail(mail_from, rcpt_tos, data)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except smtplib.SMTPResponseException as exc:
            raise RemoteError("smtp_error", f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except OSError as exc:
            unreachable.append(f"{mx[0]}:{mx[1]}: {exc}")
            continue
        break
    else:
        raise RemoteError("smtp_error", f"cannot reach {'; '.join(unreachable)}")
    return {
        "accepted": [r for r in rcpt_tos if r not in refused],
        "refused": {r: [code, _text(text)] for r, (code, text) in refused.items()},
    }


async def _hosted_mxs(ctx: ServiceContext, domain: str) -> list[tuple[str, int]]:
    """The domain's MX hosts from the testbed's DNS, like a real remote MTA; the front end's
    address when DNS has nothing to say (server down, zone missing)."""
    from testbed.components.dns.resolver import DnsError, resolve_mx

    try:
        return await resolve_mx(ctx.topology, domain) if domain else [hosted_mx(ctx.topology)]
    except DnsError as exc:
        ctx.log.warning(
            "MX lookup for %s failed (%s); using %s", domain, exc, hosted_mx(ctx.topology)
        )
        return [hosted_mx(ctx.topology)]


def main(ctx: ServiceContext) -> None:
    mail = ReceivedMail(ctx.root / "var" / "received")
    size = ctx.topology.spec.mail.max_message_size * 2

    async def send(p: dict[str, Any]) -> dict[str, Any]:
        data = rpc.unb64(p["data"])
        rcpts = [str(r) for r in p["rcpt_tos"]]
        mxs = await _hosted_mxs(ctx, rcpts[0].rpartition("@")[2] if rcpts else "")
        return await asyncio.to_thread(_send, mxs, p["mail_from"], rcpts, data)

    async def received(_p: dict[str, Any]) -> list[dict[str, Any]]:
        return mail.records

    async def start() -> None:
        loop = asyncio.get_running_loop()
        handler = SinkHandler(mail)
        await loop.create_server(
            lambda: SMTP(handler, data_size_limit=size, hostname="mx.internet.test"),
            ctx.address,
            ctx.service.port,
            reuse_address=True,
        )
        await rpc.serve(
            ctx.address, ctx.topology.spec.ports.internet_ctl, {"send": send, "received": received}
        )

    run_asyncio(start)
