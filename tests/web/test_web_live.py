"""The webservers in a live testbed: WebMail through a real HTTP client (urllib + cookies), mail
through real SMTP/IMAP clients, the plan's webserver chapter (deface, `tar xvf` restore, apachectl)
run literally in the node's root folder."""

from __future__ import annotations

import http.cookiejar
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
import integration_support as support  # noqa: E402

from testbed.home import Home  # noqa: E402
from testbed.nodecmd import install_commands  # noqa: E402

NETWORK = "127.0.27.0/24"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Testbed]:
    testbed = support.Testbed(tmp_path_factory.mktemp("web"), NETWORK, users=30)
    try:
        testbed.up()
        home = Home(testbed.root / "home")
        install_commands(home, home.topology)  # the /opt/aid/bin/apachectl shims
        yield testbed
    finally:
        testbed.down()


class Browser:
    """A user's browser: keeps the session cookie, follows redirects."""

    def __init__(self, bed: support.Testbed, node: str, port: int = 8080) -> None:
        self.base = f"http://{bed.node_address(node)}:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(
        self, path: str, fields: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, exc.read().decode()
            finally:
                exc.close()

    def login(self, user: dict[str, Any], password: str | None = None) -> tuple[int, str]:
        pw = user["password"] if password is None else password
        return self.request("/login", {"user": user["address"], "password": pw})


def refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def imap_find(bed: support.Testbed, user: dict[str, Any], subject: str) -> str:
    """The full text of the INBOX message with `subject`, or "" if it is not there (yet)."""
    box = bed.imap(user)
    try:
        box.select("INBOX", readonly=True)
        _typ, data = box.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = data[0].split()
        if not uids:
            return ""
        _typ, fetched = box.uid("FETCH", uids[-1], "(BODY.PEEK[])")
        return bytes(fetched[0][1]).decode()
    finally:
        box.logout()


def test_admin_port_answers_on_both_mains_and_backup_is_cold(bed: support.Testbed) -> None:
    for node in ("web1", "web2"):
        status, page = Browser(bed, node, 2080).request("/")
        assert status == 200 and "<h1>aimc admin</h1>" in page and "status OK" in page
    assert refused(bed.node_address("webbak"), 8080)


def test_login_good_and_bad(bed: support.Testbed) -> None:
    user = bed.user("regular")
    browser = Browser(bed, "web1")
    status, page = browser.request("/")
    assert status == 200 and 'action="/login"' in page
    status, page = browser.login(user, "wrong-password")
    assert status == 200 and "Wrong mail address or password" in page
    status, page = browser.login({"address": "nobody@aimc.test", "password": "x"})
    assert "Wrong mail address or password" in page
    status, page = browser.request("/inbox")  # not logged in: back to the login form
    assert 'action="/login"' in page
    status, page = browser.login(user)
    assert status == 200 and f"Inbox of {user['address']}" in page
    browser.request("/logout")
    assert 'action="/login"' in browser.request("/inbox")[1]


def test_inbox_lists_mail_sent_by_smtp_and_read_escapes_it(bed: support.Testbed) -> None:
    sender, rcpt = bed.user("vip"), bed.user("regular", skip=1)
    tag = uuid.uuid4().hex[:8]
    bed.send(sender, rcpt["address"], subject=f"<script>{tag}</script>", body="<b>bold</b> & co\n")
    browser = Browser(bed, "web2")
    browser.login(rcpt)

    def listed() -> str:
        page = browser.request("/inbox")[1]
        return page if tag in page else ""

    page = support.eventually(listed)
    assert f"&lt;script&gt;{tag}&lt;/script&gt;" in page and "<script>" not in page
    assert sender["address"] in page
    uid = page.split(f"&lt;script&gt;{tag}")[0].rsplit("/read?uid=", 1)[1].split('"')[0]
    status, text = browser.request(f"/read?uid={uid}")
    assert status == 200
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in text and "<b>bold" not in text
    assert browser.request("/read?uid=999999")[0] == 404
    assert browser.request("/read?uid=abc")[0] == 400


