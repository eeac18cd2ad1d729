"""Files the plan names on the webservers, written at provisioning (every web node, backup too).

<node root>/opt/aimc/webroot/               the WebMail pages (see pages.DEFAULT_WEBROOT)
<node root>/opt/aimc/webroot.<date>.tar     the dated backup: `cd /opt/aimc && tar xvf webroot.<date>.tar`
                                            restores webroot/... in place (plan's webserver chapter)
<node root>/opt/aimc/aimc.ini               where the UAS servers are, same file as on the front ends
<node root>/var/log/httpd/                  access_log, admin_access_log
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from testbed.components.frontend_config import aimc_ini
from testbed.components.web.pages import write_default_webroot
from testbed.home import Home
from testbed.topology.model import Topology


def backup_tarball(home: Home, topology: Topology, node: str) -> Path:
    date = topology.spec.web.webroot_backup_date
    return home.node_root(node) / "opt" / "aimc" / f"webroot.{date}.tar"


def provision_web(home: Home, topology: Topology) -> None:
    ini = aimc_ini(topology)
    for node in topology.nodes_with_role("web"):
        aimc = home.node_root(node.name) / "opt" / "aimc"
        webroot = aimc / "webroot"
        write_default_webroot(webroot)
        (aimc / "aimc.ini").write_text(ini)
        (home.log_dir(node.name) / "httpd").mkdir(parents=True, exist_ok=True)
        tarball = backup_tarball(home, topology, node.name)
        tmp = tarball.with_suffix(".tmp")
        # relative "webroot/..." member names, so extracting in /opt/aimc puts them back in place
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            tar.add(webroot, arcname="webroot")
        tmp.replace(tarball)
