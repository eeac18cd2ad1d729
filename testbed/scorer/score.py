"""Judge a drill from its record alone: the journal (<home>/journal.jsonl) and the mail ledger.

Milestones, measured from the first injection (t0):
  detected   the first alarm raised after t0                                  (TTD)
  mitigated  per class: every affected service passes k probes in a row for that class, counted
             from the first of them, after its last failure (a flapping service is not restored)
  resolved   every class mitigated and the live layout found normal by the runner (original
             roles, no temporary mailroots, configuration as provisioned) — a layout that only
             the final revert put right does not count                         (TTR)
A milestone that was reached within its limit passes; reached late, or not reached although the
drill ran past the limit, fails; not reached before a drill that ended early is unknown.

Overall score (0-100): 100, minus 25 per failed limit, minus 10 per unknown limit, minus 20 when
key users (VIP, paying) got service back after regular users, minus 10 plus 5 per lost message
(at most 40) when mail was lost, minus 10 when mail was duplicated; never below 0. A drill passes
when no limit failed or is unknown and no mail was lost or duplicated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from testbed.scorer.plan import Plan

Record = dict[str, Any]
CLASSES = ("vip", "paying", "regular")


@dataclass
class Milestone:
    name: str  # detected | mitigated:<class> | resolved
    actual: float | None  # seconds from t0
    limit: float | None
    verdict: str  # pass | fail | unknown | n/a


@dataclass
class Score:
    scenario: str
    chapter: str
    t0_wall: float | None
    milestones: list[Milestone]
    affected: list[str]
    key_users_first: bool | None
    mail: dict[str, int]
    outage_user_minutes: dict[str, float]
    grade: str
    score: int
    passed: bool
    commands: list[Record] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def milestone(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)


def _verdict(actual: float | None, limit: float | None, elapsed: float) -> str:
    if limit is None:
        return "n/a" if actual is None else "pass"
    if actual is not None:
        return "pass" if actual <= limit else "fail"
    return "fail" if elapsed > limit else "unknown"


def restored_at(probes: list[Record], k: int) -> float | None:
    """Time of the first of k oks in a row after the last failure (None: not restored)."""
    last_fail = max((i for i, p in enumerate(probes) if not p["ok"]), default=None)
    if last_fail is None:
        return probes[0]["mono"] if probes else None
    after = probes[last_fail + 1 :]
    return after[0]["mono"] if len(after) >= k else None


def score(journal: list[Record], ledger: list[Record], plan: Plan, frontends: int) -> Score:
    start = next((r for r in journal if r["event"] == "drill_start"), {})
    end = next((r for r in reversed(journal) if r["event"] == "drill_end"), None)
    injects = [r for r in journal if r["event"] == "inject"]
    chapter = str(start.get("chapter", "generic"))
    overrides = start.get("limits") or {}
    limits = plan.limits(chapter, frontends, overrides)
    notes: list[str] = []
    last_mono = journal[-1]["mono"] if journal else 0.0
    if not injects:
        notes.append("no fault was injected")
        t0 = start.get("mono", 0.0)
    else:
        t0 = injects[0]["mono"]
    elapsed = last_mono - t0
    probes = [r for r in journal if r["event"] == "probe" and r["mono"] >= t0]
    series: dict[tuple[str, str], list[Record]] = {}
    for p in probes:
        series.setdefault((p["service"], p["cls"]), []).append(p)
    affected = sorted({s for (s, _c), ps in series.items() if any(not p["ok"] for p in ps)})

    alarm = next(
        (
            r
            for r in journal
            if r["event"] == "alarm" and r.get("state") == "raised" and r["mono"] >= t0
        ),
        None,
    )
    ttd = None if alarm is None else alarm["mono"] - t0
    detected = Milestone(
        "detected", ttd, limits["detected"], _verdict(ttd, limits["detected"], elapsed)
    )
    milestones = [detected]
    ttm: dict[str, float | None] = {}
    for cls in CLASSES:
        times = [restored_at(series.get((s, cls), []), plan.k) for s in affected]
        if not affected:
            ttm[cls] = 0.0
        elif any(t is None for t in times):
            ttm[cls] = None
        else:
            ttm[cls] = max(0.0, max(t for t in times if t is not None) - t0)
        milestones.append(
            Milestone(
                f"mitigated:{cls}",
                ttm[cls],
                limits["mitigated"],
                _verdict(ttm[cls], limits["mitigated"], elapsed),
            )
        )
    ttr = None
    if all(v is not None for v in ttm.values()):
        ready = t0 + max(v for v in ttm.values() if v is not None)
        for r in journal:
            if (
                r["event"] == "layout"
                and r.get("normal")
                and r["mono"] >= ready
                and r.get("detail") != "after revert"
            ):
                ttr = r["mono"] - t0
                break
    if ttd is None and all(v is not None for v in ttm.values()):
        detected.verdict = "n/a"  # service came back before any alarm could be raised
        notes.append("restored before monitoring raised an alarm (detection not measurable)")
    milestones.append(
        Milestone("resolved", ttr, limits["resolved"], _verdict(ttr, limits["resolved"], elapsed))
    )

    key_first = _key_users_first(ttm, journal, float(start.get("interval", 1.0)))
    mail = _mail(ledger)
    interval = float(start.get("interval", 1.0))
    users = start.get("users_by_class") or {}
    outage = {
        cls: round(
            max(
                (sum(1 for p in series.get((s, cls), []) if not p["ok"]) for s in affected),
                default=0,
            )
            * interval
            * users.get(cls, 0)
            / 60.0,
            2,
        )
        for cls in CLASSES
    }
    failed = sum(m.verdict == "fail" for m in milestones)
    unknown = sum(m.verdict == "unknown" for m in milestones)
    points = 100 - 25 * failed - 10 * unknown
    points -= 20 if key_first is False else 0
    points -= min(40, 10 + 5 * mail["lost"]) if mail["lost"] else 0
    points -= 10 if mail["duplicate"] else 0
    if end is None:
        notes.append("the drill did not finish (no drill_end in the journal)")
    elif end.get("aborted"):
        notes.append(f"aborted: {end.get('reason')}")
    passed = not failed and not unknown and not mail["lost"] and not mail["duplicate"]
    passed = passed and end is not None and not end.get("aborted")
    commands = [r for r in journal if r["event"] in ("command", "runbook_step")]
    return Score(
        str(start.get("scenario", "?")),
        chapter,
        injects[0]["wall"] if injects else None,
        milestones,
        affected,
        key_first,
        mail,
        outage,
        plan.grade(ttr),
        max(0, points),
        passed,
        commands,
        notes,
    )


def _key_users_first(
    ttm: dict[str, float | None], journal: list[Record], interval: float
) -> bool | None:
    """VIP and paying users restored no later than regular ones (within one probe interval, the
    resolution of the measurement), and migrated first in the disk-array withdrawal."""
    regular = ttm.get("regular")
    keys = [ttm.get("vip"), ttm.get("paying")]
    verdict: bool | None = None
    if regular is not None and all(k is not None for k in keys):
        verdict = all(k is not None and k <= regular + interval for k in keys)
    order = [r.get("cls") for r in journal if r["event"] == "migrate"]
    if "regular" in order:  # the disk-array withdrawal: VIP/paying mail migrated first
        first_regular = order.index("regular")
        migrated_first = all(c == "regular" for c in order[first_regular:])
        verdict = migrated_first if verdict is None else verdict and migrated_first
    return verdict


def _mail(ledger: list[Record]) -> dict[str, int]:
    sent = [r for r in ledger if r["event"] == "sent"]
    count = {
        e: len({r["message_id"] for r in ledger if r["event"] == e})
        for e in ("delivered", "bounced", "lost", "duplicate")
    }
    return {
        "sent": len(sent),
        "accepted": sum(r.get("outcome") == "accepted" for r in sent),
        **count,
    }
