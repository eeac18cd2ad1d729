"""Running a command "on" a node with the local backend: the node's commands on PATH, its root as
the working folder and, when the system allows, its files at the plan's absolute paths (a private
mount namespace). Other backends say how they do it in Backend.node_command()."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from testbed.home import Home
from testbed.nodecmd import bin_dirs

# Node folders shown at the plan's absolute paths inside `exec`/`shell` (a private mount namespace)
PLAN_PATHS = ("opt", "var/log", "home")


@functools.cache
def _can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def node_command(home: Home, node: str, argv: list[str]) -> tuple[list[str], dict[str, str], Path]:
    """The argv, environment and cwd that run `argv` "on" a node: its commands on PATH, its root as
    the working folder, and (when the system allows) its files at the plan's absolute paths."""
    home.topology.node(node)  # unknown node → error listing the nodes
    root = home.node_root(node)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*bin_dirs(home, node), env.get("PATH", "")])
    env.update(MAILDRILL_HOME=str(home.root), MAILDRILL_NODE=node, PS1=f"[{node} \\W]# ")
    binds = [
        p
        for p in PLAN_PATHS
        if (root / p).is_dir() and Path("/", p).is_dir() and not sys.executable.startswith(f"/{p}/")
    ]
    if not binds or not _can_unshare():
        return argv, env, root
    mounts = " && ".join(f"mount --bind '{root / p}' '/{p}'" for p in binds)
    script = f'{mounts} && cd "$MAILDRILL_NODE_ROOT" && exec "$@"'
    env["MAILDRILL_NODE_ROOT"] = str(root)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv], env, root
