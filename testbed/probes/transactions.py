"""Synthetic transactions: what one user does with each service, through the VIP, with a timeout.

Each returns (ok, detail) and never raises: a refused connection, a timeout, an error reply are all
just a failed transaction. SMTP also reports how long the EHLO answer took (the plan verifies
recovery with EHLO ≤ 200 ms).
"""

from __future__ import annotations

import http.cookiejar
import imaplib
import poplib
import smtplib
import ssl
import time
import urllib.parse
import urllib.request
import uuid
from email.message import EmailMessage
from typing import Any

User = dict[str, Any]
TIMEOUT = 5.0


def _hostport(value: str) -> tuple[str, int]:
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the testbed's certificate is self-signed
    return context


def inbound(home_topology: Any, user: User) -> tuple[bool, str]:
    """Mail from the Internet to the user, sent by the Internet node after its own MX lookup."""
    import asyncio

    from testbed import rpc

    node = home_topology.nodes[home_topology.spec.internet.name]
    addr = (node.address, home_topology.spec.ports.internet_ctl)
    msg = EmailMessage()
    msg["From"], msg["To"] = "probe@example.net", user["address"]
    msg["Subject"], msg["Message-ID"] = "maildrill inbound probe", f"<in-{uuid.uuid4().hex}@probe>"
    msg.set_content("probe\n")
    params = {
        "mail_from": "probe@example.net",
        "rcpt_tos": [user["address"]],
        "data": rpc.b64(msg.as_bytes()),
    }
    try:
        got = asyncio.run(rpc.call(addr, "send", params, timeout=TIMEOUT))
    except rpc.RemoteError as exc:
        return False, f"inbound: {exc}"[:200]
    if user["address"] in got.get("accepted", []):
        return True, "inbound accepted"
    return False, f"inbound refused: {got.get('refused')}"[:200]


def smtp_send(endpoint: str, user: User) -> tuple[bool, str, float]:
    """Submit a probe message to the user itself; returns (ok, detail, ehlo seconds)."""
    msg = EmailMessage()
    msg["From"] = msg["To"] = user["address"]
    msg["Subject"] = "maildrill probe"
    msg["Message-ID"] = f"<probe-{uuid.uuid4().hex}@maildrill>"
    msg["X-Maildrill-Probe"] = "1"
    msg.set_content("probe\n")
    ehlo = -1.0
    try:
        with smtplib.SMTP(*_hostport(endpoint), timeout=TIMEOUT) as smtp:
            start = time.monotonic()
            code, _ = smtp.ehlo()
            ehlo = time.monotonic() - start
            if code != 250:
                return False, f"EHLO {code}", ehlo
            smtp.starttls(context=_tls())
            smtp.login(user["address"], user["password"])
            smtp.send_message(msg)
        return True, "accepted", ehlo
    except (OSError, smtplib.SMTPException) as exc:
        return False, _why(exc), ehlo


def pop3_retrieve(endpoint: str, user: User) -> tuple[bool, str]:
    try:
        box = poplib.POP3(*_hostport(endpoint), timeout=TIMEOUT)
    except (OSError, poplib.error_proto) as exc:
        return False, _why(exc)
    try:
        box.user(user["address"])
        box.pass_(user["password"])
        count, _size = box.stat()
        return True, f"{count} messages"
    except (OSError, poplib.error_proto) as exc:
        return False, _why(exc)
    finally:
        try:
            box.quit()
        except (OSError, poplib.error_proto):
            box.close()


def imap_fetch(endpoint: str, user: User) -> tuple[bool, str]:
    try:
        box = imaplib.IMAP4(*_hostport(endpoint), timeout=TIMEOUT)
    except (OSError, imaplib.IMAP4.error) as exc:  # e.g. closed before its greeting (abort)
        return False, _why(exc)
    try:
        box.login(user["address"], user["password"])
        typ, data = box.select("INBOX", readonly=True)
        if typ != "OK":
            return False, f"SELECT {typ} {data!r}"
        count = int(data[0] or 0)
        if count:
            typ, _ = box.fetch(str(count), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            if typ != "OK":
                return False, f"FETCH {typ}"
        return True, f"{count} messages"
    except (OSError, imaplib.IMAP4.error) as exc:
        return False, _why(exc)
    finally:
        try:
            box.logout()
        except (OSError, imaplib.IMAP4.error):
            box.shutdown()


def webmail_read(endpoint: str, user: User) -> tuple[bool, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://{endpoint}"
    form = urllib.parse.urlencode({"user": user["address"], "password": user["password"]})
    try:
        with opener.open(f"{base}/login", data=form.encode(), timeout=TIMEOUT) as answer:
            answer.read()
        if not any(c.name == "AIMCSESSION" for c in jar):
            return False, "login refused"
        with opener.open(f"{base}/inbox", timeout=TIMEOUT) as answer:
            body = answer.read().decode(errors="replace")
        # the page must be the user's inbox, not whatever a defaced web root serves
        if user["address"] not in body:
            return False, f"inbox page does not show {user['address']} ({len(body)} bytes)"
        return True, f"inbox {len(body)} bytes"
    except OSError as exc:
        return False, _why(exc)


def _why(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:200]
