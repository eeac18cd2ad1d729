"""The mss process's configuration files on every MSS node, as the plan names them.

    /opt/aimc/<mailroot>/config/mss.ini      MailDir=/mnt/array/<mailroot>  (the LUN on the array)
    /opt/aimc/<mailroot>/config/mss_yj.ini   MailDir=/home/m0 or /home1/<mailroot> (the emergency
                                             variant: a temporary mailroot on the node's local disk)
    /var/log/restart.log                     one line per mss start, which the plan says to watch

The mss process reads MailDir at start, so the disk-array chapter (copy mss_yj.ini over mss.ini,
restart mss) and the "mss.ini with a wrong MailDir" fault act on the real thing.
"""

from __future__ import annotations

import configparser
import time
from dataclasses import dataclass
from pathlib import Path

from testbed.errors import MaildrillError
from testbed.home import Home
from testbed.topology.model import Topology

ARRAY_MOUNT = "/mnt/array/"


@dataclass
class MailDir:
    configured: str  # as written in mss.ini
    path: Path  # where it lives in the testbed
    on_array: bool


def config_dir(home: Home, node: str, mailroot: str) -> Path:
    return home.node_root(node) / "opt" / "aimc" / mailroot / "config"


def temp_mailroot(topology: Topology, mailroot: str) -> str:
    """The plan's temporary mailroots: /home/m0 for the first, /home1/<mailroot> for the rest."""
    return f"/home/{mailroot}" if mailroot == topology.mailroots[0] else f"/home1/{mailroot}"


def _ini(mailroot: str, maildir: str, port: int) -> str:
    return f"[MSS]\nMailRoot={mailroot}\nMailDir={maildir}\nPort={port}\n"


def provision_mss_config(home: Home, topology: Topology) -> None:
    for node in topology.spec.mss.nodes:
        for root in topology.mailroots:
            folder = config_dir(home, node, root)
            folder.mkdir(parents=True, exist_ok=True)
            port = topology.mss_port(root)
            (folder / "mss.ini").write_text(_ini(root, f"{ARRAY_MOUNT}{root}", port))
            (folder / "mss_yj.ini").write_text(_ini(root, temp_mailroot(topology, root), port))


def read_maildir(home: Home, node: str, mailroot: str) -> MailDir:
    ini = config_dir(home, node, mailroot) / "mss.ini"
    parser = configparser.ConfigParser()
    try:
        parser.read_string(ini.read_text())
        configured = parser["MSS"]["MailDir"].strip()
    except (OSError, KeyError, configparser.Error) as exc:
        raise MaildrillError(f"{ini}: no [MSS] MailDir ({exc})") from exc
    if configured.startswith(ARRAY_MOUNT):
        path, on_array = home.luns / configured[len(ARRAY_MOUNT) :], True
    else:
        path, on_array = home.node_root(node) / configured.lstrip("/"), False
    if not path.is_dir():
        raise MaildrillError(f"MailDir {configured} does not exist")
    return MailDir(configured, path, on_array)


def log_restart(home: Home, node: str, line: str) -> None:
    log = home.log_dir(node) / "restart.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"{time.strftime('%Y/%m/%d %H:%M:%S')} {line}\n")
