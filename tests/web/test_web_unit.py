"""WebMail's logic without sockets: error pages for back-end trouble and hostile input, provisioning
of the webroot and its dated backup tarball."""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testbed.components.mapic import MapiError
from testbed.components.uas_client import AuthFailed, AuthUnavailable
from testbed.components.web import mailops, pages
from testbed.components.web.provision import backup_tarball, provision_web
from testbed.components.web.webmail import COOKIE, Request, Response, WebMail
from testbed.home import Home

NETWORK = "127.0.27.0/24"
USER = {"address": "a@aimc.test", "mailroot": "m0", "cls": "regular", "level": 1}


class FakeUas:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    async def authenticate(self, address: str, password: str) -> dict[str, Any]:
        if self.fail:
            raise self.fail
        if password != "pw":
            raise AuthFailed("bad_password")
        return dict(USER, address=address)


class FakeMapi:
    """INBOX holds `messages` (uid -> bytes); `fail` makes every call raise it."""

    def __init__(self, messages: dict[int, bytes], fail: Exception | None = None) -> None:
        self.messages, self.fail = messages, fail
        self.folders: dict[str, dict[int, bytes]] = {"INBOX": messages}

    def _folder(self, name: str) -> dict[int, bytes]:
        if self.fail:
            raise self.fail
        if name not in self.folders:
            raise MapiError("no_such_folder")
        return self.folders[name]

    async def list(self, user: dict[str, Any], folder: str = "INBOX") -> dict[str, Any]:
        return {"messages": [{"uid": u} for u in sorted(self._folder(folder))]}

    async def fetch(self, user: dict[str, Any], folder: str, uid: int) -> bytes:
        box = self._folder(folder)
        if uid not in box:
            raise MapiError("no_such_message")
        return box[uid]

    async def create_folder(self, user: dict[str, Any], folder: str) -> None:
        if folder in self.folders:
            raise MapiError("already_exists")
        self.folders[folder] = {}

    async def append(self, user: Any, folder: str, data: bytes, flags: Any = None) -> int:
        box = self._folder(folder)
        uid = max(box, default=0) + 1
        box[uid] = data
        return uid

    async def delete(self, user: Any, folder: str, uids: list[int]) -> list[int]:
        for uid in uids:
            self._folder(folder).pop(uid, None)
        return uids


@pytest.fixture
def webroot(tmp_path: Path) -> Path:
    pages.write_default_webroot(tmp_path / "webroot")
    return tmp_path / "webroot"


def make_app(webroot: Path, uas: Any = None, mapi: Any = None) -> WebMail:
    return WebMail(
        webroot, uas or FakeUas(), mapi or FakeMapi({}), lambda: ("127.0.27.1", 1), "web1", 8080
    )


def call(app: WebMail, method: str, path: str, **params: str) -> Response:
    token = next(iter(app.sessions), "")
    return asyncio.run(app.handle(Request(method, path, params, {COOKIE: token})))


def logged_in(webroot: Path, **kw: Any) -> WebMail:
    app = make_app(webroot, **kw)
    assert call(app, "POST", "/login", user="a@aimc.test", password="pw").status == 303
    return app


def test_login_failures(webroot: Path) -> None:
    app = make_app(webroot)
    page = call(app, "POST", "/login", user="a@aimc.test", password="no")
    assert page.status == 200 and b"Wrong mail address or password" in page.body
    assert not app.sessions
    down = make_app(webroot, uas=FakeUas(AuthUnavailable("no UAS")))
    page = call(down, "POST", "/login", user="a@aimc.test", password="pw")
    assert page.status == 503 and b"Service Temporarily Unavailable" in page.body


def test_mailbox_outage_is_503_and_permanent_errors_are_pages(webroot: Path) -> None:
    app = logged_in(webroot, mapi=FakeMapi({}, fail=MapiError("unavailable", "mss down")))
    assert call(app, "GET", "/inbox").status == 503
    assert call(app, "GET", "/settings").status == 503
    broken = logged_in(webroot, mapi=FakeMapi({}, fail=MapiError("no_mailbox")))
    assert call(broken, "GET", "/inbox").status == 500


