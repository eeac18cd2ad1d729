"""The scorer judges from synthetic journals whose truth is known."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from testbed.errors import ConfigError
from testbed.scorer.plan import load_plan
from testbed.scorer.reports import write_reports
from testbed.scorer.score import score

CLASSES = ("vip", "paying", "regular")


def journal(
    fault_at=10.0,
    down_until=None,
    flaps=(),
    layout_at=None,
    end=120.0,
    services=("smtp", "imap"),
    interval=1.0,
    alarm_after=2.0,
    per_class=None,
):
    """Probes every `interval` s; each service fails from fault_at until down_until (class
    specific via per_class), plus failures at the times in `flaps`."""
    recs = [
        {
            "event": "drill_start",
            "mono": 0.0,
            "wall": 1000.0,
            "scenario": "s",
            "chapter": "mss",
            "interval": interval,
            "users_by_class": {"vip": 10, "paying": 20, "regular": 70},
        },
        {"event": "inject", "mono": fault_at, "wall": 1000.0 + fault_at, "id": "f-1"},
    ]
    t = 0.0
    while t <= end:
        for s in services:
            for c in CLASSES:
                until = (per_class or {}).get(c, down_until)
                down = until is not None and fault_at <= t < until
                recs.append(
                    {
                        "event": "probe",
                        "mono": t,
                        "wall": 1000 + t,
                        "service": s,
                        "cls": c,
                        "ok": not down and t not in flaps,
                    }
                )
        t += interval
    recs.append(
        {
            "event": "alarm",
            "mono": fault_at + alarm_after,
            "wall": 0,
            "state": "raised",
            "name": "transaction_failed:imap",
        }
    )
    if layout_at is not None:
        recs.append({"event": "layout", "mono": layout_at, "wall": 0, "normal": True, "detail": ""})
    recs.append({"event": "drill_end", "mono": end, "wall": 0, "aborted": False, "reason": ""})
    return sorted(recs, key=lambda r: r["mono"])


def judge(recs, ledger=(), frontends=4):
    return score(recs, list(ledger), load_plan(), frontends)


def test_calibration_ttm_within_one_probe_interval_of_the_truth():
    truth = 47.3 - 10.0  # the fault reverted itself 37.3 s after injection
    result = judge(journal(down_until=47.3, layout_at=60.0))
    for cls in CLASSES:
        ttm = result.milestone(f"mitigated:{cls}").actual
        assert abs(ttm - truth) <= 1.0, (cls, ttm)
    assert result.milestone("detected").actual == pytest.approx(2.0)
    assert result.passed and result.score == 100


def test_flapping_service_is_not_restored_until_k_in_a_row():
    # back at 30 s but failing again at 32 and 34: restored only from 35 on (k=3 after the flap)
    result = judge(journal(down_until=30.0, flaps=(32.0, 34.0), layout_at=60.0))
    assert result.milestone("mitigated:vip").actual == pytest.approx(35.0 - 10.0)


def test_slow_response_misses_its_limit_and_fails():
    result = judge(journal(down_until=10.0 + 700, layout_at=800.0, end=900.0))
    m = result.milestone("mitigated:regular")
    assert m.verdict == "fail" and m.actual == pytest.approx(700.0)
    assert not result.passed and result.score < 100


def test_no_withdrawal_means_not_resolved():
    result = judge(journal(down_until=30.0, layout_at=None))
    assert result.milestone("resolved").actual is None
    assert result.milestone("resolved").verdict == "unknown"  # the drill ended before the MTTR
    assert not result.passed
    after_revert_only = journal(down_until=30.0)
    after_revert_only.insert(
        -1, {"event": "layout", "mono": 119.0, "wall": 0, "normal": True, "detail": "after revert"}
    )
    assert judge(after_revert_only).milestone("resolved").actual is None


def test_key_users_first():
    first = judge(journal(per_class={"vip": 20.0, "paying": 25.0, "regular": 40.0}, layout_at=60.0))
    assert first.key_users_first is True
    last = judge(journal(per_class={"vip": 40.0, "paying": 25.0, "regular": 20.0}, layout_at=60.0))
    assert last.key_users_first is False and last.score == 80


def test_lost_and_duplicated_mail():
    ledger = [{"event": "sent", "message_id": f"<{i}>", "outcome": "accepted"} for i in range(5)]
    ledger += [{"event": "delivered", "message_id": f"<{i}>"} for i in range(3)]
    ledger += [
        {"event": "lost", "message_id": "<3>"},
        {"event": "bounced", "message_id": "<4>"},
        {"event": "duplicate", "message_id": "<0>"},
    ]
    result = judge(journal(down_until=30.0, layout_at=60.0), ledger)
    assert result.mail["lost"] == 1 and result.mail["duplicate"] == 1
    assert result.mail["bounced"] == 1 and not result.passed


def test_uas_limit_grows_with_the_front_ends():
    plan = load_plan()
    assert plan.limits("uas", 10)["mitigated"] == 20 * 60
    assert plan.limits("disk_array", 4)["mitigated"] == 17 * 60


def test_reports_are_written_and_well_formed(tmp_path):
    recs = journal(down_until=30.0, layout_at=60.0)
    paths = write_reports(judge(recs), recs, tmp_path)
    suite = ET.parse(paths["junit"]).getroot()
    names = [c.get("name") for c in suite.iter("testcase")]
    assert any(n.startswith("mitigated:vip (limit 10.0 min, actual 20.0 s)") for n in names)
    page = paths["html"].read_text()
    assert "<svg" in page
    for heading in (
        "Summary",
        "Impact",
        "Root cause",
        "Trigger",
        "Resolution",
        "Detection",
        "Action items",
        "Timeline",
    ):
        assert f"<h3>{heading}</h3>" in page
    assert page.count("<li class=fill>") >= 3
    assert "maildrill_drill_score" in paths["prometheus"].read_text()


def test_plan_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "plan.yaml"
    bad.write_text("k: 3\nchapters:\n  mss:\n    mitigated: ten minutes\n")
    with pytest.raises(ConfigError) as err:
        load_plan(bad)
    assert err.value.line == 4 and err.value.field == "chapters.mss.mitigated"
