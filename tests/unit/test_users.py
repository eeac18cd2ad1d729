from collections import Counter

from testbed.topology.resolve import load_topology
from testbed.users import generate_users


def test_same_seed_same_users_and_different_seed_differs():
    topo = load_topology()
    a = generate_users(topo, 200, seed=7)
    assert a == generate_users(topo, 200, seed=7)
    assert a != generate_users(topo, 200, seed=8)


def test_every_mailroot_has_every_class_and_addresses_are_unique():
    topo = load_topology()
    users = generate_users(topo, 60, seed=1)
    pairs = {(u["mailroot"], u["cls"]) for u in users}
    assert pairs == {(r, c) for r in topo.mailroots for c in ("vip", "paying", "regular")}
    assert len({u["address"] for u in users}) == 60
    assert {u["address"].split("@")[1] for u in users} == set(topo.spec.domains)


def test_class_mix_and_custom_quota_levels():
    topo = load_topology()
    users = generate_users(topo, 5000, seed=3)
    mix = Counter(u["cls"] for u in users)
    assert mix["regular"] > mix["paying"] > mix["vip"] > 0
    custom = [u for u in users if u["level"] == 0]
    assert custom, "some mailboxes carry a custom quota (level 0)"
    for u in users:
        if u["level"] != 0:
            assert u["quota"] == topo.spec.mail.quota[u["cls"]]
        assert u["address"].isascii() and u["password"]