BROKEN = (
    b"From: =?bogus?Q?x?= <evil@x>\r\nSubject: <img src=x onerror=alert(1)>\r\n"
    b"Content-Type: multipart/mixed; boundary=none\r\n\r\n--nope\r\n<script>1</script>\r\n"
)


def test_hostile_mail_is_escaped_and_never_crashes(webroot: Path) -> None:
    app = logged_in(webroot, mapi=FakeMapi({1: BROKEN, 2: b"\xff\xfe garbage", 3: b""}))
    inbox = call(app, "GET", "/inbox")
    assert inbox.status == 200 and b"<img" not in inbox.body and b"&lt;img src=x" in inbox.body
    for uid in (1, 2, 3):
        page = call(app, "GET", "/read", uid=str(uid))
        assert page.status == 200 and b"<script>" not in page.body and b"<img" not in page.body
    assert call(app, "GET", "/read", uid="-1").status == 404
    assert call(app, "GET", "/read").status == 400


def test_settings_round_trip_and_garbage(webroot: Path) -> None:
    mapi = FakeMapi({})
    app = logged_in(webroot, mapi=mapi)
    assert call(app, "POST", "/settings", display_name="A", signature="s1").status == 200
    assert call(app, "POST", "/settings", display_name="B <b>", signature="s2").status == 200
    assert len(mapi.folders["Settings"]) == 1  # older copies dropped
    assert b'value="B &lt;b&gt;"' in call(app, "GET", "/settings").body
    mapi.folders["Settings"][99] = b"Subject: x\r\n\r\nnot json"
    assert b'value=""' in call(app, "GET", "/settings").body


def test_missing_pages_static_files_and_methods(webroot: Path) -> None:
    app = make_app(webroot)
    assert call(app, "HEAD", "/").status == 200
    css = call(app, "GET", "/style.css")
    assert css.status == 200 and css.content_type.startswith("text/css")
    for path in ("/../aimc.ini", "/nope", "/%2e%2e/x", "/webroot"):
        assert call(app, "GET", path).status == 404
    assert call(app, "PUT", "/login").status == 405
    (webroot / "login.html").unlink()
    page = call(app, "GET", "/")
    assert page.status == 404 and b"Apache" in page.body and b"login.html" in page.body
    (webroot / "login.html").write_text("$broken ${ $$ template")
    assert call(app, "GET", "/").status == 200  # a defaced page with stray $ is still served
    assert call(app, "GET", "/inbox").status == 303  # not logged in


def test_send_input_checks(webroot: Path) -> None:
    assert mailops.recipients("a@x.test, b@y.test;c@z.test") == ["a@x.test", "b@y.test", "c@z.test"]
    for bad in ("", "nobody", "a@b.test\r\nBcc: x@y", '"x"@y'):
        with pytest.raises(mailops.SendFailed):
            mailops.recipients(bad)
    app = logged_in(webroot)
    page = call(app, "POST", "/send", to="not-an-address", subject="s", body="b")
    assert page.status == 200 and b"Not a mail address" in page.body
    msg = mailops.compose(
        USER, {"display_name": "A\r\nB", "signature": "sig"}, ["b@x"], "s\r\nX: y", "hi"
    )
    assert "X: y" not in msg.as_string().split("\n\n")[0].splitlines()
    assert msg.get_content().endswith("-- \nsig\n")


def test_provision_web_writes_webroot_ini_and_restorable_tarball(
    make_home: Callable[..., Home], tmp_path: Path
) -> None:
    home = make_home(NETWORK)
    provision_web(home, home.topology)
    for node in ("web1", "web2", "webbak"):
        aimc = home.node_root(node) / "opt" / "aimc"
        assert "[UAPI]" in (aimc / "aimc.ini").read_text()
        assert (aimc / "webroot" / "login.html").read_text() == pages.DEFAULT_WEBROOT["login.html"]
        tarball = backup_tarball(home, home.topology, node)
        assert tarball.name == "webroot.040430.tar"
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
            assert "webroot/login.html" in names and all(n.startswith("webroot") for n in names)
            tar.extractall(tmp_path / node, filter="data")
        assert (tmp_path / node / "webroot" / "style.css").exists()
