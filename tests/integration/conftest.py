from __future__ import annotations

from collections.abc import Iterator

import pytest
from integration_support import Testbed

REGULAR_QUOTA = 300_000  # small, so a test can exceed it with one message


def _testbed(tmp_path_factory: pytest.TempPathFactory, network: str) -> Iterator[Testbed]:
    bed = Testbed(
        tmp_path_factory.mktemp("testbed"),
        network,
        users=60,
        mail={
            "quota": {"vip": 200 << 20, "paying": 100 << 20, "regular": REGULAR_QUOTA},
            "retry_schedule": [0.5, 1, 2],
        },
    )
    try:
        bed.up()
        yield bed
    finally:
        bed.down()


@pytest.fixture(scope="module")
def testbed(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Testbed]:
    """One running testbed per test module, each module on its own network (set NETWORK there)."""
    yield from _testbed(tmp_path_factory, request.module.NETWORK)
