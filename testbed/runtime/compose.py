"""`maildrill compose`: the docker backend's testbed as a compose file, for people who prefer
`docker compose up -d` to `maildrill up --backend docker`.

The home folder is provisioned exactly as `up` does it and remembered as a docker testbed, and each
container is described by the same spec the backend hands the engine (DockerBackend.node_spec), so
what compose starts is the same testbed: `maildrill status`, `check`, `exec`, faults, drills and
`down` (which removes the containers and network by their label) all work on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from testbed.runtime.docker_backend import IMAGE, LABEL, DockerBackend


def compose_document(backend: DockerBackend) -> dict[str, Any]:
    net = backend.network_spec()
    services: dict[str, Any] = {}
    for node in backend.container_nodes():
        spec = backend.node_spec(node)
        service: dict[str, Any] = {
            "image": IMAGE,
            "container_name": spec["name"],
            "hostname": spec["hostname"],
            "command": spec["command"],
            "working_dir": spec["working_dir"],
            "environment": spec["environment"],
            "labels": spec["labels"],
            "pid": "host",  # pid files in the shared home mean the same process everywhere
            "volumes": [{"type": "bind", "source": spec["home"], "target": spec["home"]}],
            "networks": {"testbed": {"ipv4_address": spec["address"]}},
            "stop_grace_period": "5s",
        }
        if spec["cap_add"]:
            service["cap_add"] = spec["cap_add"]
        services[node] = service
    return {
        "services": services,
        "networks": {
            "testbed": {
                "name": net["name"],
                "driver": "bridge",
                "labels": {LABEL: str(backend.home.root)},
                "ipam": {"config": [{"subnet": net["subnet"], "gateway": net["gateway"]}]},
            }
        },
    }


def write_compose(
    backend: DockerBackend, topology: Path | None, users: int, seed: int, out: Path
) -> Path:
    backend.provision_only(backend.client(), topology, users, seed)
    document = compose_document(backend)
    net = backend.network_spec()["name"]
    header = (
        "# written by `maildrill compose` for the testbed in "
        f"{backend.home.root}\n# start: docker compose -p {net} -f {out} up -d   "
        "(stop: maildrill --home ... down)\n"
    )
    out.write_text(header + yaml.safe_dump(document, sort_keys=False, width=100))
    return out
