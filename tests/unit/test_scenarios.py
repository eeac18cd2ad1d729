"""Scenario files: the shipped ones validate; broken ones get file, line and field — all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.drill.scenario import check_scenario, json_schema

SHIPPED = sorted(
    p for p in (Path(__file__).parents[2] / "scenarios").glob("*.yaml") if p.name != "plan.yaml"
)
GOOD = """\
name: ok
description: a scenario
chapter: mss
faults:
  - type: mss_process_dead
    target: m1
    schedule: {at: 10s, until_repaired: true}
"""


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_validate(path):
    scenario, errors = check_scenario(path)
    assert not errors, [str(e) for e in errors]
    assert scenario is not None and scenario.description


def test_one_scenario_per_plan_chapter_is_shipped():
    chapters = {check_scenario(p)[0].chapter for p in SHIPPED}  # type: ignore[union-attr]
    assert {"webserver", "uas", "mss", "disk_array", "network", "dns", "load"} <= chapters
    assert len(SHIPPED) >= 12


BROKEN = [
    ("not yaml", "name: [unclosed\n", 2, "", "not valid YAML"),
    ("missing name", GOOD.replace("name: ok\n", ""), 1, "name", "Field required"),
    ("bad name", GOOD.replace("name: ok", "name: Not OK"), 1, "name", "should match pattern"),
    ("typo field", GOOD + "fautls: []\n", 8, "fautls", "Extra inputs are not permitted"),
    (
        "unknown chapter",
        GOOD.replace("chapter: mss", "chapter: plumbing"),
        3,
        "chapter",
        "Input should be",
    ),
    ("no faults", GOOD.split("faults:")[0] + "faults: []\n", 4, "faults", "at least 1 item"),
    (
        "unknown type",
        GOOD.replace("mss_process_dead", "mss_on_fire"),
        5,
        "faults.0.type",
        "fault types are: aimc_ini_dead_uas, array_offline",
    ),
    (
        "unknown target",
        GOOD.replace("target: m1", "target: m9"),
        6,
        "faults.0.target",
        "valid targets: m0, m1",
    ),
    (
        "bad duration",
        GOOD.replace("at: 10s", "at: 10 parsecs"),
        7,
        "faults.0.schedule.at",
        "not a duration",
    ),
    (
        "both ends",
        GOOD.replace("until_repaired: true", "until_repaired: true, duration: 5s"),
        7,
        "faults.0.schedule",
        "either duration or until_repaired",
    ),
    (
        "repeat without every",
        GOOD.replace("until_repaired: true", "repeat: 3, duration: 5s"),
        7,
        "faults.0.schedule",
        "needs `every`",
    ),
    (
        "bad probability",
        GOOD.replace("at: 10s", "at: 10s, probability: 1.5"),
        7,
        "faults.0.schedule.probability",
        "less than or equal to 1",
    ),
    (
        "unknown param",
        GOOD + "    params: {colour: red}\n",
        8,
        "faults.0.params.colour",
        "Extra inputs",
    ),
    (
        "bad service",
        GOOD + "probes: {services: [smtp, gopher]}\n",
        8,
        "probes.services.1",
        "Input should be",
    ),
    (
        "response both",
        GOOD + "response: {automation: x.sh, people: true}\n",
        8,
        "response",
        "either automation",
    ),
    ("missing topology", GOOD + "topology: nowhere.yaml\n", 8, "topology", "cannot read"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_scenarios_name_file_line_and_field(tmp_path, text, line, field, message):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    scenario, errors = check_scenario(path)
    assert scenario is None and errors
    first = errors[0]
    assert (first.file, first.line, first.field) == (str(path), line, field), str(first)
    assert message in str(first)


def test_every_error_is_reported_not_only_the_first(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(GOOD.replace("target: m1", "target: m9") + "  - type: nope\n")
    _scenario, errors = check_scenario(path)
    assert [e.field for e in errors] == ["faults.0.target", "faults.1.type"]


def test_json_schema_lists_the_fault_types():
    schema = json_schema()
    assert "mss_process_dead" in schema["$defs"]["FaultSpec"]["properties"]["type"]["enum"]
