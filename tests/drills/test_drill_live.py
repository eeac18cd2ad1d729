"""Whole drills through the CLI: a runbook that meets the plan passes; a slow one fails on its
limit; one that skips the withdrawal never reaches "resolved". Each drill brings its own testbed
up (on this module's network) and down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml

from testbed.home import Home
from testbed.runtime.local import LocalBackend

RUNBOOKS = Path(__file__).parents[2] / "scenarios" / "runbooks"
NETWORK = "127.0.39.0/24"


def scenario(tmp_path: Path, automation: str, **extra: object) -> Path:
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump({"network": NETWORK}))
    spec = {
        "name": "mss-drill",
        "description": "the mss process of m1 dies",
        "chapter": "mss",
        "topology": "topology.yaml",
        "users": {"count": 60, "seed": 2},
        "load": {"rate": 1},
        "faults": [
            {
                "type": "mss_process_dead",
                "target": "m1",
                "schedule": {"at": "3s", "until_repaired": True},
            }
        ],
        "response": {"automation": automation},
        **extra,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def drill(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "testbed.cli",
            "--home",
            str(tmp_path / "home"),
            "drill",
            str(path),
            "--auto",
            "--report",
            str(tmp_path / "reports"),
            "--junit",
            str(tmp_path / "junit.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )


def test_runbook_meets_the_plan(tmp_path):
    out = drill(tmp_path, scenario(tmp_path, str(RUNBOOKS / "mss.sh")))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASSED" in out.stdout and "lost': 0" in out.stdout
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("failures") == "0"
    assert (tmp_path / "reports" / "mss-drill" / "report.html").exists()
    assert not LocalBackend(Home(tmp_path / "home")).is_up()  # its testbed is down again


def test_slow_runbook_misses_its_limit(tmp_path):
    slow = tmp_path / "slow.sh"
    slow.write_text(f"#!/bin/sh\nsleep 8\nexec bash {RUNBOOKS / 'mss.sh'}\n")
    out = drill(tmp_path, scenario(tmp_path, str(slow), limits={"mitigated": "5s"}))
    assert out.returncode == 1, out.stdout + out.stderr
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert any(name.startswith("mitigated:") for name in failed), failed


def test_runbook_without_withdrawal_is_not_resolved(tmp_path):
    lazy = tmp_path / "lazy.sh"
    lazy.write_text(
        "#!/bin/sh\nset -e\necho 'STEP: hagrp -switch m1 -to mss2'\n"
        "maildrill exec mss2 -- hagrp -switch m1 -to mss2\n"
    )
    out = drill(tmp_path, scenario(tmp_path, str(lazy), abort={"after": "40s"}))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "resolved" in out.stdout and "abort.after" in out.stdout
    resolved = [line for line in out.stdout.splitlines() if line.strip().startswith("resolved")]
    assert resolved and "—" in resolved[0]