def test_send_from_webmail_arrives_in_imap_with_settings_kept_across_webservers(
    bed: support.Testbed,
) -> None:
    sender, rcpt = bed.user("paying"), bed.user("regular", skip=2)
    on_web1 = Browser(bed, "web1")
    on_web1.login(sender)
    fields = {"display_name": "Drill <Leader>", "signature": "sig-" + uuid.uuid4().hex[:6]}
    status, page = on_web1.request("/settings", fields)
    assert status == 200 and "Settings saved" in page
    # a new session on the other webserver (sessions are per process) sees the same settings
    on_web2 = Browser(bed, "web2")
    on_web2.login(sender)
    page = on_web2.request("/settings")[1]
    assert "Drill &lt;Leader&gt;" in page and fields["signature"] in page
    subject = f"from webmail {uuid.uuid4().hex[:8]}"
    status, page = on_web2.request(
        "/send", {"to": rcpt["address"], "subject": subject, "body": "hi there"}
    )
    assert status == 200 and "Message sent" in page
    text = support.eventually(lambda: imap_find(bed, rcpt, subject), timeout=60)
    assert "hi there" in text and fields["signature"] in text and "Drill" in text
    status, page = on_web2.request(
        "/send", {"to": "no.such.user@aimc.test", "subject": "x", "body": "y"}
    )
    assert status == 200 and "no.such.user@aimc.test" in page and 'class="error">Not' in page


def test_access_log_has_forwarded_client_address_else_peer(bed: support.Testbed) -> None:
    log = bed.root / "home" / "nodes" / "web1" / "var" / "log" / "httpd" / "access_log"
    Browser(bed, "web1").request("/style.css", headers={"X-Forwarded-For": "203.0.113.9"})
    Browser(bed, "web1").request("/index.html?direct")
    lines = support.eventually(
        lambda: [x for x in log.read_text().splitlines() if "/style.css" in x]
    )
    assert (
        lines[-1].startswith("203.0.113.9 - - [") and '"GET /style.css HTTP/1.1" 200' in lines[-1]
    )
    direct = [x for x in log.read_text().splitlines() if "/index.html?direct" in x]
    assert direct and direct[-1].startswith("127.")


def test_defaced_webroot_is_served_until_tar_restores_it(bed: support.Testbed) -> None:
    aimc = bed.root / "home" / "nodes" / "web2" / "opt" / "aimc"
    browser = Browser(bed, "web2")
    original = browser.request("/")[1]
    (aimc / "webroot" / "login.html").write_text("<h1>h4x0red by drill</h1>\n")
    assert browser.request("/") == (200, "<h1>h4x0red by drill</h1>\n")
    subprocess.run(["rm", "-rf", "webroot"], cwd=aimc, check=True)
    status, page = browser.request("/")
    assert status == 404 and "Not Found" in page and "Traceback" not in page
    subprocess.run(["tar", "xvf", "webroot.040430.tar"], cwd=aimc, check=True, capture_output=True)
    assert browser.request("/") == (200, original)


def test_apachectl_stop_and_start(bed: support.Testbed) -> None:
    root = bed.root / "home" / "nodes"
    address = bed.node_address("web2")

    def apachectl(node: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(root / node / "opt" / "aid" / "bin" / "apachectl"), *args]
        return subprocess.run(cmd, env=bed.env, capture_output=True, text=True, timeout=60)

    assert apachectl("web2", "status").returncode == 0
    done = apachectl("web2", "stop")
    assert done.returncode == 0 and "httpd stopped" in done.stdout
    assert refused(address, 8080) and refused(address, 2080)
    assert apachectl("web2", "status").returncode == 3
    done = apachectl("web2", "start")
    assert done.returncode == 0 and "httpd started" in done.stdout
    assert "aimc admin" in Browser(bed, "web2", 2080).request("/")[1]
    assert "already running" in apachectl("web2", "start").stdout
    bad = apachectl("web2", "reload-please")
    assert bad.returncode == 2 and "Usage: apachectl start|stop|restart|status" in bad.stderr
    # the cold backup takes over when asked, then goes back to cold
    assert apachectl("webbak", "start").returncode == 0
    assert 'action="/login"' in Browser(bed, "webbak").request("/")[1]
    assert apachectl("webbak", "stop").returncode == 0
    assert refused(bed.node_address("webbak"), 8080)


def test_uas_and_mailbox_outages_answer_503_then_recover(bed: support.Testbed) -> None:
    user = bed.user("regular", mailroot="m1")
    browser = Browser(bed, "web1")
    browser.login(user)
    bed.cli("kill", "mss1", "mss.m1", "--signal", "STOP")
    try:
        status, page = browser.request("/inbox")
        assert status == 503 and "temporarily unavailable" in page
    finally:
        bed.cli("kill", "mss1", "mss.m1", "--signal", "CONT")
    assert support.eventually(lambda: browser.request("/inbox")[0] == 200)
    for node in ("uas0", "uas1"):
        bed.cli("kill", node, "--signal", "STOP")
    try:
        status, page = Browser(bed, "web1").login(user)
        assert status == 503 and "temporarily unavailable" in page
    finally:
        for node in ("uas0", "uas1"):
            bed.cli("kill", node, "--signal", "CONT")
    assert support.eventually(lambda: Browser(bed, "web1").login(user)[0] == 200)
