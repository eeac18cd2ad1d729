"""The on-disk mailbox format, driven the way the mss process drives it."""

from __future__ import annotations

import asyncio
import base64

import pytest

from testbed.components.mailstore import MailStore, provision_mailbox_info
from testbed.components.mss import MailrootService
from testbed.errors import RemoteError
from testbed.home import Home

USER = {"address": "ann.lee@aimc.test", "mailroot": "m0", "level": 1, "quota": 10_000}


@pytest.fixture
def service(make_home):
    home = make_home("127.0.21.0/24")
    from testbed.components.array import provision_array

    provision_array(home, home.topology)
    return MailrootService(home, "mss0", "m0")


def call(svc: MailrootService, method: str, **params):
    return asyncio.run(svc.handlers()[method]({"user": USER, **params}))


def deliver(svc, data: bytes, delivery_id: str, user=USER):
    p = {"user": user, "data": base64.b64encode(data).decode(), "delivery_id": delivery_id}
    return asyncio.run(svc.handlers()["deliver"](p))


def test_delivery_is_idempotent_and_survives_a_restart(service):
    assert deliver(service, b"Subject: one\r\n\r\nhi\r\n", "q1/ann") == 1
    assert deliver(service, b"Subject: one\r\n\r\nhi\r\n", "q1/ann") == 1
    assert deliver(service, b"Subject: two\r\n\r\nho\r\n", "q2/ann") == 2
    fresh = MailrootService(service.home, "mss0", "m0")
    listing = call(fresh, "list", folder="INBOX")
    assert [m["uid"] for m in listing["messages"]] == [1, 2]
    assert deliver(fresh, b"x", "q1/ann") == 1
    assert base64.b64decode(call(fresh, "fetch", folder="INBOX", uid=2)).endswith(b"ho\r\n")


def test_flags_expunge_and_uids_never_reused(service):
    for n in range(3):
        deliver(service, b"m%d" % n, f"id{n}")
    call(service, "store_flags", folder="INBOX", uids=[3], flags=["\\Deleted"], mode="add")
    call(service, "store_flags", folder="INBOX", uids=[1], flags=["\\Seen"], mode="add")
    assert call(service, "status")["unseen"] == 2
    assert call(service, "expunge", folder="INBOX") == [3]
    fresh = MailrootService(service.home, "mss0", "m0")
    assert call(fresh, "status")["uidnext"] == 4
    assert deliver(fresh, b"again", "id2") == 0  # expunged deliveries are not stored twice
    assert deliver(fresh, b"new", "id9") == 4
    assert call(fresh, "list", folder="INBOX")["messages"][0]["flags"] == ["\\Seen"]


def test_folders_copy_move(service):
    deliver(service, b"a", "a")
    deliver(service, b"b", "b")
    call(service, "create_folder", folder="Work/2026")
    with pytest.raises(RemoteError) as err:
        call(service, "create_folder", folder="Work/2026")
    assert err.value.code == "already_exists"
    assert call(service, "copy", folder="INBOX", uids=[1], dest="Work/2026") == {"1": 1}
    assert call(service, "move", folder="INBOX", uids=[2], dest="Work/2026") == {"2": 2}
    assert [m["uid"] for m in call(service, "list", folder="INBOX")["messages"]] == [1]
    call(service, "rename_folder", old="Work/2026", new="Archive")
    assert call(service, "folders") == ["INBOX", "Archive"]
    assert call(service, "quota")["used"] == 3
    call(service, "delete_folder", folder="Archive")
    assert call(service, "quota")["used"] == 1
    with pytest.raises(RemoteError) as err:
        call(service, "list", folder="Nope")
    assert err.value.code == "no_such_folder"


def test_quota_and_custom_level0_quota(service):
    deliver(service, b"x" * 9000, "big")
    with pytest.raises(RemoteError) as err:
        deliver(service, b"x" * 2000, "big2")
    assert err.value.code == "quota_exceeded"
    assert str(err.value).endswith("Destination mailbox exceeds quota")
    custom = {"address": "vip@aimc.test", "mailroot": "m0", "level": 0, "quota": 100}
    provision_mailbox_info(service.home, [custom])
    with pytest.raises(RemoteError):
        deliver(service, b"y" * 200, "c1", user=custom)
    assert call(service, "quota", user=custom) == {"used": 0, "limit": 100}


def test_array_faults_reach_the_caller_as_io_errors(service):
    from testbed.components import array

    home: Home = service.home
    array.set_status(home, "readonly")
    with pytest.raises(OSError) as err:
        deliver(service, b"a", "a")
    assert err.value.errno == 30  # EROFS
    assert call(service, "status")["messages"] == 0  # reads still work
    array.set_status(home, "offline")
    with pytest.raises(OSError):
        call(service, "status")
    array.set_status(home, "online")
    array.reserve(home, "m0", "mss2")  # another node took the mailroot over: we are fenced off
    with pytest.raises(OSError):
        deliver(service, b"a", "a")


def test_mailstore_opens_lazily(tmp_path):
    store = MailStore(tmp_path / "luns" / "m0")
    box = store.mailbox(USER)
    assert box.names == {"INBOX"} and not box.path.exists()
