"""twisted.web side of the webserver: the WebMail site, the admin site and the access log.

Import only after the asyncio reactor is installed (see testbed.components.twisted_glue): the
WebMail coroutines (UAS, MAPIc) run on the same asyncio loop as twisted.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from twisted.web import resource, server

from testbed.components.twisted_glue import as_deferred
from testbed.components.web import pages
from testbed.components.web.webmail import Request, Response, WebMail
from testbed.faultpoints import FAULTPOINTS
from testbed.runtime.context import ServiceContext


def client_address(request: Any) -> str:
    """The user's address: the X-Forwarded-For header the load balancer adds (its last entry, the
    one the balancer itself saw; earlier ones are whatever the client claimed), else the peer."""
    forwarded = request.getHeader(b"x-forwarded-for")
    if forwarded:
        last = forwarded.split(b",")[-1].strip()
        if last:
            return _escape(last)
    peer = request.getClientAddress()
    return str(getattr(peer, "host", "-"))


def _escape(value: bytes | str) -> str:
    """Log-safe text: no quotes or control characters an attacker could use to forge log lines."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def access_log_line(timestamp: str, request: Any) -> str:
    """Apache's combined log format: host ident user [time] "request" status bytes "ref" "agent"."""
    referrer = _escape(request.getHeader(b"referer") or b"-")
    agent = _escape(request.getHeader(b"user-agent") or b"-")
    first = f"{_escape(request.method)} {_escape(request.uri)} {_escape(request.clientproto)}"
    length = request.sentLength or "-"
    return (
        f'{client_address(request)} - - {timestamp} "{first}" {request.code} {length} '
        f'"{referrer}" "{agent}"'
    )


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def to_request(request: Any) -> Request:
    path = urllib.parse.unquote(_text(request.path)) or "/"  # as apache decodes %xx
    params = {_text(k): _text(v[0]) for k, v in (request.args or {}).items() if v}
    cookies = {}
    for header in request.requestHeaders.getRawHeaders(b"cookie", []):
        for part in header.split(b";"):
            name, sep, value = part.strip().partition(b"=")
            if sep:
                cookies[_text(name)] = _text(value)
    return Request(_text(request.method), path, params, cookies, client_address(request))


class WebMailResource(resource.Resource):
    isLeaf = True

    def __init__(self, app: WebMail, log: Any) -> None:
        super().__init__()
        self.app, self.log = app, log

    def render(self, request: Any) -> Any:
        request.setHeader(b"server", pages.SERVER_SIGNATURE.encode())
        gone: list[bool] = []
        # a client that hangs up mid-request must not make us write to a closed connection
        request.notifyFinish().addErrback(lambda _failure: gone.append(True))
        rule = FAULTPOINTS.fire("web", "request")  # the web_errors fault: httpd answers errors
        if rule is not None:
            code = int(rule.get("code", 500))
            deferred = as_deferred(self.app.fail(code, str(rule.get("message") or "")))
        else:
            deferred = as_deferred(self.app.handle(to_request(request)))

        def failed(failure: Any) -> Response:
            self.log.error("error serving %s: %s", request.uri, failure.getTraceback())
            return self.app.error(500, "The server encountered an internal error.")

        def write(answer: Response) -> None:
            if gone:
                return
            request.setResponseCode(answer.status)
            request.setHeader(b"content-type", answer.content_type.encode())
            request.setHeader(b"cache-control", b"no-store")
            for name, value in answer.headers:
                request.responseHeaders.addRawHeader(name.encode(), value.encode())
            request.setHeader(b"content-length", str(len(answer.body)).encode())
            request.write(answer.body)
            request.finish()

        deferred.addErrback(failed)
        deferred.addCallback(write)
        deferred.addErrback(lambda failure: self.log.error("%s", failure.getTraceback()))
        return server.NOT_DONE_YET


class AdminResource(resource.Resource):
    """The admin port's status page: what operators open to judge whether httpd is alive."""

    isLeaf = True

    def __init__(self, app: WebMail, address: str) -> None:
        super().__init__()
        self.app, self.address = app, address
        self.started = time.time()

    def render(self, request: Any) -> bytes:
        request.setHeader(b"server", pages.SERVER_SIGNATURE.encode())
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return (
            "<html><head><title>aimc admin</title></head><body>\n"
            "<h1>aimc admin</h1> status OK\n"
            f"<p>server {self.app.node} ({self.address}), webmail port {self.app.port}, "
            f"pid {os.getpid()}, up since {since}</p>\n"
            f"<p>requests served: {self.app.requests}, sessions: {len(self.app.sessions)}</p>\n"
            "</body></html>\n"
        ).encode()


def build_sites(ctx: ServiceContext, app: WebMail) -> tuple[server.Site, server.Site]:
    """The WebMail site (access_log) and the admin site (admin_access_log), as apache vhosts."""
    log_dir = ctx.home.log_dir(ctx.node.name) / "httpd"
    log_dir.mkdir(parents=True, exist_ok=True)
    sites = []
    for res, name in (
        (WebMailResource(app, ctx.log), "access_log"),
        (AdminResource(app, ctx.address), "admin_access_log"),
    ):
        site = server.Site(res, logPath=str(Path(log_dir) / name), logFormatter=access_log_line)
        site.displayTracebacks = False
        sites.append(site)
    return sites[0], sites[1]
