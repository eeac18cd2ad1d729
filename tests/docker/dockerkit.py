"""Helpers of the docker tests: is an engine there, the CLI, and what a testbed owns in docker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REQUIRED = os.environ.get("MAILDRILL_DOCKER_TESTS") == "1"


def engine_ready() -> str | None:
    """Why the docker tests cannot run here, or None."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get("maildrill/node:latest")
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine or no image
        return f"no Docker engine or image ({exc.__class__.__name__}: {exc})"
    return None


def md(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["maildrill", "--home", str(home), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} → {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def own_objects(home: Path) -> tuple[list[str], list[str]]:
    label = f"label=org.maildrill.home={home}"
    ps = ["docker", "ps", "-a", "-q", "--filter", label]
    nets = ["docker", "network", "ls", "-q", "--filter", label]
    out = [
        subprocess.run(c, capture_output=True, text=True, check=True).stdout.split()
        for c in (ps, nets)
    ]
    return out[0], out[1]
