"""WebMail's pages and flows, independent of the HTTP server that carries them.

Login is checked by the UAS; reading and settings go through MAPIc; sending through the MTA's
submission port. Sessions are shared by all webservers through files under <home>/web/sessions
(the load balancer may send a user's next request to the other webserver, and the backup webserver
takes over logged-in users); they expire after being idle. Settings live in the mailbox.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.components.mapic import MapiClient, MapiError
from testbed.components.uas_client import AuthFailed, AuthUnavailable, UasClient
from testbed.components.web import mailops, pages

COOKIE = "AIMCSESSION"
SESSION_IDLE_S = 30 * 60
log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)  # query string and form fields
    cookies: dict[str, str] = field(default_factory=dict)
    client: str = "-"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Session:
    user: dict[str, Any]
    password: str  # kept for SMTP AUTH when the user sends mail
    seen: float = field(default_factory=time.monotonic)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class WebMail:
    def __init__(
        self,
        webroot: Path,
        uas: UasClient,
        mapi: MapiClient,
        submission: Callable[[], tuple[str, int]],
        node: str,
        port: int,
        shared_sessions: Path | None = None,
    ) -> None:
        self.webroot = webroot
        # Sessions shared by every webserver (the load balancer may send a user's next request to
        # the other one, and a backup webserver takes over logged-in users): one file per token.
        self.shared = shared_sessions
        self.uas, self.mapi = uas, mapi
        self.submission = submission
        self.node, self.port = node, port
        self.sessions: dict[str, Session] = {}
        self.requests = 0
        self.routes: dict[tuple[str, str], Callable[[Request, Session | None], Awaitable[Response]]]
        self.routes = {
            ("GET", "/"): self.front,
            ("POST", "/login"): self.login,
            ("GET", "/logout"): self.logout,
            ("GET", "/inbox"): self.authed(self.inbox),
            ("GET", "/read"): self.authed(self.read),
            ("GET", "/send"): self.authed(self.send_form),
            ("POST", "/send"): self.authed(self.send),
            ("GET", "/settings"): self.authed(self.settings_form),
            ("POST", "/settings"): self.authed(self.save_settings),
        }

    # --- plumbing -----------------------------------------------------------------------------
    async def handle(self, req: Request) -> Response:
        """Answer one request; back-end trouble and missing pages become error pages."""
        self.requests += 1
        method = "GET" if req.method == "HEAD" else req.method
        session = self._session(req)
        try:
            route = self.routes.get((method, req.path))
            if route is not None:
                return await route(req, session)
            if method == "GET":
                return self.static(req.path)
            if any(p == req.path for _m, p in self.routes):
                return self.error(405, f"The requested method {req.method} is not allowed.")
            return self.error(404, f"The requested URL {req.path} was not found on this server.")
        except pages.PageNotFound as exc:
            return self.error(404, f"The requested URL /{exc.name} was not found on this server.")
        except (AuthUnavailable, mailops.SendUnavailable) as exc:  # temporary: 503
            log.warning("503 for %s %s: %s", req.method, req.path, exc)
            return self.error(503, f"The mail service is temporarily unavailable ({exc}).")
        except MapiError as exc:
            if not exc.permanent:
                log.warning("503 for %s %s: mailbox %s", req.method, req.path, exc)
                return self.error(503, "Your mailbox is temporarily unavailable. Try again later.")
            log.warning("500 for %s %s: mailbox %s: %s", req.method, req.path, exc.code, exc)
            return self.error(500, f"Mailbox error: {exc.code}")

    async def fail(self, status: int, detail: str) -> Response:
        """An injected httpd failure (web_errors): counted and logged like a real one."""
        self.requests += 1
        log.error("%d (injected): %s", status, detail or "internal error")
        return self.error(status, detail or "The server encountered an internal error.")

    def error(self, status: int, detail: str) -> Response:
        return Response(status, pages.error_page(status, detail, self.node, self.port))

    def page(self, name: str, raw: dict[str, str] | None = None, /, **values: object) -> Response:
        """Render a webroot page; `values` are escaped, `raw` is markup built from escaped parts."""
        filled = {k: esc(v) for k, v in values.items()}
        filled.update(raw or {})
        filled.setdefault("node", esc(self.node))
        for key in ("error", "notice", "user"):
            filled.setdefault(key, "")
        return Response(200, pages.render(self.webroot, name, filled))

    def static(self, path: str) -> Response:
        found = pages.static_file(self.webroot, path)
        if found is None:
            return self.error(404, f"The requested URL {path} was not found on this server.")
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        return Response(200, found.read_bytes(), kind)

    def _session(self, req: Request) -> Session | None:
        now = time.monotonic()
        for token in [t for t, s in self.sessions.items() if now - s.seen > SESSION_IDLE_S]:
            del self.sessions[token]
        token = req.cookies.get(COOKIE, "")
        session = self.sessions.get(token) or self._shared_session(token)
        if session is not None:
            session.seen = now
            self.sessions[token] = session
        return session

    def _shared_path(self, token: str) -> Path | None:
        if (
            self.shared is None
            or not token
            or not token.replace("-", "").replace("_", "").isalnum()
        ):
            return None
        return self.shared / token

    def _shared_session(self, token: str) -> Session | None:
        path = self._shared_path(token)
        try:
            if path is None or time.time() - path.stat().st_mtime > SESSION_IDLE_S:
                return None
            data = json.loads(path.read_text())
            return Session(data["user"], data["password"])
        except (OSError, ValueError, KeyError):
            return None

    def authed(
        self, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Callable[[Request, Session | None], Awaitable[Response]]:
        async def route(req: Request, session: Session | None) -> Response:
            if session is None:
                return redirect("/")
            return await handler(req, session)

        return route

    # --- pages --------------------------------------------------------------------------------
    async def front(self, req: Request, session: Session | None) -> Response:
        if session is not None:
            return redirect("/inbox")
        return self.page("login.html")

    async def login(self, req: Request, _session: Session | None) -> Response:
        address = req.params.get("user", "").strip()
        password = req.params.get("password", "")
        if not address or not password:
            return self.page("login.html", error="Please enter your mail address and password.")
        try:
            user = await self.uas.authenticate(address, password)
        except AuthFailed as exc:
            log.info("login failed for %s from %s: %s", address, req.client, exc.reason)
            why = "This account is disabled." if exc.reason == "disabled" else ""
            return self.page(
                "login.html", error=why or "Wrong mail address or password.", user=address
            )
        token = secrets.token_urlsafe(24)
        self.sessions[token] = Session(user, password)
        if (path := self._shared_path(token)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{token}.tmp")
            tmp.write_text(json.dumps({"user": user, "password": password}))
            tmp.replace(path)
        log.info("login %s from %s", user["address"], req.client)
        response = redirect("/inbox")
        response.headers.append(("Set-Cookie", f"{COOKIE}={token}; Path=/; HttpOnly"))
        return response

    async def logout(self, req: Request, _session: Session | None) -> Response:
        token = req.cookies.get(COOKIE, "")
        self.sessions.pop(token, None)
        if (path := self._shared_path(token)) is not None:
            path.unlink(missing_ok=True)
        response = redirect("/")
        response.headers.append(("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0"))
        return response

    async def inbox(self, req: Request, session: Session) -> Response:
        summaries = await mailops.inbox(self.mapi, session.user)
        settings = await mailops.load_settings(self.mapi, session.user)
        rows = "\n".join(
            f'<tr><td>{esc(s.sender)}</td><td><a href="/read?uid={s.uid}">'
            f"{esc(s.subject or '(no subject)')}</a></td><td>{esc(s.date)}</td></tr>"
            for s in summaries
        )
        values = self._common(session, settings)
        values["display_name"] = settings["display_name"] or session.user["address"]
        return self.page("inbox.html", {"rows": rows}, count=len(summaries), **values)

    async def read(self, req: Request, session: Session) -> Response:
        try:
            uid = int(req.params.get("uid", ""))
        except ValueError:
            return self.error(400, "uid must be a message number.")
        try:
            msg = mailops.parse(await self.mapi.fetch(session.user, "INBOX", uid))
        except MapiError as exc:
            if exc.code == "no_such_message":
                return self.error(404, f"There is no message {uid} in your inbox.")
            raise
        h = mailops.headers(msg)
        return self.page(
            "read.html",
            uid=uid,
            from_=h["From"],
            to=h["To"],
            subject=h["Subject"] or "(no subject)",
            date=h["Date"],
            body=mailops.body_text(msg),
            **self._common(session, None),
        )

    async def send_form(self, req: Request, session: Session) -> Response:
        settings = await mailops.load_settings(self.mapi, session.user)
        return self.page(
            "send.html",
            to=req.params.get("to", ""),
            subject="",
            body="",
            **self._common(session, settings),
        )

    async def send(self, req: Request, session: Session) -> Response:
        settings = await mailops.load_settings(self.mapi, session.user)
        to_field = req.params.get("to", "")
        subject, body = req.params.get("subject", ""), req.params.get("body", "")
        values = self._common(session, settings)
        try:
            to = mailops.recipients(to_field)
            msg = mailops.compose(session.user, settings, to, subject, body)
            host, port = self.submission()
            await asyncio.to_thread(
                mailops.submit, host, port, session.user, session.password, msg, to
            )
        except mailops.SendFailed as exc:
            return self.page(
                "send.html", error=exc, to=to_field, subject=subject, body=body, **values
            )
        log.info("sent %s from %s to %s", msg["Message-ID"], session.user["address"], to)
        return self.page(
            "send.html",
            notice=f"Message sent to {', '.join(to)}.",
            to="",
            subject="",
            body="",
            **values,
        )

    async def settings_form(self, req: Request, session: Session) -> Response:
        settings = await mailops.load_settings(self.mapi, session.user)
        return self.page("settings.html", **self._common(session, settings))

    async def save_settings(self, req: Request, session: Session) -> Response:
        settings = {
            "display_name": req.params.get("display_name", "").strip()[:200],
            "signature": req.params.get("signature", "")[:2000],
        }
        await mailops.save_settings(self.mapi, session.user, settings)
        return self.page(
            "settings.html", notice="Settings saved.", **self._common(session, settings)
        )

    def _common(self, session: Session, settings: dict[str, str] | None) -> dict[str, object]:
        values: dict[str, object] = {"user": session.user["address"]}
        if settings is not None:
            values["display_name"] = settings["display_name"]
            values["signature"] = settings["signature"]
        return values


def redirect(location: str) -> Response:
    return Response(303, b"", headers=[("Location", location)])
