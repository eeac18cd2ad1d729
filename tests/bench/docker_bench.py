"""Issue 6's figures: `up` time and memory of the docker backend, beside the local backend's.

Memory is PSS (a page shared by forked services counted once), summed over the testbed's service
processes — plus, on docker, each container's init and its containerd shim, the price of having a
container per node. The engine itself (dockerd, containerd) is printed apart: it is there whether
or not a testbed runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

NETWORK = "127.0.46.0/24"  # → 10.231.46.0/24 on docker


def pss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_full_info().pss
        except psutil.Error:
            continue
    return total


def service_pids(home: Path) -> list[int]:
    pids = []
    for pid_file in home.glob("nodes/*/var/run/*.pid"):
        try:
            pids.append(int(pid_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def container_pids(home: Path) -> list[int]:
    """Each of the testbed's containers: its init (the node process) and the shim that holds it."""
    import docker

    client = docker.from_env()
    pids = []
    for container in client.containers.list(filters={"label": f"org.maildrill.home={home}"}):
        init = int(container.attrs["State"]["Pid"])
        pids.append(init)
        with contextlib.suppress(psutil.Error):
            pids.append(psutil.Process(init).ppid())
    return pids


def engine_pids() -> list[int]:
    return [
        p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("dockerd", "containerd")
    ]


def engine_ready() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get("maildrill/node:latest")
    except Exception as exc:  # noqa: BLE001 - any failure: no engine or no image
        return f"{exc.__class__.__name__}"
    return None


def measure(backend: str, work: Path, users: int) -> tuple[float, int, int]:
    """(up seconds, testbed PSS bytes, of which container overhead) for one fresh testbed."""
    home = work / f"home-{backend}"
    env = {**os.environ, "MAILDRILL_HOME": str(home)}
    topo = work / "topology.yaml"
    topo.write_text(yaml.safe_dump({"network": NETWORK}))
    cli = [sys.executable, "-m", "testbed.cli"]
    up = [*cli, "up", "--backend", backend, "--topology", str(topo), "--users", str(users)]
    try:
        start = time.perf_counter()
        subprocess.run(up, env=env, capture_output=True, text=True, timeout=600, check=True)
        up_s = time.perf_counter() - start
        time.sleep(2)  # settle: first health checks and probes done
        services = pss(service_pids(home))
        overhead = pss(container_pids(home)) if backend == "docker" else 0
        return up_s, services + overhead, overhead
    finally:
        subprocess.run([*cli, "down"], env=env, capture_output=True, timeout=300)


def report(work: Path, users: int) -> str:
    why = engine_ready()
    if why is not None:
        return f"docker backend: skipped ({why}; `make base-image image` and a running dockerd)"
    lines = [f"backend  up ({users} users)  memory at rest (PSS)"]
    for backend in ("local", "docker"):
        up_s, total, overhead = measure(backend, work, users)
        extra = f"  (containers' init+shim {overhead / 2**20:.0f} MB)" if overhead else ""
        lines.append(f"{backend:7}  {up_s:8.2f} s        {total / 2**20:6.0f} MB{extra}")
    lines.append(f"engine (dockerd + containerd): {pss(engine_pids()) / 2**20:.0f} MB PSS")
    return "\n".join(lines)
