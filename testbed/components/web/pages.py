"""WebMail's pages: the default webroot (written at provisioning) and how pages are rendered.

Pages are read from the node's webroot (<node root>/opt/aimc/webroot/) on every request, like
apache serving files, so a defaced or deleted webroot is exactly what users see. Templates use
string.Template's safe_substitute: a defaced page with stray `$` signs still renders. Every value
put into a page is HTML-escaped by the caller (mail content is hostile input).

The defaults live here rather than as package data so they ship with the code whatever the
install method.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from testbed.errors import MaildrillError

SERVER_SIGNATURE = "Apache/1.3.29 (Unix)"  # what the plan's webservers run

_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AIMC WebMail - $title</title>
<link rel="stylesheet" href="/style.css"></head>
<body><div class="top">AIMC WebMail <span class="node">$node</span></div>
"""
_NAV = """<div class="nav"><a href="/inbox">Inbox</a> | <a href="/send">Compose</a> |
<a href="/settings">Settings</a> | <a href="/logout">Logout</a> <span class="who">$user</span></div>
<p class="error">$error</p><p class="notice">$notice</p>
"""
_FOOT = "</body></html>\n"

DEFAULT_WEBROOT: dict[str, str] = {
    "index.html": """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>AIMC WebMail</title>
<link rel="stylesheet" href="/style.css"></head>
<body><h1>AIMC WebMail</h1><p><a href="/">Log in to read your mail</a></p></body></html>
""",
    "login.html": _HEAD.replace("$title", "Login")
    + """<h1>Welcome to AIMC WebMail</h1>
<p class="error">$error</p>
<form method="post" action="/login">
<p><label>Mail address <input name="user" value="$user"></label></p>
<p><label>Password <input name="password" type="password"></label></p>
<p><button type="submit">Log in</button></p>
</form>
"""
    + _FOOT,
    "inbox.html": _HEAD.replace("$title", "Inbox")
    + _NAV
    + """<h1>Inbox of $display_name</h1>
<p>$count message(s)</p>
<table class="inbox"><tr><th>From</th><th>Subject</th><th>Date</th></tr>
$rows
</table>
"""
    + _FOOT,
    "read.html": _HEAD.replace("$title", "Read")
    + _NAV
    + """<h1>$subject</h1>
<table class="headers">
<tr><th>From</th><td>$from_</td></tr>
<tr><th>To</th><td>$to</td></tr>
<tr><th>Date</th><td>$date</td></tr>
</table>
<pre class="body">$body</pre>
<p><a href="/inbox">Back to the inbox</a></p>
"""
    + _FOOT,
    "send.html": _HEAD.replace("$title", "Compose")
    + _NAV
    + """<h1>Compose</h1>
<form method="post" action="/send">
<p><label>To <input name="to" value="$to" size="60"></label></p>
<p><label>Subject <input name="subject" value="$subject" size="60"></label></p>
<p><textarea name="body" rows="12" cols="72">$body</textarea></p>
<p class="signature">Signature: $signature</p>
<p><button type="submit">Send</button></p>
</form>
"""
    + _FOOT,
    "settings.html": _HEAD.replace("$title", "Settings")
    + _NAV
    + """<h1>Settings</h1>
<form method="post" action="/settings">
<p><label>Display name <input name="display_name" value="$display_name" size="40"></label></p>
<p><label>Signature<br><textarea name="signature" rows="4" cols="60">$signature</textarea></label></p>
<p><button type="submit">Save</button></p>
</form>
"""
    + _FOOT,
    "style.css": """body { font-family: sans-serif; margin: 1em 2em; }
.top { background: #036; color: #fff; padding: .4em; font-weight: bold; }
.node { float: right; font-weight: normal; }
.error { color: #b00; } .notice { color: #070; }
table.inbox td, table.inbox th { padding: .2em .8em; text-align: left; }
pre.body { background: #f4f4f4; padding: .8em; white-space: pre-wrap; }
""",
}

REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Temporarily Unavailable",
}


class PageNotFound(MaildrillError):
    """A webroot file is missing (deleted webroot): answered with apache's 404 page."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


def write_default_webroot(webroot: Path) -> None:
    webroot.mkdir(parents=True, exist_ok=True)
    for name, text in DEFAULT_WEBROOT.items():
        (webroot / name).write_text(text)


def render(webroot: Path, name: str, values: dict[str, str]) -> bytes:
    """The webroot file `name` with $placeholders filled in (values are already escaped)."""
    try:
        text = (webroot / name).read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise PageNotFound(name) from exc
    return Template(text).safe_substitute(values).encode("utf-8")


def static_file(webroot: Path, url_path: str) -> Path | None:
    """The webroot file a URL path names, or None (missing, or outside the webroot)."""
    rel = url_path.lstrip("/")
    if not rel or "\x00" in rel:
        return None
    root = webroot.resolve()
    path = (webroot / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def error_page(status: int, detail: str, node: str, port: int) -> bytes:
    """An error page in apache's own words (not from the webroot: it must work when that is gone)."""
    reason = REASONS.get(status, "Error")
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head><title>{status} {reason}</title></head><body>\n"
        f"<h1>{reason}</h1>\n<p>{html.escape(detail)}</p>\n"
        f"<hr><address>{SERVER_SIGNATURE} Server at {html.escape(node)} Port {port}</address>\n"
        "</body></html>\n"
    ).encode()
