"""The docker backend end to end: every node a container on a network the testbed creates, the same
CLI contract (up, status, endpoints, users, exec, check, faults, down) and nothing left after down.

Needs a running Docker engine and the node image (`make base-image image`). Without them the tests
skip — unless MAILDRILL_DOCKER_TESTS=1 (CI sets it), which turns a missing engine into a failure.
"""

from __future__ import annotations

import imaplib
import json
import smtplib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dockerkit import REQUIRED, engine_ready, md, own_objects

NETWORK = "127.0.44.0/24"  # moved to 10.231.44.0/24 by the docker backend


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    why = engine_ready()
    if why is not None:
        if REQUIRED:
            pytest.fail(why)
        pytest.skip(why)
    root = tmp_path_factory.mktemp("docker")
    topology = root / "topology.yaml"
    topology.write_text(f"network: {NETWORK}\n")
    home = root / "home"
    try:
        md(home, "up", "--backend", "docker", "--topology", str(topology), "--users", "40")
        yield home
    finally:
        md(home, "down", check=False)
    assert own_objects(home) == ([], []), "containers or networks left after down"


def test_every_node_is_a_container_on_the_testbeds_network(home: Path) -> None:
    containers, networks = own_objects(home)
    status = json.loads(md(home, "status", "--json").stdout)["services"]
    nodes = {s["node"] for s in status}
    assert len(containers) == len(nodes) >= 15 and len(networks) == 1
    assert all(s["address"].startswith("10.231.44.") for s in status)
    endpoints = json.loads(md(home, "endpoints", "--json").stdout)
    assert endpoints["smtp"] == "10.231.44.1:2525"


def test_mail_through_the_vip_with_real_clients(home: Path) -> None:
    users = json.loads(md(home, "users", "--limit", "2", "--json").stdout)
    sender, rcpt = users[0], users[1]
    endpoints = json.loads(md(home, "endpoints", "--json").stdout)
    host, port = endpoints["submission"].split(":")
    subject = f"docker {time.time()}"
    with smtplib.SMTP(host, int(port), timeout=15) as smtp:
        smtp.starttls()
        smtp.login(sender["address"], sender["password"])
        smtp.sendmail(sender["address"], [rcpt["address"]], f"Subject: {subject}\r\n\r\nhi\r\n")
    host, port = endpoints["imap"].split(":")
    deadline = time.monotonic() + 15
    while True:
        box = imaplib.IMAP4(host, int(port), timeout=15)
        box.login(rcpt["address"], rcpt["password"])
        box.select("INBOX", readonly=True)
        found = box.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
        box.logout()
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert found


def test_exec_runs_in_the_nodes_container(home: Path) -> None:
    done = md(home, "exec", "uas0", "--", "ServicePool", "monitor", "aiuum")
    assert "CurrentProcessCount=2" in done.stdout
    assert (
        md(home, "exec", "fe01", "--", "sh", "-c", "hostname; exit 3", check=False).returncode == 3
    )
    assert md(home, "exec", "fe01", "--", "hostname").stdout.strip() == "fe01"


def test_faults_act_inside_containers_and_revert(home: Path) -> None:
    done = md(home, "inject", "mss_process_dead", "--target", "m1")
    fid = done.stdout.split()[0]
    assert "MAPIc read: unavailable" in done.stderr, done.stderr
    md(home, "revert", fid)
    assert "round trip ok" in md(home, "check").stdout


def test_node_freeze_pauses_the_container_and_doctor_thaws_it(home: Path) -> None:
    import docker

    client = docker.from_env()
    web1 = client.containers.list(
        filters={"label": [f"org.maildrill.home={home}", "org.maildrill.node=web1"]}
    )[0]
    done = md(home, "inject", "node_freeze", "--target", "web1")
    fid = done.stdout.split()[0]
    assert "does not answer" in done.stderr, done.stderr
    web1.reload()
    assert web1.status == "paused"
    md(home, "revert", fid)
    web1.reload()
    assert web1.status == "running"
    web1.pause()  # left behind with no ledger entry: doctor finds the paused container
    assert "thawed node web1" in md(home, "doctor").stdout
    web1.reload()
    assert web1.status == "running"
    assert "round trip ok" in md(home, "check").stdout


def netns_rules(home: Path, node: str) -> str:
    import docker

    container = docker.from_env().containers.list(
        filters={"label": [f"org.maildrill.home={home}", f"org.maildrill.node={node}"]}
    )[0]
    pid = str(container.attrs["State"]["Pid"])
    cmd = ["nsenter", "-t", pid, "-n", "iptables", "-w", "-S", "OUTPUT"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_link_partition_is_an_iptables_rule_in_the_containers(home: Path) -> None:
    done = md(home, "inject", "link_partition", "--target", "fe01<->uas0")
    fid = done.stdout.split()[0]
    assert "(iptables): timeout" in done.stderr, done.stderr
    assert "maildrill:link-" in netns_rules(home, "fe01")
    assert "maildrill:link-" in netns_rules(home, "uas0")  # both directions
    md(home, "revert", fid)
    assert "maildrill:" not in netns_rules(home, "fe01") + netns_rules(home, "uas0")
    # a rule with no ledger entry (as after a crash between iptables and the ledger): doctor
    md(home, "inject", "link_reset", "--target", "fe02->uas1")
    ledger = home / "faults" / "ledger"
    for entry in ledger.glob("*"):
        entry.unlink()
    assert "maildrill:link-" in netns_rules(home, "fe02")
    assert "removed iptables rule on fe02" in md(home, "doctor").stdout
    assert "maildrill:" not in netns_rules(home, "fe02")
    assert "round trip ok" in md(home, "check").stdout
