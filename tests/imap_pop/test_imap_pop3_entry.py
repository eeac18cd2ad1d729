"""The real entry points (kinds "pop3" and "imap") started by the launcher in a testbed home.

No UAS runs in this home, so a login must fail as a temporary error, not as a wrong password;
SIGTERM must stop the service cleanly.
"""

from __future__ import annotations

import imaplib
import poplib
import time

import psutil
import pytest

from testbed.components.frontend_config import provision_frontends
from testbed.runtime import launch
from testbed.runtime.local import LocalBackend


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        launch.reap()
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} still running after SIGTERM")


def test_entry_points_answer_and_stop(make_home) -> None:  # type: ignore[no-untyped-def]
    home = make_home("127.0.23.0/24")
    provision_frontends(home, home.topology)
    fe = home.topology.frontends[0]
    backend = LocalBackend(home)
    backend.start(fe.name, "pop3")
    backend.start(fe.name, "imap")
    ports = {s.name: s.port for s in fe.services}

    p = poplib.POP3(fe.address, ports["pop3"], timeout=10)
    try:
        assert "UIDL" in p.capa()
        p.user("someone@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            p.pass_("secret")
    finally:
        p.quit()

    client = imaplib.IMAP4(fe.address, ports["imap"], timeout=10)
    try:
        assert "IDLE" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
            client.login("someone@example.com", "secret")
    finally:
        client.logout()

    for name in ("pop3", "imap"):
        pid = launch.read_pid(home.pid_file(fe.name, name))
        assert pid is not None and backend.signal(fe.name, name)
        _wait_gone(pid)
        assert "stopped" in (home.log_dir(fe.name) / f"{name}.log").read_text()
        assert "Traceback" not in (home.log_dir(fe.name) / f"{name}.out").read_text()
