"""Load generators a fault starts (traffic_surge's smtp-source, request_flood's flooder): each pid
is written to <home>/faults/<kind>/<key>/<pid> the moment it starts, so a revert after a crash of
the injector finds and stops exactly those processes — checked by their command line, never a
recycled pid of someone else's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

import psutil


def load_dir(home_root: Path, kind: str, key: str) -> Path:
    return home_root / "faults" / kind / key


def pids(folder: Path) -> list[int]:
    return [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.exists() else []


def spawn(folder: Path, argv: list[str]) -> int:
    """Start argv in its own session (a Ctrl-C of the injector does not stop it behind the
    ledger's back; revert does), output discarded; posix_spawn leaves no Popen object behind."""
    folder.mkdir(parents=True, exist_ok=True)
    pid = os.posix_spawn(
        argv[0],
        argv,
        dict(os.environ),
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
    )
    (folder / str(pid)).write_text(" ".join(argv))
    return pid


def alive(folder: Path) -> list[int]:
    return [pid for pid in pids(folder) if psutil.pid_exists(pid)]


def stop(folder: Path, marker: str) -> None:
    """Stop the recorded processes whose command line contains `marker`; forget the folder."""
    procs = []
    for pid in pids(folder):
        try:
            proc = psutil.Process(pid)
            if marker in " ".join(proc.cmdline()):
                proc.send_signal(signal.SIGTERM)
                procs.append(proc)
        except psutil.Error:
            pass
    _gone, left = psutil.wait_procs(procs, timeout=5)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=5)
    for proc in procs:  # our own children: collect them so none lingers as a zombie
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)
    shutil.rmtree(folder, ignore_errors=True)
