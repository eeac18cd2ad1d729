"""`maildrill compose`: the compose file it writes, started by docker compose itself, is the same
testbed — status, check and a fault work on it, and `maildrill down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from dockerkit import REQUIRED, engine_ready, md, own_objects

NETWORK = "127.0.45.0/24"  # → 10.231.45.0/24


def compose_command() -> tuple[list[str], dict[str, str]] | None:
    env = dict(os.environ)
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"], env
    if shutil.which("docker-compose"):
        # Debian's docker-compose 1.29 needs Debian's docker-py (5.x), not a newer one from pip
        env["PYTHONPATH"] = "/usr/lib/python3/dist-packages"
        return ["docker-compose"], env
    return None


def test_compose_file_starts_the_same_testbed(tmp_path: Path) -> None:
    why = engine_ready()
    found = compose_command()
    if why is None and found is None:
        why = "neither `docker compose` nor docker-compose installed"
    if why is not None:
        if REQUIRED:
            pytest.fail(why)
        pytest.skip(why)
    assert found is not None
    compose, env = found
    topology = tmp_path / "topology.yaml"
    topology.write_text(f"network: {NETWORK}\n")
    home = tmp_path / "home"
    out = tmp_path / "compose.yaml"
    try:
        wrote = md(home, "compose", "--topology", str(topology), "--users", "30", "-o", str(out))
        assert str(out) in wrote.stdout
        document = yaml.safe_load(out.read_text())
        assert document["services"]["fe01"]["networks"]["testbed"]["ipv4_address"] == "10.231.45.11"
        project = wrote.stdout.split("-p ")[1].split()[0]
        subprocess.run(
            [*compose, "-p", project, "-f", str(out), "up", "-d"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        deadline = time.monotonic() + 90
        while True:
            status = json.loads(md(home, "status", "--json").stdout)
            if status["up"] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status["up"], status
        assert "round trip ok" in md(home, "check").stdout
        fid = md(home, "inject", "web_down", "--target", "web1").stdout.split()[0]
        md(home, "revert", fid)
        assert own_objects(home)[0]
    finally:
        md(home, "down", check=False)
    assert own_objects(home) == ([], [])
