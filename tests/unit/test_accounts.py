import asyncio

import pytest

from testbed.components.accounts import AccountStore, write_accounts
from testbed.errors import RemoteError

USERS = [
    {
        "address": "ann@aimc.test",
        "password": "pw1",
        "name": "Ann",
        "cls": "vip",
        "level": 3,
        "quota": 100,
        "mailroot": "m0",
        "status": "active",
    },
    {
        "address": "bob@aimc.test",
        "password": "pw2",
        "name": "Bob",
        "cls": "regular",
        "level": 1,
        "quota": 100,
        "mailroot": "m1",
        "status": "disabled",
    },
]


@pytest.fixture
def store(tmp_path):
    write_accounts(tmp_path / "a.sqlite", USERS, ["aimc.test"])
    s = AccountStore(tmp_path / "a.sqlite")
    yield s
    s.close()


def test_authenticate_and_lookup(store):
    user = store.authenticate("Ann@aimc.test", "pw1")
    assert user["mailroot"] == "m0" and "password" not in user and "hash" not in user
    assert store.lookup("ann@aimc.test")["cls"] == "vip"
    assert store.domains() == ["aimc.test"]


@pytest.mark.parametrize(
    ("address", "password", "code"),
    [
        ("ann@aimc.test", "wrong", "bad_password"),
        ("nobody@aimc.test", "pw1", "no_such_user"),
        ("bob@aimc.test", "pw2", "disabled"),
    ],
)
def test_refusals_carry_a_reason(store, address, password, code):
    with pytest.raises(RemoteError) as err:
        store.authenticate(address, password)
    assert err.value.code == code


def test_rpc_handlers_answer_like_the_store(store):
    handlers = store.handlers()
    user = asyncio.run(handlers["lookup"]({"address": "ann@aimc.test"}))
    assert user["address"] == "ann@aimc.test"
