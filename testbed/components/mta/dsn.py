"""Delivery status notifications (RFC 3464): what the sender gets back when mail cannot be delivered."""

from __future__ import annotations

import uuid
from email.utils import formatdate

from testbed import clock


def bounce(
    original: bytes,
    sender: str,
    failures: list[tuple[str, str]],
    postmaster: str,
    reporting_host: str,
    message_id: str = "",
) -> bytes:
    """A multipart/report for `failures` [(recipient, reason)], addressed to `sender`."""
    head = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
    subject = next(
        (line[8:].strip() for line in head.splitlines() if line.lower().startswith("subject:")), ""
    )
    boundary = f"=_dsn_{uuid.uuid4().hex}"
    domain = postmaster.partition("@")[2] or "localhost"
    reasons = "\n".join(f"<{rcpt}>: {reason}" for rcpt, reason in failures)
    status = "\n".join(
        f"Final-Recipient: rfc822; {rcpt}\nAction: failed\n"
        f"Status: {'5.2.2' if 'quota' in reason.lower() else '5.0.0'}\n"
        f"Diagnostic-Code: smtp; {reason}\n"
        for rcpt, reason in failures
    )
    text = f"""From: Mail Delivery System <{postmaster}>
To: <{sender}>
Subject: Undelivered Mail Returned to Sender
Date: {formatdate(clock.now(), localtime=True)}
Message-ID: {message_id or f"<{uuid.uuid4().hex}@{domain}>"}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset=us-ascii

This is the mail system at host {reporting_host}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

{reasons}

Original subject: {subject}

--{boundary}
Content-Type: message/delivery-status

Reporting-MTA: dns; {reporting_host}

{status}
--{boundary}
Content-Type: text/rfc822-headers

{head}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode("utf-8", "replace")
