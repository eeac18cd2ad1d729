"""The plan file (scenarios/plan.yaml): limits per chapter, k, MTTR, grades, thresholds."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from testbed.faults.base import Duration, Strict
from testbed.yamlsource import load, validate

DEFAULT_PLAN = Path(__file__).parents[2] / "scenarios" / "plan.yaml"


class Chapter(Strict):
    detected: Duration | None = None
    mitigated: Duration | None = None
    mitigated_per_frontend: Duration | None = None
    decision_point: Duration | None = None
    temp_mailroot_check: Duration | None = None
    resolved: Duration | None = None  # default: the plan's MTTR


class Grades(Strict):
    red: Duration = 30 * 60.0
    orange: Duration = 2 * 3600.0
    yellow: Duration = 8 * 3600.0
    blue: Duration = 24 * 3600.0


class Thresholds(Strict):
    queue: int = 1000
    disk_percent: float = 85.0
    ehlo_ms: float = 200.0


class Plan(Strict):
    k: int = Field(3, ge=1, le=50)
    mttr: Duration = 45 * 60.0
    grades: Grades = Field(default_factory=Grades)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    chapters: dict[str, Chapter] = Field(default_factory=dict)

    def limits(
        self, chapter: str, frontends: int, overrides: dict[str, float | None] | None = None
    ) -> dict[str, float | None]:
        """detected / mitigated / resolved limits in seconds for a chapter (None: no limit)."""
        c = self.chapters.get(chapter) or self.chapters.get("generic") or Chapter()
        mitigated = c.mitigated
        if c.mitigated_per_frontend is not None:
            mitigated = c.mitigated_per_frontend * frontends
        if c.decision_point is not None:
            mitigated = c.decision_point + (c.temp_mailroot_check or 0.0)
        out: dict[str, float | None] = {
            "detected": c.detected,
            "mitigated": mitigated,
            "resolved": c.resolved or self.mttr,
        }
        for name, value in (overrides or {}).items():
            if value is not None:
                out[name] = value
        return out

    def grade(self, seconds: float | None) -> str:
        if seconds is None:
            return "unresolved"
        for name in ("red", "orange", "yellow", "blue"):
            if seconds <= getattr(self.grades, name):
                return name
        return "beyond blue"


def load_plan(path: Path | None = None) -> Plan:
    path = path or DEFAULT_PLAN
    data, lines = load(path)
    return validate(Plan, data, lines, str(path))
