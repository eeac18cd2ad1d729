"""Nothing is ever left broken: the CLI commands, `--for` with a signal, and kill -9 of a process
holding three faults followed by `maildrill doctor`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from integration_support import Testbed as Bed  # noqa: E402
from integration_support import eventually  # noqa: E402

from testbed.components import array  # noqa: E402
from testbed.faults import journal  # noqa: E402
from testbed.faults.ledger import Ledger  # noqa: E402
from testbed.home import Home  # noqa: E402

NETWORK = "127.0.29.0/24"


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    tb = Bed(tmp_path_factory.mktemp("recovery"), NETWORK, users=30, frontends={"count": 1})
    try:
        tb.up()
        yield tb
    finally:
        tb.down()


def home_of(bed: Bed) -> Home:
    return Home(bed.root / "home")


def stopped_services(bed: Bed) -> list[str]:
    out = []
    for s in json.loads(bed.cli("status", "--json").stdout)["services"]:
        try:
            if s["pid"] and psutil.Process(s["pid"]).status() == psutil.STATUS_STOPPED:
                out.append(f"{s['node']}/{s['service']}")
        except psutil.NoSuchProcess:
            continue  # exited since `status` looked
    return out


def test_catalogue_lists_every_fault_with_description(bed: Bed) -> None:
    out = bed.cli("faults").stdout
    for name in ("process_kill", "process_hang", "crash_loop", "node_down", "array_offline"):
        assert name in out
    items = json.loads(bed.cli("faults", "--json").stdout)
    assert all(i["description"] and "params" in i for i in items)


def test_unknown_type_and_target_list_the_valid_ones(bed: Bed) -> None:
    bad = bed.cli("inject", "disk_on_fire", "--target", "fe01", check=False)
    assert bad.returncode == 1
    assert "unknown fault type 'disk_on_fire'" in bad.stderr and "process_kill" in bad.stderr
    bad = bed.cli("inject", "process_kill", "--target", "fe99/mta", check=False)
    assert bad.returncode == 1 and "fe01/mta" in bad.stderr and "fe99/mta" in bad.stderr
    bad = bed.cli("inject", "array_offline", "--param", "speed=3", check=False)
    assert bad.returncode == 1 and "speed" in bad.stderr
    bad = bed.cli("revert", "nosuch-1234", check=False)
    assert bad.returncode == 1 and "no active fault" in bad.stderr
    assert Ledger(home_of(bed)).entries() == []


def test_refuses_what_the_testbed_does_not_run(bed: Bed) -> None:
    # The cold standby is not running: there is nothing of ours to kill.
    bad = bed.cli("inject", "lb_unit_down", "--target", "alteon180e", check=False)
    assert bad.returncode == 1 and "not running" in bad.stderr
    assert Ledger(home_of(bed)).entries() == []


def test_inject_revert_by_id_through_the_cli(bed: Bed) -> None:
    proc = bed.cli("inject", "array_offline")
    fault_id = proc.stdout.strip()
    assert fault_id.startswith("array_offline-") and "io_error" in proc.stderr
    assert array.read_array(home_of(bed))["status"] == "offline"
    assert bed.cli("revert", fault_id).stdout.strip() == f"reverted {fault_id}"
    assert array.read_array(home_of(bed))["status"] == "online"
    assert bed.cli("revert", "--all").stdout.strip() == "no active faults"


def test_inject_for_reverts_on_its_own(bed: Bed) -> None:
    proc = bed.cli("inject", "hba_path_down", "--target", "mss1", "--for", "0.5s")
    fault_id = proc.stdout.strip()
    assert f"reverted {fault_id}" in proc.stderr
    assert array.read_array(home_of(bed))["paths"]["mss1"] == "up"
    events = [e["event"] for e in journal.read(home_of(bed)) if e.get("id") == fault_id]
    assert events == ["inject", "effect_check", "revert"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_inject_for_reverts_on_a_signal(bed: Bed, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "inject", "process_hang", "-t", "fe01/pop3"]
        + ["--for", "120s"],
        env=bed.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        fault_id = proc.stdout.readline().strip()  # printed once injected
        assert fault_id.startswith("process_hang-")
        assert stopped_services(bed) == ["fe01/pop3"]
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and f"reverted {fault_id} (interrupted)" in err
    assert stopped_services(bed) == []
    assert Ledger(home_of(bed)).entries() == []


HOLDER = textwrap.dedent(
    """
    import sys, time
    from testbed.faults import injector
    from testbed.home import Home
    home = Home(sys.argv[1])
    for kind, target in [("process_kill", "fe01/pop3"), ("process_hang", "fe01/imap"),
                         ("array_offline", None)]:
        print(injector.inject(home, kind, target), flush=True)
    time.sleep(600)
    """
)


def test_kill9_of_the_injector_then_doctor_leaves_nothing(bed: Bed) -> None:
    home = home_of(bed)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home.root)],
        env=bed.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        ids = [holder.stdout.readline().strip() for _ in range(3)]
        assert all(ids), ids
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    # The three faults outlive their injector...
    assert sorted(e.id for e in Ledger(home).entries()) == sorted(ids)
    assert stopped_services(bed) == ["fe01/imap"]
    assert array.read_array(home)["status"] == "offline"
    # ...until the doctor finds and undoes them.
    repaired = bed.cli("doctor").stdout
    assert all(i in repaired for i in ids), repaired
    assert Ledger(home).entries() == []
    assert stopped_services(bed) == []
    assert array.read_array(home)["status"] == "online"
    assert json.loads(bed.cli("status", "--json").stdout)["up"]
    assert bed.cli("doctor").stdout.strip() == "nothing to repair"
    # The load balancer notices the restarted front-end services at its next health check.
    assert eventually(lambda: bed.cli("check", check=False).returncode == 0, timeout=60)
    events = journal.read(home)
    for fault_id in ids:
        kinds = [e["event"] for e in events if e.get("id") == fault_id]
        assert kinds.count("inject") == 1 and kinds.count("revert") == 1, kinds


def test_doctor_repairs_damage_done_outside_the_injector(bed: Bed) -> None:
    """A hand-made mess (kill -STOP, a dead service, a broken HBA path) is found too."""
    home = home_of(bed)
    bed.cli("kill", "fe01", "mta", "--signal", "STOP")
    bed.cli("kill", "oradb", "acctdb", "--signal", "KILL")
    array.set_path(home, "mss0", up=False)
    repaired = bed.cli("doctor").stdout
    assert "SIGCONT fe01/mta" in repaired
    assert "started oradb/acctdb" in repaired
    assert "HBA path mss0 → up" in repaired
    assert json.loads(bed.cli("status", "--json").stdout)["up"]
    assert stopped_services(bed) == []
