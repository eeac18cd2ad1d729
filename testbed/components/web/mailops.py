"""What WebMail does with mail: summarise and show messages, keep settings, send through the MTA.

Reading and settings go through MAPIc (SPEC §1: "read and settings via MAPIc/MAPIs"); settings are a
JSON message in the user's mailbox folder "Settings", so they follow the user to any webserver.
Sending goes through the MTA's submission port with SMTP AUTH as the logged-in user, like any mail
client (smtplib is blocking, so it runs in a thread).
"""

from __future__ import annotations

import email.headerregistry
import email.message
import email.policy
import email.utils
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any

from testbed.components.mapic import MapiClient, MapiError
from testbed.errors import MaildrillError

User = dict[str, Any]
SETTINGS_FOLDER = "Settings"
SETTINGS_SUBJECT = "aimc-webmail-settings"
INBOX_LIMIT = 100  # newest messages shown; a big mailbox must not make the page crawl


class SendFailed(MaildrillError):
    """The MTA refused the message for a reason the user can fix (e.g. an unknown recipient)."""


class SendUnavailable(MaildrillError):
    """The MTA could not be reached or answered with a temporary failure."""


@dataclass
class Summary:
    uid: int
    sender: str
    subject: str
    date: str


def _header(msg: email.message.Message, name: str) -> str:
    """A header's decoded text; broken encodings fall back to the raw value instead of failing."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # noqa: BLE001 - malformed headers from the Internet must not break a page
        return " ".join(str(v) for k, v in msg.raw_items() if k.lower() == name.lower())


def parse(data: bytes) -> email.message.EmailMessage:
    msg = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def body_text(msg: email.message.EmailMessage) -> str:
    """The text a reader sees: the plain part if any, else the first text part, else the raw body."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is not None:
            return str(part.get_content())
    except Exception:  # noqa: BLE001 - unknown charsets, broken MIME: show the raw text instead
        pass
    for leaf in msg.walk():
        payload = None if leaf.is_multipart() else leaf.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode("utf-8", "replace")
    return str(msg.preamble or "")  # e.g. a multipart whose boundary never appears


async def inbox(mapi: MapiClient, user: User) -> list[Summary]:
    listing = await mapi.list(user, "INBOX")
    uids = [int(m["uid"]) for m in listing["messages"]][-INBOX_LIMIT:]
    out = []
    for uid in reversed(uids):  # newest first
        try:
            msg = parse(await mapi.fetch(user, "INBOX", uid))
        except MapiError as exc:
            if exc.code == "no_such_message":
                continue  # expunged by another client meanwhile
            raise
        out.append(
            Summary(uid, _header(msg, "From"), _header(msg, "Subject"), _header(msg, "Date"))
        )
    return out


def headers(msg: email.message.EmailMessage) -> dict[str, str]:
    return {k: _header(msg, k) for k in ("From", "To", "Subject", "Date")}


# --- settings ---------------------------------------------------------------------------------
DEFAULT_SETTINGS = {"display_name": "", "signature": ""}


async def load_settings(mapi: MapiClient, user: User) -> dict[str, str]:
    try:
        listing = await mapi.list(user, SETTINGS_FOLDER)
    except MapiError as exc:
        if exc.code == "no_such_folder":
            return dict(DEFAULT_SETTINGS)
        raise
    uids = sorted(int(m["uid"]) for m in listing["messages"])
    if not uids:
        return dict(DEFAULT_SETTINGS)
    try:
        data = json.loads(body_text(parse(await mapi.fetch(user, SETTINGS_FOLDER, uids[-1]))))
    except ValueError:
        return dict(DEFAULT_SETTINGS)  # someone put something else there over IMAP
    if not isinstance(data, dict):
        return dict(DEFAULT_SETTINGS)
    return {k: str(data.get(k, v)) for k, v in DEFAULT_SETTINGS.items()}


async def save_settings(mapi: MapiClient, user: User, settings: dict[str, str]) -> None:
    """Append the new settings, then drop older copies: a crash in between leaves two copies and
    the newest (highest uid) wins, never none."""
    try:
        await mapi.create_folder(user, SETTINGS_FOLDER)
    except MapiError as exc:
        if exc.code != "already_exists":
            raise
    msg = email.message.EmailMessage()
    msg["From"] = user["address"]
    msg["To"] = user["address"]
    msg["Subject"] = SETTINGS_SUBJECT
    msg.set_content(json.dumps(settings, ensure_ascii=False))
    new_uid = await mapi.append(user, SETTINGS_FOLDER, msg.as_bytes(), flags=["\\Seen"])
    listing = await mapi.list(user, SETTINGS_FOLDER)
    old = [int(m["uid"]) for m in listing["messages"] if int(m["uid"]) != new_uid]
    if old:
        await mapi.delete(user, SETTINGS_FOLDER, old)


# --- sending ----------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(text.splitlines()).strip()


def compose(
    user: User, settings: dict[str, str], to: list[str], subject: str, body: str
) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    name = _one_line(settings.get("display_name", ""))
    msg["From"] = email.headerregistry.Address(display_name=name, addr_spec=user["address"])
    msg["To"] = ", ".join(to)
    msg["Subject"] = _one_line(subject)
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=user["address"].rsplit("@", 1)[-1])
    signature = settings.get("signature", "")
    text = body.replace("\r\n", "\n")
    if signature:
        text = f"{text.rstrip()}\n\n-- \n{signature}"
    msg.set_content(text + "\n")
    return msg


def recipients(field: str) -> list[str]:
    """Addresses from the To field (commas, semicolons or spaces); raises SendFailed if unusable."""
    found = [a for a in field.replace(";", ",").replace(" ", ",").split(",") if a.strip()]
    if not found:
        raise SendFailed("Please enter at least one recipient.")
    for addr in found:
        local, _, domain = addr.strip().partition("@")
        if not local or not domain or any(c in addr for c in '<>"\r\n\\'):
            raise SendFailed(f"Not a mail address: {addr.strip()}")
    return [a.strip() for a in found]


def submit(
    host: str, port: int, user: User, password: str, msg: email.message.EmailMessage, to: list[str]
) -> None:
    """Blocking SMTP submission with STARTTLS (when offered) and AUTH as the user."""
    try:
        with smtplib.SMTP(host, port, timeout=20) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                tls = ssl.create_default_context()
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE  # the testbed's certificate is self-signed
                smtp.starttls(context=tls)
                smtp.ehlo()
            smtp.login(user["address"], password)
            refused = smtp.send_message(msg, from_addr=user["address"], to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refusal(exc.recipients) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        if 400 <= exc.smtp_code < 500:
            raise SendUnavailable(f"{exc.smtp_code} {text}") from exc
        raise SendFailed(f"The mail server refused the message: {exc.smtp_code} {text}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendUnavailable(str(exc) or type(exc).__name__) from exc
    if refused:
        raise _refusal(refused)


def _refusal(refused: dict[str, tuple[int, bytes]]) -> MaildrillError:
    codes = [code for code, _ in refused.values()]
    detail = "; ".join(
        f"{addr}: {code} {text.decode('utf-8', 'replace')}"
        for addr, (code, text) in refused.items()
    )
    if all(400 <= c < 500 for c in codes):
        return SendUnavailable(detail)
    return SendFailed(f"Not delivered to {detail}")
