"""The testbed's users: generated with faker from a seed, so the same seed gives the same users.

Every user has an address in a hosted domain, a password, a class (vip, paying, regular), a user
level (level 0 = custom mailbox whose quota lives in its mailbox info file, SPEC §1), a quota, a
mailroot and a status. Classes are spread so that every mailroot holds users of every class whenever
there are enough users, because the drills measure restore times per class and per mailroot.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from testbed.topology.model import USER_CLASSES, Topology

User = dict[str, Any]

# Share of each class; the plan's key users are few.
CLASS_MIX = {"vip": 0.05, "paying": 0.25, "regular": 0.70}
CUSTOM_QUOTA_SHARE = 0.02  # level-0 mailboxes with a quota of their own
NAME_POOL = 400  # faker is slow per call; names are combined from pools drawn once
PASSWORD_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _name_pools(seed: int) -> tuple[list[str], list[str]]:
    from faker import Faker  # imported here: 0.2 s that only `up` needs

    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = sorted({fake.first_name() for _ in range(NAME_POOL)})
    lasts = sorted({fake.last_name() for _ in range(NAME_POOL)})
    return firsts, lasts


def _classes(count: int, mailroots: int, rng: random.Random) -> list[str]:
    """`count` class labels. Users are placed round-robin over mailroots, so the first 3×mailroots
    (a VIP on every mailroot, then a paying user on each, then a regular one) put every class on
    every mailroot; the rest follow CLASS_MIX."""
    head = [USER_CLASSES[(i // mailroots) % 3] for i in range(min(count, 3 * mailroots))]
    rest = rng.choices(list(CLASS_MIX), weights=list(CLASS_MIX.values()), k=count - len(head))
    return head + rest


def generate_users(topology: Topology, count: int, seed: int) -> list[User]:
    rng = random.Random(seed)
    firsts, lasts = _name_pools(seed)
    domains = topology.spec.domains
    roots = topology.mailroots
    quotas = topology.spec.mail.quota
    users: list[User] = []
    taken: set[str] = set()
    for i, cls in enumerate(_classes(count, len(roots), rng)):
        first, last = rng.choice(firsts), rng.choice(lasts)
        domain = domains[i % len(domains)] if i < len(domains) * 3 else rng.choice(domains)
        base = f"{_ascii(first)}.{_ascii(last)}"
        local, n = base, 1
        while f"{local}@{domain}" in taken:
            n += 1
            local = f"{base}{n}"
        address = f"{local}@{domain}"
        taken.add(address)
        custom = i >= len(roots) * 3 and rng.random() < CUSTOM_QUOTA_SHARE
        level = 0 if custom else {"vip": 3, "paying": 2, "regular": 1}[cls]
        quota = rng.choice([5, 50, 500]) << 20 if custom else quotas[cls]  # type: ignore[index]
        users.append(
            {
                "address": address,
                "password": "".join(rng.choice(PASSWORD_CHARS) for _ in range(10)),
                "name": f"{first} {last}",
                "cls": cls,
                "level": level,
                "quota": quota,
                "mailroot": roots[i % len(roots)],
                "status": "active",
            }
        )
    return users
